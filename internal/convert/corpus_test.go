package convert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
)

const corpus = "../../testdata/corpus"

// TestMaliciousRefused: every malicious PyTorch sample of the corpus is
// refused before anything is converted, with exactly the findings a scan
// of the file reports.
func TestMaliciousRefused(t *testing.T) {
	files, err := filepath.Glob(corpus + "/malicious/torch/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no malicious torch samples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			opts := testOptions(t)
			out := filepath.Join(t.TempDir(), "out.safetensors")
			_, err := File(context.Background(), f, out, opts)
			var sr *ScanRefusal
			if !errors.As(err, &sr) {
				t.Fatalf("err = %v, want a scan refusal", err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an output was written")
			}
			noLeftovers(t, filepath.Dir(out))
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			fi, _ := fh.Stat()
			want := opts.Scanner.ScanReader(context.Background(), f, fh, fi.Size(), "")
			got := sr.Files[0]
			if len(sr.Files) != 1 || got.Path != f {
				t.Fatalf("refusal names %d files, first %q", len(sr.Files), got.Path)
			}
			if key(got.Findings) != key(want.Findings) {
				t.Errorf("findings differ from the scan's:\n got %s\nwant %s", key(got.Findings), key(want.Findings))
			}
			if !strings.Contains(key(got.Findings), "critical") && !strings.Contains(key(got.Findings), "high") {
				t.Errorf("no failing finding in %s", key(got.Findings))
			}
		})
	}
}

func key(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Rule + "/" + f.Severity.String() + "/" + f.Member + "/" + f.Message + "; ")
	}
	return b.String()
}

// TestBenignCorpus: state dicts convert; checkpoints that hold more than
// tensors and containers are refused with the reason, though a scan
// passes them.
func TestBenignCorpus(t *testing.T) {
	cases := []struct{ file, want string }{
		{"benign/torch/mlp_state_dict.pt", ""},
		{"benign/torch/mlp_state_dict_legacy.pth", ""},
		{"benign/torch/cnn_state_dict.pt", ""},
		{"benign/torch/cnn_state_dict_legacy.pth", ""},
		{"benign/torch/seq_state_dict.pt", ""},
		{"benign/torch/seq_state_dict_legacy.pth", ""},
		{"benign/hf_repo/pytorch_model.bin", ""},
		{"benign/torch/mlp_whole_module.pt", "__main__.MLP is not needed to rebuild tensors"},
		{"benign/torch/cnn_whole_module_legacy.pt", "a legacy module record"},
		{"benign/torch/quantized_tensors.pt", "torch._utils._rebuild_qtensor is not needed"},
		{"benign/torch/sparse_tensors.pt", "torch._utils._rebuild_sparse_tensor is not needed"},
		{"benign/torch/training_checkpoint.ckpt", "argparse.Namespace is not needed"},
		{"benign/torch/tensors_many_dtypes.pt", "complex128 has no safetensors equivalent"},
		{"benign/torch/tensors_many_dtypes_legacy.pt", "complex128 has no safetensors equivalent"},
		{"benign/torch/cnn_traced.pt", "TorchScript"},
		{"benign/torch/adam_optimizer_state.pt", "not a string"},
	}
	for _, c := range cases {
		path := filepath.Join(corpus, c.file)
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			continue
		}
		t.Run(c.file, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model.safetensors")
			res, err := File(context.Background(), path, out, testOptions(t))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Files[0].Tensors == 0 {
					t.Error("no tensors written")
				}
				readOutput(t, out)
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a refusal mentioning %q", err, c.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an output was written")
			}
			noLeftovers(t, filepath.Dir(out))
		})
	}
}
