package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modelgate/internal/corpus"
	"modelgate/internal/report"
	"modelgate/internal/sandbox"
)

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	r := runCLI(t, nil, false, args...)
	return r.code, r.stdout, r.stderr
}

func TestSandboxInitIsHidden(t *testing.T) {
	_, out, _ := runArgs(t, "help")
	if strings.Contains(out, sandbox.InitArg) || !strings.Contains(out, "sandbox ") || !strings.Contains(out, "detonate ") {
		t.Errorf("help:\n%s", out)
	}
}

func TestSandboxAndDetonateUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sandbox"}, "no command given"},
		{[]string{"sandbox", "--memory", "lots", "--", "true"}, "invalid size"},
		{[]string{"detonate"}, "exactly one file"},
		{[]string{"detonate", "/no/such/file"}, "not a readable file"},
		{[]string{"detonate", "--loader", "tensorflow", "../../testdata/corpus/malicious/pickle/os_system.pkl"}, "unknown loader"},
		{[]string{"detonate", "../../testdata/corpus/benign/safetensors/model.safetensors"}, "no loader for this format"},
		{[]string{"detonate", "--python", "/no/such/python3", "../../testdata/corpus/malicious/pickle/os_system.pkl"}, "detonate needs python3"},
	}
	for _, tt := range tests {
		code, _, stderr := runArgs(t, tt.args...)
		if code != ExitError || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "4k": 4 << 10, "512M": 512 << 20, "4G": 4 << 30, "4GiB": 4 << 30, "2gb": 2 << 30, "1T": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "x", "4X", "1.5G", "99999999999T"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
	s := sizeFlag(4 << 30)
	if s.String() != "4G" {
		t.Errorf("sizeFlag(4G).String() = %q", s.String())
	}
}

// modelgateBinary builds the real binary (CGO_ENABLED=0, as released):
// the sandbox re-executes /proc/self/exe, which in this package's tests
// would be the test binary.
func modelgateBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "modelgate")
	cmd := exec.Command("go", "build", "-o", bin, "modelgate/cmd/modelgate")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building modelgate: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the built binary, skipping (failing in CI) when the
// sandbox cannot run here.
func runBinary(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	if code == sandbox.ExitSetupFailed || strings.Contains(errb.String(), "required protection is unavailable") || strings.Contains(errb.String(), "needs python3") {
		if os.Getenv("MODELGATE_REQUIRE_SANDBOX") != "" {
			t.Fatalf("MODELGATE_REQUIRE_SANDBOX is set but: %s", errb.String())
		}
		t.Skipf("the sandbox or python3 is unavailable here: %s", errb.String())
	}
	return code, out.String(), errb.String()
}

// TestSandboxCommandEndToEnd runs the real binary: its hidden init
// command, pass-through of output and exit status, the environment.
func TestSandboxCommandEndToEnd(t *testing.T) {
	bin := modelgateBinary(t)
	t.Setenv("MODELGATE_TEST_SECRET", "canary")
	t.Setenv("MODELGATE_TEST_PASSED", "passed")
	code, stdout, stderr := runBinary(t, bin, "sandbox", "--env", "MODELGATE_TEST_PASSED", "--", "/bin/sh", "-c",
		`echo "secret=$MODELGATE_TEST_SECRET passed=$MODELGATE_TEST_PASSED offline=$HF_HUB_OFFLINE"; echo oops >&2; exit 42`)
	if code != 42 || stdout != "secret= passed=passed offline=1\n" || stderr != "oops\n" {
		t.Errorf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runBinary(t, bin, "sandbox", "--no-exec", "--", "/bin/sh", "-c", "/bin/echo pwned")
	if code == 0 || !strings.Contains(stderr, `refused execve("/bin/echo")`) {
		t.Errorf("--no-exec: exit %d stderr %q", code, stderr)
	}
	code, _, stderr = runBinary(t, bin, "sandbox", "--timeout", "1s", "--", "sleep", "30")
	if code != sandbox.ExitTimeout || !strings.Contains(stderr, "wall-clock limit") {
		t.Errorf("--timeout: exit %d stderr %q", code, stderr)
	}
}

// TestDetonateCommandEndToEnd detonates a corpus pickle (inside the
// sandbox) through the real binary and reads the JSON report.
func TestDetonateCommandEndToEnd(t *testing.T) {
	bin := modelgateBinary(t)
	path := filepath.Join(corpus.Dir(), "malicious", "pickle", "os_system.pkl")
	code, stdout, stderr := runBinary(t, bin, "detonate", "--no-exec", "--format", "json", path)
	if code != ExitFindings {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil || len(rep.Files) != 1 {
		t.Fatalf("report: %v\n%s", err, stdout)
	}
	rules := map[string]bool{}
	for _, f := range rep.Files[0].Findings {
		rules[f.Rule] = true
	}
	for _, want := range []string{"PICKLE-DANGEROUS-GLOBAL", "DYNAMIC-PROCESS", "DYNAMIC-EXECVE"} {
		if !rules[want] {
			t.Errorf("no %s in the report: %v", want, rules)
		}
	}
	if strings.Contains(stdout, "pwned\n") {
		t.Error("the payload's output reached modelgate's stdout")
	}
	var raw map[string]any
	if json.Unmarshal([]byte(stdout), &raw) != nil {
		t.Error("stdout is not one JSON document")
	}

	benign := filepath.Join(corpus.Dir(), "benign", "pickle", "plain_data_p4.pkl")
	code, _, stderr = runBinary(t, bin, "detonate", benign)
	if code != ExitOK {
		t.Errorf("benign: exit %d, stderr %s", code, stderr)
	}
}
