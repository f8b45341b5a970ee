package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary act as the sandbox's init (Run re-executes
// /proc/self/exe) and as the helper program the tests run inside it.
func TestMain(m *testing.M) {
	if IsInit(os.Args) {
		InitMain()
	}
	if mode := os.Getenv(helperEnv); mode != "" && len(os.Args) > 1 && os.Args[1] == helperArg {
		os.Exit(helperMain(mode, os.Args[2:]))
	}
	os.Exit(m.Run())
}

// RequireEnv makes tests fail instead of skipping when the machine cannot
// create namespaces; CI sets it, so the sandbox is always tested there.
const RequireEnv = "MODELGATE_REQUIRE_SANDBOX"

var (
	availableOnce sync.Once
	availableErr  error
)

// requireSandbox skips (or, with MODELGATE_REQUIRE_SANDBOX set, fails) when
// namespaces cannot be created here.
func requireSandbox(t *testing.T) {
	t.Helper()
	availableOnce.Do(func() {
		_, availableErr = Run(context.Background(), Config{Command: []string{"/bin/true"}, Limits: Limits{Wall: 20 * time.Second}})
	})
	if availableErr == nil {
		return
	}
	msg := fmt.Sprintf("the sandbox cannot run on this machine (run the tests as root, or enable unprivileged user namespaces): %v", availableErr)
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is set but %s", RequireEnv, msg)
	}
	t.Skip(msg)
}

// output is what a sandboxed command printed.
type output struct {
	res            *Result
	stdout, stderr string
}

// runIn runs cfg with a short wall-clock limit, failing the test on setup
// errors.
func runIn(t *testing.T, cfg Config) output {
	t.Helper()
	requireSandbox(t)
	o, err := tryRun(t, cfg)
	if err != nil {
		t.Fatalf("Run(%q): %v\nstderr: %s", cfg.Command, err, o.stderr)
	}
	return o
}

func tryRun(t *testing.T, cfg Config) (output, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg.Stdout, cfg.Stderr = &stdout, &stderr
	if cfg.Limits.Wall == 0 {
		cfg.Limits.Wall = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.Wall+30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	return output{res, stdout.String(), stderr.String()}, err
}

// helperCommand runs this test binary inside the sandbox in helper mode.
func helperCommand(t *testing.T, mode string, args ...string) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Command:  append([]string{exe, helperArg}, args...),
		Env:      []string{helperEnv + "=" + mode},
		ReadOnly: []string{exe},
	}
}

func lines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' })
}

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
