package fakehub

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOfficialJSClient holds the fake hub against a real client: the
// official @huggingface/hub package lists, reads info, lists files and
// downloads (following the LFS redirect, with Range) through it. .ci/run
// installs the package into testdata/jsclient; without node or the
// package the test is skipped.
func TestOfficialJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; this test runs the official JS client against the fake hub")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "jsclient"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@huggingface", "hub", "package.json")); err != nil {
		t.Skip("@huggingface/hub is not installed: run .ci/run, or npm ci --prefix internal/fakehub/testdata/jsclient")
	}
	s := newServer(t, Options{})
	must(t, s.Hub.Upload("models", "acme/gated", map[string][]byte{"a.txt": []byte("let me in")}))
	must(t, s.Hub.Configure("models", "acme/gated", Settings{Gated: "auto"}))

	cmd := exec.Command(node, "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HUB_URL="+s.URL, "HUB_TOKEN="+token)
	done := make(chan struct{})
	var outb []byte
	go func() { outb, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the JS client did not finish")
	}
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, outb)
	}
	var got struct {
		Models []struct{ Name, Sha, UpdatedAt string }
		Info   struct {
			Name, Sha string
			Gated     any
		}
		Files []struct {
			Path, Type string
			Size       int64
			LFS        *string
		}
		Config, WeightsSlice string
		WeightsSize          int64
		GatedAnonymous       any
		GatedWithToken       string
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("output: %v\n%s", err, outb)
	}
	commit := s.Hub.Commit("models", "acme/tiny")
	if len(got.Models) != 2 || got.Models[0].Name != "acme/gated" || got.Models[1].Name != "acme/tiny" || got.Models[1].Sha != commit {
		t.Errorf("listModels: %+v", got.Models)
	}
	if got.Info.Name != "acme/tiny" || got.Info.Sha != commit {
		t.Errorf("modelInfo: %+v", got.Info)
	}
	paths := map[string]bool{}
	for _, f := range got.Files {
		paths[f.Path] = true
		if f.Path == "weights.safetensors" && (f.LFS == nil || len(*f.LFS) != 64) {
			t.Errorf("listFiles LFS entry: %+v", f)
		}
	}
	if !paths["config.json"] || !paths["sub/dir/notes.txt"] || !paths["sub"] {
		t.Errorf("listFiles: %+v", got.Files)
	}
	if got.Config != `{"model_type":"bert"}` || got.WeightsSize != 16 || got.WeightsSlice != "2345" {
		t.Errorf("downloads: config %q, weights size %d slice %q", got.Config, got.WeightsSize, got.WeightsSlice)
	}
	if got.GatedAnonymous != float64(401) || got.GatedWithToken != "let me in" {
		t.Errorf("gated: anonymous %v, with token %q", got.GatedAnonymous, got.GatedWithToken)
	}
	t.Logf("JS client saw: %s", lines[len(lines)-1])
	if st := s.Hub.Stats(); st.CDNBytes == 0 {
		t.Errorf("the LFS download did not go through the CDN: %+v", st)
	}
}
