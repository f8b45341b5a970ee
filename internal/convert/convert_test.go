package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/policy"
	"modelgate/internal/safetensors"
	"modelgate/internal/scan"
)

// expectedTensor is what make_fixtures.py recorded from torch.load.
type expectedTensor struct {
	DType  string   `json:"dtype"`
	Shape  []uint64 `json:"shape"`
	SHA256 string   `json:"sha256"`
}

type expectedFile struct {
	Tensors map[string]expectedTensor `json:"tensors"`
	Aliases map[string]string         `json:"aliases"`
	Skipped []string                  `json:"skipped"`
	Key     string                    `json:"key"`
	Note    string                    `json:"note"`
	Error   string                    `json:"error"`
}

func loadExpected(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func testOptions(t testing.TB) Options {
	t.Helper()
	pol := policy.Default()
	th, _ := pol.FailOn()
	return Options{Scanner: scan.New(scan.Options{Policy: pol, NoHash: true, Jobs: 1}), Threshold: th}
}

// readOutput reads a converted file back with the safetensors reader and
// hashes each tensor's bytes.
func readOutput(t testing.TB, path string) (*safetensors.Header, map[string]expectedTensor) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	h, err := safetensors.ReadHeader(context.Background(), f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if ps := h.Validate(); len(ps) > 0 {
		t.Fatalf("%s: %v", path, ps)
	}
	if h.DataOffset%8 != 0 {
		t.Errorf("data starts at %d, not 8-byte aligned", h.DataOffset)
	}
	names := make([]string, len(h.Tensors))
	got := map[string]expectedTensor{}
	for i, ti := range h.Tensors {
		names[i] = ti.Name
		sum := sha256.New()
		if _, err := io.Copy(sum, io.NewSectionReader(f, h.DataOffset+int64(ti.Begin), int64(ti.End-ti.Begin))); err != nil {
			t.Fatal(err)
		}
		got[ti.Name] = expectedTensor{DType: string(ti.DType), Shape: ti.Shape, SHA256: hex.EncodeToString(sum.Sum(nil))}
	}
	return h, got
}

// checkFile compares a converted file with what torch.load gave.
func checkFile(t testing.TB, out string, want expectedFile, res *FileResult) {
	t.Helper()
	h, got := readOutput(t, out)
	for name, w := range want.Tensors {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: tensor %q missing", out, name)
		case g.DType != w.DType || !slices.Equal(g.Shape, w.Shape):
			t.Errorf("%s: %q is %s %v, want %s %v", out, name, g.DType, g.Shape, w.DType, w.Shape)
		case g.SHA256 != w.SHA256:
			t.Errorf("%s: %q bytes differ from torch.load's", out, name)
		}
	}
	for name := range got {
		if _, ok := want.Tensors[name]; !ok {
			t.Errorf("%s: unexpected tensor %q", out, name)
		}
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("metadata %v lacks format pt", h.Metadata)
	}
	for dropped, kept := range want.Aliases {
		if h.Metadata[dropped] != kept {
			t.Errorf("metadata[%q] = %q, want %q", dropped, h.Metadata[dropped], kept)
		}
		if res != nil && res.Aliases[dropped] != kept {
			t.Errorf("result aliases %v, want %q → %q", res.Aliases, dropped, kept)
		}
	}
	if len(h.Metadata) != 1+len(want.Aliases) {
		t.Errorf("metadata %v, want format and %d aliases", h.Metadata, len(want.Aliases))
	}
	if res != nil {
		var skipped []string
		for _, s := range res.Skipped {
			skipped = append(skipped, s.Name)
		}
		slices.Sort(skipped)
		if !slices.Equal(skipped, want.Skipped) && !(len(skipped) == 0 && len(want.Skipped) == 0) {
			t.Errorf("skipped %v, want %v", skipped, want.Skipped)
		}
		if res.Key != want.Key {
			t.Errorf("key %q, want %q", res.Key, want.Key)
		}
		if res.Tensors != len(want.Tensors) {
			t.Errorf("result says %d tensors, want %d", res.Tensors, len(want.Tensors))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	exp := loadExpected(t)
	ctx := context.Background()
	for name, raw := range exp {
		if !strings.HasSuffix(name, ".pt") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var want expectedFile
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			opts := testOptions(t)
			if strings.Contains(want.Note, "--key") && !strings.Contains(want.Note, "without --key") {
				opts.Key = want.Key
			}
			out := filepath.Join(t.TempDir(), "model.safetensors")
			res, err := File(ctx, filepath.Join("testdata", name), out, opts)
			if want.Error != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), want.Error) {
					t.Fatalf("err = %v, want a refusal mentioning %q", err, want.Error)
				}
				noLeftovers(t, filepath.Dir(out))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, out, want, res.Files[0])
			noLeftovers(t, filepath.Dir(out))
		})
	}
}

