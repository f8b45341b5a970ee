package proxy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modelgate/internal/fakehub"
	"modelgate/internal/gate/gatetest"
)

// TestOfficialJSClientThroughGate points the official JS client
// (@huggingface/hub, installed by .ci/run into the fake hub's testdata)
// at the gate: it lists, reads info and trees, downloads a benign file
// byte-exact (whole and a slice) and is refused the malicious one with
// 403 and the gate's code. Without node or the package it is skipped.
func TestOfficialJSClientThroughGate(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; this test runs the official JS client through the gate")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "fakehub", "testdata", "jsclient"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@huggingface", "hub", "package.json")); err != nil {
		t.Skip("@huggingface/hub is not installed: run .ci/run, or npm ci --prefix internal/fakehub/testdata/jsclient")
	}
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Tokens: []string{upstreamToken}, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	bad, good := gatetest.Malicious(), gatetest.Benign()
	h.Upload("models", "org/clean", map[string][]byte{"model.pkl": good, "config.json": []byte(`{"model_type":"bert"}`)})
	h.Upload("models", "org/evil", map[string][]byte{"pytorch_model.bin": bad})
	base, _, tok, _ := gateFor(t, fh.URL)

	cmd := exec.Command(node, "gate.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATE_URL="+base, "GATE_TOKEN=hf_"+tok)
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
		t.Fatalf("node gate.mjs: %v\n%s", err, outb)
	}
	var got struct {
		Models              []struct{ Name, Sha string }
		InfoSha             string
		Files               []string
		Benign, BenignSlice string
		Config              string
		Malicious           struct {
			Status        int
			Message, Code string
			Rule          string
			Downloaded    int
		}
		BadToken any
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("output: %v\n%s", err, outb)
	}
	t.Logf("JS client saw: %s", lines[len(lines)-1])
	if len(got.Models) != 2 || got.InfoSha != h.Commit("models", "org/clean") || len(got.Files) != 2 {
		t.Errorf("metadata: %+v", got)
	}
	whole, _ := base64.StdEncoding.DecodeString(got.Benign)
	slice, _ := base64.StdEncoding.DecodeString(got.BenignSlice)
	if !bytes.Equal(whole, good) || !bytes.Equal(slice, good[2:6]) || got.Config != `{"model_type":"bert"}` {
		t.Errorf("benign downloads: %q, slice %q, config %q", whole, slice, got.Config)
	}
	m := got.Malicious
	if m.Status != 403 || m.Code != "artifact_blocked" || m.Rule != "PICKLE-DANGEROUS-GLOBAL" || m.Downloaded != 0 ||
		!strings.Contains(m.Message, "modelgate blocked pytorch_model.bin") {
		t.Errorf("malicious download: %+v", m)
	}
	if got.BadToken != float64(401) {
		t.Errorf("a token the gate does not know: %v", got.BadToken)
	}
}
