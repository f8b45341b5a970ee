package onnx_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/onnx"
	"modelgate/internal/report"
	"modelgate/internal/scantest"
)

// TestFixtures scans models made with onnx.helper (testdata/gen.py).
func TestFixtures(t *testing.T) {
	want := map[string][]string{
		"benign_mlp.onnx":              nil,
		"benign_if.onnx":               nil,
		"benign_external.onnx":         nil,
		"benign_custom_domain.onnx":    nil,
		"malicious_traversal.onnx":     {finding.RuleONNXExternalTraversal},
		"malicious_absolute.onnx":      {finding.RuleONNXExternalTraversal},
		"malicious_nested_dotdot.onnx": {finding.RuleONNXExternalTraversal},
		"malicious_windows.onnx":       {finding.RuleONNXExternalTraversal},
		"malicious_if_subgraph.onnx":   {finding.RuleONNXExternalTraversal},
		"malicious_loop_constant.onnx": {finding.RuleONNXExternalTraversal},
		"malicious_sparse.onnx":        {finding.RuleONNXExternalTraversal},
		"malicious_pyop.onnx":          {finding.RuleONNXPythonOp},
	}
	files, _ := filepath.Glob("testdata/*.onnx")
	if len(files) != len(want) {
		t.Fatalf("%d fixtures, %d expectations", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			res := scantest.File(t, path)
			if res.Format != "onnx" {
				t.Fatalf("format %s", res.Format)
			}
			if got := scantest.Rules(res, finding.High); !slices.Equal(got, want[name]) {
				t.Errorf("rules %v, want %v; findings %v", got, want[name], res.Findings)
			}
			if res.Status != report.StatusComplete {
				t.Errorf("status %s: %s", res.Status, res.Error)
			}
		})
	}
}

func TestListings(t *testing.T) {
	res := scantest.File(t, "testdata/benign_custom_domain.onnx")
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Rule+" "+f.Evidence)
	}
	slices.Sort(got)
	want := []string{"ONNX-CUSTOM-DOMAIN com.microsoft", "ONNX-FUNCTION custom.fn.Double"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	res = scantest.File(t, "testdata/benign_external.onnx")
	if len(res.Findings) != 1 || res.Findings[0].Evidence != "benign_external.onnx.data" || strings.Contains(res.Findings[0].Message, "missing") {
		t.Errorf("external data listing: %v", res.Findings)
	}
}

// TestSymlinkOutOfFolder: a clean relative location that is a symbolic
// link out of the model's folder is as bad as "../".
func TestSymlinkOutOfFolder(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/benign_external.onnx")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(model, b, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, make([]byte, 64), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "benign_external.onnx.data")); err != nil {
		t.Skip("no symlinks:", err)
	}
	res := scantest.File(t, model)
	if got := scantest.Rules(res, finding.Critical); !slices.Equal(got, []string{finding.RuleONNXExternalTraversal}) {
		t.Errorf("findings %v", res.Findings)
	}
	// Missing data file: still info, with a note.
	os.Remove(filepath.Join(dir, "benign_external.onnx.data"))
	res = scantest.File(t, model)
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, "missing") {
		t.Errorf("findings %v", res.Findings)
	}
}

func TestMatch(t *testing.T) {
	a := onnx.New()
	mlp, _ := os.ReadFile("testdata/benign_mlp.onnx")
	pickle := []byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.")
	data, _ := os.ReadFile("testdata/benign_external.onnx.data")
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"mlp", mlp, true},
		{"truncated", mlp[:len(mlp)/2], false},
		{"pickle", pickle, false},
		{"float data", data, false},
		{"text", []byte("hello world, this is text\n"), false},
		{"empty", nil, false},
	} {
		p := &format.Probe{Head: c.b, Tail: c.b, Size: int64(len(c.b)), R: bytes.NewReader(c.b)}
		if got := a.Match(p); got != c.want {
			t.Errorf("%s: Match = %v", c.name, got)
		}
	}
}
