package policy

import (
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/finding"
)

func TestTensorFlowOps(t *testing.T) {
	p := Default()
	for op, want := range map[string]struct {
		sev            finding.Severity
		ignore, listed bool
	}{
		"PyFunc":   {finding.High, false, true},
		"ReadFile": {finding.Medium, false, true},
		"SaveV2":   {0, true, true},
		"MatMul":   {0, false, false},
	} {
		sev, ignore, listed := p.TensorFlowOp(op)
		if sev != want.sev || ignore != want.ignore || listed != want.listed {
			t.Errorf("%s: %v %v %v, want %+v", op, sev, ignore, listed, want)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	os.WriteFile(path, []byte("[tensorflow.ops]\nReadFile = \"ignore\"\nMyOp = \"critical\"\n"), 0o644)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ignore, _ := p.TensorFlowOp("ReadFile"); !ignore {
		t.Error("user policy did not override ReadFile")
	}
	if sev, _, listed := p.TensorFlowOp("MyOp"); !listed || sev != finding.Critical {
		t.Error("user op not listed")
	}
	os.WriteFile(path, []byte("[tensorflow.ops]\nReadFile = \"bad\"\n"), 0o644)
	if _, err := Load(path); err == nil {
		t.Error("bad severity accepted")
	}
}
