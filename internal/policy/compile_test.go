package policy

import (
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/finding"
)

func TestCompileMatchesLoad(t *testing.T) {
	text := []byte("name = \"acme\"\nfail_on = \"medium\"\n[pickle]\ndangerous = [\"mylib.evil\"]\n")
	p, err := Compile("tenant acme", text, ".toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acme.toml")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version() != q.Version() {
		t.Errorf("Compile version %s, Load version %s", p.Version(), q.Version())
	}
	if s, ok := p.FailOn(); !ok || s != finding.Medium {
		t.Errorf("FailOn = %v, %v", s, ok)
	}
	if v := p.Classify("mylib", "evil"); v.Safety != finding.Dangerous {
		t.Errorf("mylib.evil: %v", v.Safety)
	}
	if got := p.Sources(); len(got) != 2 || got[1] != "tenant acme" {
		t.Errorf("Sources = %v", got)
	}
	if p.Version() == Default().Version() {
		t.Error("a user policy kept the default version")
	}
	if _, err := Compile("bad", []byte("fail_on = \"nope\""), ".toml"); err == nil {
		t.Error("invalid fail_on compiled")
	}
	if _, err := Compile("yaml", []byte("fail_on: low\n"), ".yaml"); err != nil {
		t.Errorf("YAML: %v", err)
	}
}
