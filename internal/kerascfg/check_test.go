package kerascfg

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
)

type result struct {
	findings []finding.Finding
	nested   []*Nested
}

func check(t testing.TB, data []byte) (result, error) {
	var r result
	err := Check(context.Background(), data, Options{Source: "test"}, func(f finding.Finding, n *Nested) {
		r.findings = append(r.findings, f)
		if n != nil {
			r.nested = append(r.nested, n)
		}
	})
	return r, err
}

func (r result) rules(min finding.Severity) []string {
	var out []string
	for _, f := range r.findings {
		if f.Severity >= min && !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	slices.Sort(out)
	return out
}

// TestFixtures checks each fixture (testdata/gen.py) for exactly the rules
// at or above medium that its attack should raise, and the benign ones for
// none.
func TestFixtures(t *testing.T) {
	want := map[string][]string{
		"benign_keras3_functional.json":         nil,
		"benign_keras3_sequential.json":         nil,
		"benign_keras2_sequential.json":         nil,
		"benign_keras2_training.json":           nil,
		"malicious_keras2_lambda.json":          {finding.RuleKerasLambda},
		"malicious_keras2_lambda_named.json":    {finding.RuleKerasLambda},
		"malicious_keras3_lambda_nested.json":   {finding.RuleKerasLambda},
		"malicious_keras3_os_system.json":       {finding.RuleKerasUnsafeObject},
		"malicious_keras3_builtins_exec.json":   {finding.RuleKerasUnsafeObject},
		"malicious_keras3_get_file.json":        {finding.RuleKerasUnsafeObject},
		"malicious_keras3_unsafe_deser.json":    {finding.RuleKerasLambda, finding.RuleKerasUnsafeDeser},
		"malicious_keras3_safe_mode_false.json": {finding.RuleKerasUnsafeDeser},
		"malicious_keras3_torch_wrapper.json":   {finding.RuleKerasTorchModule},
		"malicious_keras3_foreign_module.json":  {finding.RuleKerasForeignModule},
		"malicious_keras3_tfsm_layer.json":      {finding.RuleKerasExternalFile},
		"malicious_keras2_tfoplambda.json":      {finding.RuleKerasUnsafeObject},
		"malicious_keras3_vocabulary_file.json": {finding.RuleKerasExternalFile},
	}
	files, _ := filepath.Glob("testdata/*.json")
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
			r, err := check(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.rules(finding.Medium); !slices.Equal(got, want[name]) {
				t.Errorf("rules %v, want %v; findings: %v", got, want[name], r.findings)
			}
			malicious := strings.HasPrefix(name, "malicious")
			high := len(r.rules(finding.High)) > 0
			if malicious != high && name != "malicious_keras3_foreign_module.json" {
				t.Errorf("malicious=%v but high findings=%v", malicious, high)
			}
		})
	}
}

func TestLambdaEvidence(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious_keras2_lambda.json")
	r, err := check(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.findings) != 1 {
		t.Fatalf("findings: %v", r.findings)
	}
	f := r.findings[0]
	for _, s := range []string{"__import__", "system", `"echo pwned"`, "3.11+"} {
		if !strings.Contains(f.Evidence, s) {
			t.Errorf("evidence lacks %s: %s", s, f.Evidence)
		}
	}
	if f.Severity != finding.Critical || !strings.Contains(f.Message, "uses __import__, system") {
		t.Errorf("finding: %+v", f)
	}
	b, _ = os.ReadFile("testdata/malicious_keras3_lambda_nested.json")
	r, _ = check(t, b)
	var ev []string
	for _, f := range r.findings {
		ev = append(ev, f.Evidence)
	}
	joined := strings.Join(ev, "\n")
	for _, s := range []string{"subprocess", "eval", `"pwned"`} {
		if !strings.Contains(joined, s) {
			t.Errorf("nested lambdas: evidence lacks %s:\n%s", s, joined)
		}
	}
}

func TestTorchWrapperNested(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious_keras3_torch_wrapper.json")
	r, _ := check(t, b)
	if len(r.nested) != 1 || !bytes.Contains(r.nested[0].Data, []byte("posix\nsystem")) {
		t.Fatalf("nested: %v", r.nested)
	}
}

func TestKeras2CustomObjectIsInfo(t *testing.T) {
	r, err := check(t, []byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "MyLayer", "config": {}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.findings) != 1 || r.findings[0].Rule != finding.RuleKerasCustomObject || r.findings[0].Severity != finding.Info {
		t.Errorf("findings: %v", r.findings)
	}
	r, _ = check(t, []byte(`{"module": "__main__", "class_name": "MyLayer", "config": {}, "registered_name": "Custom>MyLayer"}`))
	if got := r.rules(finding.Medium); !slices.Equal(got, []string{finding.RuleKerasCustomObject}) {
		t.Errorf("__main__ custom object: %v", r.findings)
	}
}

func TestPythonJSON(t *testing.T) {
	// Python's json writes NaN and Infinity; a Lambda after them must
	// still be found.
	r, err := check(t, []byte(`{"a": NaN, "b": [-Infinity, Infinity], "class_name": "Lambda", "config": {"s": "NaN"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.rules(finding.High); !slices.Equal(got, []string{finding.RuleKerasLambda}) {
		t.Errorf("findings: %v", r.findings)
	}
	_, err = check(t, []byte(`{"class_name": "Lambda"`))
	var fe *format.Error
	if !errors.As(err, &fe) {
		t.Errorf("truncated JSON: %v", err)
	}
	_, err = check(t, []byte(strings.Repeat("[", 10000)))
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("deep JSON: %v", err)
	}
}

func TestRawConfigs(t *testing.T) {
	cfg, _ := os.ReadFile("testdata/malicious_keras2_lambda.json")
	blob := append(append([]byte("GCOL\x01\x00\x00\x00junk{not json"), cfg...), []byte("\x00\x00{\"loss\": \"mse\"}\x00")...)
	var got [][]byte
	n, err := RawConfigs(bytes.NewReader(blob), int64(len(blob)), 1<<20, func(off int64, b []byte) error {
		got = append(got, b)
		return nil
	})
	if err != nil || n != 2 || !bytes.Equal(got[0], cfg) || string(got[1]) != `{"loss": "mse"}` {
		t.Fatalf("n=%d err=%v got=%q", n, err, got)
	}
}
