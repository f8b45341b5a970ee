package detonate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"modelgate/internal/corpus"
	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/sandbox"
	"modelgate/internal/scan"
)

// TestMain lets the test binary act as the sandbox's init.
func TestMain(m *testing.M) {
	if sandbox.IsInit(os.Args) {
		sandbox.InitMain()
	}
	os.Exit(m.Run())
}

// requireEnv makes the tests fail instead of skipping when the sandbox or
// Python is missing; CI sets it.
const requireEnv = "MODELGATE_REQUIRE_SANDBOX"

var (
	readyOnce sync.Once
	readyErr  error
)

// requireDetonation skips (or fails, in CI) when namespaces or python3
// are unavailable.
func requireDetonation(t *testing.T) {
	t.Helper()
	readyOnce.Do(func() {
		if _, err := FindPython(""); err != nil {
			readyErr = err
			return
		}
		_, err := sandbox.Run(context.Background(), sandbox.Config{Command: []string{"/bin/true"}, Limits: sandbox.Limits{Wall: 20 * time.Second}})
		if err != nil {
			readyErr = fmt.Errorf("the sandbox cannot run here (run the tests as root, or enable unprivileged user namespaces): %w", err)
		}
	})
	if readyErr == nil {
		return
	}
	if os.Getenv(requireEnv) != "" {
		t.Fatalf("%s is set but: %v", requireEnv, readyErr)
	}
	t.Skip(readyErr)
}

// detonate runs one file and returns the outcome and its findings.
func detonate(t *testing.T, path string, opts Options) (*Outcome, []finding.Finding) {
	t.Helper()
	requireDetonation(t)
	if opts.Limits.Wall == 0 {
		opts.Limits.Wall = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Limits.Wall+30*time.Second)
	defer cancel()
	o, err := Run(ctx, path, opts)
	if err != nil {
		t.Fatalf("Run(%s): %v", path, err)
	}
	return o, Findings(path, o, policy.Default(), finding.Default())
}

// loaderFor chooses a corpus file's loader as detonate does, from the
// static scan; formats the scanner does not detect yet fall back on the
// manifest's format name.
func loaderFor(t *testing.T, path, manifestFormat string) Loader {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := scan.New(scan.Options{NoHash: true})
	res := s.ScanEntry(context.Background(), scan.Entry{Path: path, Size: info.Size(), Dir: filepath.Dir(path),
		Open: func(context.Context) (scan.Content, error) { return os.Open(path) }})
	l, err := LoaderFor(res)
	if err == nil {
		return l
	}
	if !errors.Is(err, ErrNoLoader) {
		t.Fatal(err)
	}
	res.Format = manifestFormat
	l, err = LoaderFor(res)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return l
}

// corpusFiles lists manifest entries under dir (relative to the corpus).
func corpusFiles(t *testing.T, dirs ...string) []corpus.Entry {
	t.Helper()
	entries, err := corpus.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []corpus.Entry
	for _, e := range entries {
		for _, d := range dirs {
			if strings.HasPrefix(e.Path, d+"/") {
				out = append(out, e)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no corpus files under %v", dirs)
	}
	return out
}

func rulesOf(fs []finding.Finding) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.Rule] = true
	}
	return m
}

func describe(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s: %s [%s] x%d", f.Severity, f.Rule, f.Message, f.Evidence, f.Count)
	}
	return b.String()
}
