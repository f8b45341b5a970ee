package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/corpus"
	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

type cliRun struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, terminal bool, args ...string) cliRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return terminal },
	})
	return cliRun{code, out.String(), errb.String()}
}

func sample(p string) string { return filepath.Join(corpus.Dir(), p) }

func TestScanExitCodes(t *testing.T) {
	mal := sample("malicious/pickle/os_system.pkl")
	ben := sample("benign/pickle/plain_data_p2.pkl")
	sus := sample("malicious/pickle/timeit_timeit.pkl") // critical + a suspicious import
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"malicious fails", []string{"scan", mal}, ExitFindings, "FAIL"},
		{"benign passes", []string{"scan", ben}, ExitOK, "PASS"},
		{"flags after paths", []string{"scan", ben, "--format", "json"}, ExitOK, `"schema"`},
		{"fail-on critical still fails", []string{"scan", "--fail-on", "critical", mal}, ExitFindings, ""},
		{"missing file is an I/O error", []string{"scan", "/nonexistent/model.bin"}, ExitError, "could not read"},
		{"findings win over I/O errors", []string{"scan", mal, "/nonexistent/model.bin"}, ExitFindings, ""},
		{"unknown flag", []string{"scan", "--bogus", ben}, ExitError, ""},
		{"bad format", []string{"scan", "--format", "xml", ben}, ExitError, ""},
		{"bad threshold", []string{"scan", "--fail-on", "info", ben}, ExitError, ""},
		{"no paths", []string{"scan"}, ExitError, ""},
		{"unknown command", []string{"frobnicate"}, ExitError, ""},
		{"help", []string{"scan", "-h"}, ExitOK, ""},
		{"strict fails on suspicious", []string{"scan", "--strict", "--fail-on", "critical", sus}, ExitFindings, ""},
		{"quiet lists failing files only", []string{"scan", "-q", mal, ben}, ExitFindings, "os_system.pkl"},
		{"folder", []string{"scan", sample("benign/pickle")}, ExitOK, "PASS: 14 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, false, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, tt.out) {
				t.Errorf("output lacks %q:\n%s%s", tt.out, r.stdout, r.stderr)
			}
		})
	}
	if r := runCLI(t, nil, false, "scan", "-q", mal, ben); strings.Contains(r.stdout, "plain_data_p2") {
		t.Errorf("quiet listed a clean file:\n%s", r.stdout)
	}
}

func TestColourOnlyOnTerminals(t *testing.T) {
	mal := sample("malicious/pickle/os_system.pkl")
	if r := runCLI(t, nil, true, "scan", mal); !strings.Contains(r.stdout, "\x1b[") {
		t.Error("no colour on a terminal")
	}
	if r := runCLI(t, nil, false, "scan", mal); strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour on a pipe")
	}
	if r := runCLI(t, map[string]string{"NO_COLOR": "1"}, true, "scan", mal); strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour despite NO_COLOR")
	}
	if r := runCLI(t, nil, true, "scan", "--no-color", mal); strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour despite --no-color")
	}
}

func TestReportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "r.json")
	mal := sample("malicious/pickle/pickle_loads_nested.pkl")
	if r := runCLI(t, nil, false, "scan", "-f", "json", "-o", js, mal); r.code != ExitFindings {
		t.Fatalf("scan: %d %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.ReadJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.Files[0].SHA256 == "" || rep.Summary.Findings["critical"] != 2 {
		t.Fatalf("report: %+v", rep.Summary)
	}
	direct := runCLI(t, nil, false, "scan", "-f", "sarif", mal)
	rerendered := runCLI(t, nil, false, "report", "-f", "sarif", js)
	if rerendered.code != ExitFindings || rerendered.stdout != direct.stdout {
		t.Errorf("re-rendered SARIF differs (exit %d)", rerendered.code)
	}
	if r := runCLI(t, nil, false, "report", "--fail-on", "critical", js); r.code != ExitFindings || !strings.Contains(r.stdout, "os.system") {
		t.Errorf("report text: %d\n%s", r.code, r.stdout)
	}
	var sarif map[string]any
	if err := json.Unmarshal([]byte(direct.stdout), &sarif); err != nil || sarif["version"] != "2.1.0" {
		t.Errorf("SARIF output: %v", err)
	}
}

func TestExplain(t *testing.T) {
	r := runCLI(t, nil, false, "explain", sample("malicious/pickle/getattr_builtins_exec.pkl"))
	for _, want := range []string{"import builtins", "DANGEROUS", "_var0 = builtins.__import__('builtins')",
		"_var1 = builtins.getattr(_var0, 'exec')", "_var2 = _var1(\"__import__('os').system('echo pwned')\")", "result = _var2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != ExitFindings {
		t.Errorf("exit %d", r.code)
	}
}

func TestPolicyAndRulesCommands(t *testing.T) {
	r := runCLI(t, nil, false, "policy", "show")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"torch._utils._rebuild_tensor_v2"`) {
		t.Fatalf("policy show: %d", r.code)
	}
	p := filepath.Join(t.TempDir(), "shown.toml")
	if err := os.WriteFile(p, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, false, "policy", "check", p); r.code != ExitOK {
		t.Errorf("the shown policy does not check: %s", r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[pickle]\nallow = 1\n"), 0o644)
	if r := runCLI(t, nil, false, "policy", "check", bad); r.code != ExitError {
		t.Errorf("bad policy accepted")
	}
	// A policy can suppress and re-rate findings, and set the threshold.
	pol := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(pol, []byte("fail_on = \"low\"\n[[suppress]]\nrule = \"PICKLE-DANGEROUS-GLOBAL\"\nreason = \"test\"\n"), 0o644)
	r = runCLI(t, nil, false, "scan", "--policy", pol, "-f", "json", sample("malicious/pickle/os_system.pkl"))
	if r.code != ExitOK || !strings.Contains(r.stdout, `"suppressed": 1`) {
		t.Errorf("suppression: exit %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, nil, false, "scan", "--policy", pol, sample("malicious/pickle/payload_after_padding.pkl"))
	if r.code != ExitFindings {
		t.Errorf("fail_on low from the policy not applied: %d", r.code)
	}

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "rules.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != RulesMarkdown(finding.Default()) {
		t.Error("docs/rules.md is stale: go run ./cmd/modelgate rules > docs/rules.md")
	}
}

func TestProgressLine(t *testing.T) {
	line := progressLine(scan.Progress{BytesDone: 512, BytesTotal: 1024, FilesDone: 3, FilesTotal: 10}, 2e9)
	if !strings.Contains(line, "50%") || !strings.Contains(line, "3/10 files") || !strings.Contains(line, "256 B/s") {
		t.Errorf("progress line %q", line)
	}
}
