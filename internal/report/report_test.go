package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"modelgate/internal/corpus"
	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

var update = flag.Bool("update", false, "rewrite golden files")

// samples are scanned for the golden reports: a range of findings,
// severities, members and an unknown format.
var samples = []string{
	"malicious/pickle/reduce_os_system_p2.pkl",
	"malicious/pickle/pickle_loads_nested.pkl",
	"malicious/pickle/stack_global_computed.pkl",
	"malicious/pickle/no_stop_after_payload.pkl",
	"benign/pickle/plain_data_p4.pkl",
	"benign/sklearn/pipeline_scaler_logreg_p2.pkl",
	"benign/hf_repo/generation_config.json",
}

func scanSamples(t *testing.T) *report.Report {
	t.Helper()
	s := scan.New(scan.Options{Jobs: 2})
	rep := &report.Report{
		Schema:  report.Schema,
		Tool:    report.Tool{Name: "modelgate", Version: "test"},
		Policy:  report.PolicyInfo{Version: "test", Sources: []string{"embedded default"}},
		Targets: samples,
	}
	for _, p := range samples {
		b, err := os.ReadFile(filepath.Join(corpus.Dir(), p))
		if err != nil {
			t.Fatal(err)
		}
		rep.Files = append(rep.Files, s.ScanReader(context.Background(), p, bytes.NewReader(b), int64(len(b)), ""))
	}
	rep.Summarize()
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./internal/report -update and review the diff.\ngot:\n%s", name, got)
	}
}

func render(t *testing.T, rep *report.Report) (js, txt, sarif []byte) {
	t.Helper()
	var a, b, c bytes.Buffer
	if err := report.WriteJSON(&a, rep); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteText(&b, rep, report.TextOptions{Threshold: finding.High}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteSARIF(&c, rep, nil); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes(), c.Bytes()
}

func TestGolden(t *testing.T) {
	rep := scanSamples(t)
	js, txt, sarif := render(t, rep)
	golden(t, "scan.json", js)
	golden(t, "scan.txt", txt)
	golden(t, "scan.sarif", sarif)

	// One JSON document re-renders to exactly the same text and SARIF.
	back, err := report.ReadJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	js2, txt2, sarif2 := render(t, back)
	if !bytes.Equal(js, js2) || !bytes.Equal(txt, txt2) || !bytes.Equal(sarif, sarif2) {
		t.Error("re-rendering the JSON report changed it")
	}
}

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

func validate(t *testing.T, schema *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
}

// TestJSONValidates holds the JSON report to its documented schema.
func TestJSONValidates(t *testing.T) {
	js, _, _ := render(t, scanSamples(t))
	validate(t, compileSchema(t, filepath.Join("..", "..", "docs", "report.schema.json")), js)
}

func TestSARIFValidates(t *testing.T) {
	_, _, sarif := render(t, scanSamples(t))
	validate(t, compileSchema(t, filepath.Join("testdata", "sarif-schema-2.1.0.json")), sarif)
	// GitHub code scanning needs rule metadata and a location per result.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string                `json:"id"`
						Help struct{ Text string } `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string            `json:"ruleId"`
				Level     string            `json:"level"`
				Locations []json.RawMessage `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarif, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if r.Help.Text == "" {
			t.Errorf("rule %s has no help", r.ID)
		}
	}
	levels := map[string]bool{}
	for _, r := range log.Runs[0].Results {
		levels[r.Level] = true
		if len(r.Locations) != 1 {
			t.Errorf("result %s has %d locations", r.RuleID, len(r.Locations))
		}
	}
	if !levels["error"] || !levels["warning"] || !levels["note"] {
		t.Errorf("levels used: %v", levels)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"model.bin":             "model.bin",
		"evil\x1b[31mred":       `evil\x1b[31mred`,
		"line\nbreak\r":         `line\x0abreak\x0d`,
		"rtl\u202etxt.exe":      `rtl\u202etxt.exe`,
		"café ünïcode":          "café ünïcode",
		"c1\u009bcontrol":       `c1\x9bcontrol`,
		"tab\there":             `tab\x09here`,
		strings.Repeat("a", 10): strings.Repeat("a", 10),
	} {
		if got := report.Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	// Text reports never pass terminal escapes through.
	rep := &report.Report{Schema: report.Schema, Files: []*report.File{{Path: "x\x1b]0;pwn\x07.pkl", Format: "pickle", Status: report.StatusComplete,
		Findings: []finding.Finding{{Rule: finding.RulePickleDangerous, Severity: finding.Critical, Message: "m\x1b[2J", Evidence: "e\x1bc"}}}}}
	rep.Summarize()
	var b bytes.Buffer
	if err := report.WriteText(&b, rep, report.TextOptions{Threshold: finding.High}); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(b.Bytes(), 0x1b) || bytes.ContainsRune(b.Bytes(), 0x07) {
		t.Errorf("escape passed through:\n%q", b.String())
	}
}
