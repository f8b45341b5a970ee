package kerasv3_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/kerasv3"
	"modelgate/internal/report"
	"modelgate/internal/scantest"
)

// TestFixtures scans zips written like Keras 3's saving_lib (testdata/gen.py)
// under a name without the .keras extension.
func TestFixtures(t *testing.T) {
	want := map[string][]string{
		"benign_functional.keras":          nil,
		"benign_sequential_deflated.keras": nil,
		"malicious_lambda.keras":           {finding.RuleKerasLambda},
		"malicious_lambda_deflated.keras":  {finding.RuleKerasLambda},
		"malicious_get_file.keras":         {finding.RuleKerasUnsafeObject},
		"malicious_unsafe_deser.keras":     {finding.RuleKerasLambda, finding.RuleKerasUnsafeDeser},
		"malicious_torch_wrapper.keras":    {finding.RuleKerasTorchModule, finding.RulePickleDangerous},
		"malicious_foreign_module.keras":   {finding.RuleKerasForeignModule},
		"malicious_os_system.keras":        {finding.RuleKerasUnsafeObject},
		"malicious_duplicate_config.keras": {finding.RuleKerasUnsafeObject},
		"malicious_prefixed.keras":         {finding.RuleKerasUnsafeObject},
		"malicious_weights_h5.keras":       {finding.RuleKerasLambda},
	}
	files, _ := filepath.Glob("testdata/*.keras")
	if len(files) != len(want) {
		t.Fatalf("%d fixtures, %d expectations", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := scantest.Bytes(t, "upload.zip", b)
			if res.Format != "keras-v3" {
				t.Fatalf("format %s", res.Format)
			}
			if got := scantest.Rules(res, finding.High); !slices.Equal(got, want[name]) {
				t.Errorf("rules %v, want %v; findings %v", got, want[name], res.Findings)
			}
			if res.Status != report.StatusComplete {
				t.Errorf("status %s: %s", res.Status, res.Error)
			}
			if strings.HasPrefix(name, "benign") && len(scantest.Rules(res, finding.Medium)) > 0 {
				t.Errorf("benign archive has findings: %v", res.Findings)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious_weights_h5.keras")
	res := scantest.Bytes(t, "m.keras", b)
	var found bool
	for _, m := range res.Members {
		if m.Path == "model.weights.h5" && m.Format == "keras-h5" {
			found = true
		}
	}
	if !found {
		t.Errorf("weights member not analyzed as HDF5: %+v", res.Members)
	}
	for _, f := range res.Findings {
		if f.Rule == finding.RuleKerasLambda && f.Member != "model.weights.h5" {
			t.Errorf("finding in member %q", f.Member)
		}
	}
	b, _ = os.ReadFile("testdata/malicious_torch_wrapper.keras")
	res = scantest.Bytes(t, "m.keras", b)
	for _, f := range res.Findings {
		if f.Rule == finding.RulePickleDangerous && f.Member != "config.json!TorchModuleWrapper.module" {
			t.Errorf("pickle finding in member %q", f.Member)
		}
	}
}

func TestMatch(t *testing.T) {
	a := kerasv3.New()
	keras, _ := os.ReadFile("testdata/benign_functional.keras")
	other := zipOf(t, "config.json", "pytorch_model.bin")
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"keras", keras, true},
		{"hf zip", other, false},
		{"not a zip", []byte("PK\x05\x06 but nothing else"), false},
	} {
		p := &format.Probe{Head: c.b, Tail: c.b, Size: int64(len(c.b)), R: bytes.NewReader(c.b)}
		if got := a.Match(p); got != c.want {
			t.Errorf("%s: Match = %v", c.name, got)
		}
	}
}

// TestBrokenZip: an end record whose entry count is wrong makes Go's zip
// reader fail where Python's does not; the stored config is still checked.
func TestBrokenZip(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious_os_system.keras")
	b = slices.Clone(b)
	i := bytes.LastIndex(b, []byte("PK\x05\x06"))
	b[i+8], b[i+10] = 9, 9 // entries on this disk, total entries
	res := scantest.Bytes(t, "broken.keras", b)
	got := scantest.Rules(res, finding.Medium)
	if !slices.Contains(got, finding.RuleKerasUnsafeObject) || !slices.Contains(got, finding.RuleParseError) {
		t.Errorf("findings %v", res.Findings)
	}
}