// noLeftovers checks that no temporary file stays behind.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".modelgate") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestShardedDir(t *testing.T) {
	var exp map[string]expectedFile
	if err := json.Unmarshal(loadExpected(t)["sharded"], &exp); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := Dir(context.Background(), "testdata/sharded", out, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != len(exp) {
		t.Fatalf("%d files converted, want %d", len(res.Files), len(exp))
	}
	for shard, want := range exp {
		sf := OutputName(shard)
		var fr *FileResult
		for _, f := range res.Files {
			if filepath.Base(f.Output) == sf {
				fr = f
			}
		}
		if fr == nil {
			t.Fatalf("no result for %s", sf)
		}
		checkFile(t, filepath.Join(out, sf), want, fr)
	}
	b, err := os.ReadFile(filepath.Join(out, STIndex))
	if err != nil {
		t.Fatal(err)
	}
	var idx shardIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	in, err := readIndex("testdata/sharded/" + PTIndex)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.WeightMap) != len(in.WeightMap) {
		t.Errorf("index maps %d names, the input %d", len(idx.WeightMap), len(in.WeightMap))
	}
	var total int64
	for name, file := range in.WeightMap {
		if idx.WeightMap[name] != OutputName(file) {
			t.Errorf("index: %q in %q, want %q", name, idx.WeightMap[name], OutputName(file))
		}
	}
	for _, f := range res.Files {
		total += f.Bytes
	}
	if got, _ := idx.Metadata["total_size"].(float64); int64(got) != total {
		t.Errorf("total_size %v, want %d", idx.Metadata["total_size"], total)
	}
	noLeftovers(t, out)

	// Converting again refuses to replace the outputs, unless forced.
	if _, err := Dir(context.Background(), "testdata/sharded", out, testOptions(t)); !errors.Is(err, ErrExists) {
		t.Errorf("second conversion: %v, want ErrExists", err)
	}
	opts := testOptions(t)
	opts.Force, opts.Sync = true, true
	if _, err := Dir(context.Background(), "testdata/sharded", out, opts); err != nil {
		t.Errorf("forced: %v", err)
	}
}

func TestSingleDir(t *testing.T) {
	var want expectedFile
	if err := json.Unmarshal(loadExpected(t)["tied.pt"], &want); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := Dir(context.Background(), "testdata/single", out, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(out, STWeights), want, res.Files[0])
	if _, err := Dir(context.Background(), "testdata", out, testOptions(t)); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("a folder without weights: %v", err)
	}
}

func TestOutputIsNotInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "model.safetensors")
	b, _ := os.ReadFile("testdata/tied.pt")
	os.WriteFile(in, b, 0o644)
	opts := testOptions(t)
	opts.Force = true
	if _, err := File(context.Background(), in, in, opts); err == nil || !strings.Contains(err.Error(), "replace the input") {
		t.Errorf("converting a file onto itself: %v", err)
	}
	if got, _ := os.ReadFile(in); string(got) != string(b) {
		t.Error("the input changed")
	}
}

func TestOutputName(t *testing.T) {
	for in, want := range map[string]string{
		"pytorch_model.bin":                "model.safetensors",
		"pytorch_model-00001-of-00002.bin": "model-00001-of-00002.safetensors",
		"weights.pt":                       "weights.safetensors",
		"ckpt":                             "ckpt.safetensors",
	} {
		if got := OutputName(in); got != want {
			t.Errorf("OutputName(%q) = %q, want %q", in, got, want)
		}
	}
}
