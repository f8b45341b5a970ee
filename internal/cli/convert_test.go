package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/convert"
	sft "modelgate/internal/safetensors"
)

const convertFixtures = "../convert/testdata"

func readSafetensors(t *testing.T, path string) *sft.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	h, err := sft.ReadHeader(t.Context(), f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if ps := h.Validate(); len(ps) > 0 {
		t.Fatalf("%s: %v", path, ps)
	}
	return h
}

func TestConvertFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tied.safetensors")
	code, stdout, stderr := run(t, nil, "convert", filepath.Join(convertFixtures, "tied.pt"), out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "verified") || !strings.Contains(stdout, "lm_head.weight is the same tensor as embed.weight") {
		t.Errorf("summary: %s", stdout)
	}
	h := readSafetensors(t, out)
	if h.Metadata["format"] != "pt" || h.Metadata["lm_head.weight"] != "embed.weight" {
		t.Errorf("metadata %v", h.Metadata)
	}
	// An existing output is not replaced without --force.
	code, _, stderr = run(t, nil, "convert", filepath.Join(convertFixtures, "tied.pt"), out)
	if code != ExitError || !strings.Contains(stderr, "--force") {
		t.Errorf("second run: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, nil, "convert", "--force", "-q", filepath.Join(convertFixtures, "tied.pt"), out)
	if code != ExitOK {
		t.Errorf("--force: exit %d, %s", code, stderr)
	}
}

func TestConvertDefaultsAndJSON(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, nil, "convert", "-f", "json", "--out", dir, filepath.Join(convertFixtures, "wrapped_model.pt"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res convert.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	f := res.Files[0]
	if f.Key != "model" || f.Output != filepath.Join(dir, "wrapped_model.safetensors") || len(f.Skipped) != 2 {
		t.Errorf("result %+v", f)
	}
	readSafetensors(t, f.Output)
	code, stdout, _ = run(t, nil, "convert", "-f", "json", "--key", "ema", "--out", dir, "--force", filepath.Join(convertFixtures, "wrapped_model.pt"))
	if code != ExitOK || !strings.Contains(stdout, `"key": "ema"`) {
		t.Errorf("--key ema: exit %d, %s", code, stdout)
	}
}

func TestConvertDir(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, nil, "convert", "--out", dir, filepath.Join(convertFixtures, "sharded"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		readSafetensors(t, filepath.Join(dir, name))
	}
	if !strings.Contains(stdout, convert.STIndex) {
		t.Errorf("summary: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, convert.STIndex)); err != nil {
		t.Error(err)
	}
}

// A dangerous checkpoint is refused with exactly the report scan gives.
func TestConvertRefusesWhatScanFails(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "corpus", "malicious", "torch", "legacy_injected.pth")
	for _, format := range []string{"text", "json"} {
		out := t.TempDir()
		code, stdout, stderr := run(t, nil, "convert", "-f", format, "--out", out, in)
		if code != ExitFindings || !strings.Contains(stderr, "nothing was converted") {
			t.Fatalf("exit %d, %s", code, stderr)
		}
		scode, sout, _ := run(t, nil, "scan", "-f", format, in)
		if scode != ExitFindings {
			t.Fatalf("scan exit %d", scode)
		}
		if stdout != sout {
			t.Errorf("%s: convert's report differs from scan's:\n%s\n---\n%s", format, stdout, sout)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("files were written: %v", ents)
		}
	}
}

func TestConvertRefusesOutsideTheAllowlist(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "corpus", "benign", "torch", "training_checkpoint.ckpt")
	code, _, stderr := run(t, nil, "convert", "--out", t.TempDir(), in)
	if code != ExitFindings || !strings.Contains(stderr, "argparse.Namespace is not needed") {
		t.Errorf("exit %d, %s", code, stderr)
	}
}

func TestConvertFromHub(t *testing.T) {
	srv, env := hubEnv(t, nil)
	files := map[string][]byte{"config.json": []byte(`{"model_type": "tiny"}`)}
	for _, name := range []string{"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"} {
		b, err := os.ReadFile(filepath.Join(convertFixtures, "sharded", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	if err := srv.Hub.Upload("models", "acme/tiny", files); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, env, "convert", "--out", out, "hf://acme/tiny")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "hf://acme/tiny/pytorch_model-00001-of-00002.bin") {
		t.Errorf("summary names local paths: %s", stdout)
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json" {
		t.Errorf("output folder holds %v", names)
	}

	// One file of a repository, named by its path.
	out = t.TempDir()
	code, _, stderr = run(t, env, "convert", "--out", out, "hf://acme/tiny/pytorch_model-00002-of-00002.bin")
	if code != ExitOK {
		t.Fatalf("one file: exit %d: %s", code, stderr)
	}
	readSafetensors(t, filepath.Join(out, "model-00002-of-00002.safetensors"))

	// A dangerous checkpoint is refused from its remote scan: nothing is
	// downloaded or written.
	bad, err := os.ReadFile(filepath.Join("..", "..", "testdata", "corpus", "malicious", "torch", "injected_data_pkl.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Hub.Upload("models", "acme/bad", map[string][]byte{"pytorch_model.bin": bad}); err != nil {
		t.Fatal(err)
	}
	out = t.TempDir()
	code, stdout, stderr = run(t, env, "convert", "--out", out, "hf://acme/bad")
	if code != ExitFindings || !strings.Contains(stdout, "PICKLE-DANGEROUS-GLOBAL") || !strings.Contains(stdout, "hf://acme/bad/pytorch_model.bin") {
		t.Errorf("exit %d, %s\n%s", code, stdout, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("files were written: %v", ents)
	}
	code, _, stderr = run(t, env, "convert", "hf://acme/tiny")
	if code != ExitError || !strings.Contains(stderr, "--out") {
		t.Errorf("no --out: exit %d, %s", code, stderr)
	}
}
