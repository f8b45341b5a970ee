package scan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
)

// memSource lists in-memory files.
type memSource map[string][]byte

func (m memSource) Entries(_ context.Context, yield func(Entry) error) error {
	for p, b := range m {
		b := b
		err := yield(Entry{Path: p, Size: int64(len(b)), Open: func(context.Context) (Content, error) {
			return nopCloser{bytes.NewReader(b)}, nil
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

type nopCloser struct{ io.ReaderAt }

func (nopCloser) Close() error { return nil }

type nameCheck struct{}

func (nameCheck) Name() string { return "test-check" }
func (nameCheck) Check(ctx context.Context, repo *Repo, emit func(finding.Finding)) {
	for _, e := range repo.Files {
		if filepath.Base(e.Path) == "Dockerfile" {
			f := repo.Rules.New(finding.RuleParseError, "test finding", "", finding.NoOffset)
			f.Path = e.Path
			emit(f)
		}
	}
	f := repo.Rules.New(finding.RuleParseError, "about a file that was not listed", "", finding.NoOffset)
	f.Path = "missing/config.json"
	emit(f)
}

func TestRepoChecksJoinFileResults(t *testing.T) {
	s := New(Options{RepoChecks: []RepoCheck{nameCheck{}}, Jobs: 1})
	var got []*report.File
	err := s.Run(context.Background(), []Source{memSource{"a/Dockerfile": []byte("FROM x\n"), "a/README.md": []byte("hi\n")}},
		func(f *report.File) { got = append(got, f) })
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*report.File{}
	for _, f := range got {
		byPath[f.Path] = f
	}
	if len(byPath) != 3 {
		t.Fatalf("got %d results, want the two files and one orphan: %v", len(byPath), byPath)
	}
	d := byPath["a/Dockerfile"]
	if !hasRule(d, finding.RuleParseError) || d.Findings[0].Analyzer != "test-check" {
		t.Errorf("Dockerfile result lacks the check's finding: %+v", d.Findings)
	}
	if d.Status != report.StatusPartial {
		t.Errorf("a parse-error finding from a check should mark the file partial, got %s", d.Status)
	}
	if hasRule(byPath["a/README.md"], finding.RuleParseError) {
		t.Errorf("README got a finding meant for the Dockerfile")
	}
	if o := byPath["missing/config.json"]; o == nil || o.Format != "repository" || !hasRule(o, finding.RuleParseError) {
		t.Errorf("orphan finding lost: %+v", o)
	}
}

func hasRule(f *report.File, rule string) bool {
	if f == nil {
		return false
	}
	for _, x := range f.Findings {
		if x.Rule == rule {
			return true
		}
	}
	return false
}

type mapCache struct {
	mu   sync.Mutex
	m    map[string]*report.File
	gets int
}

func (c *mapCache) Get(k string) (*report.File, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	f, ok := c.m[k]
	if !ok {
		return nil, false
	}
	cp := *f
	cp.Findings = append([]finding.Finding(nil), f.Findings...)
	return &cp, true
}

func (c *mapCache) Put(k string, f *report.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *f
	c.m[k] = &cp
}

func TestCacheReusesVerdicts(t *testing.T) {
	payload, err := os.ReadFile("../../examples/payload.pkl")
	if err != nil {
		t.Fatal(err)
	}
	c := &mapCache{m: map[string]*report.File{}}
	s := New(Options{Cache: c, Jobs: 1})
	first := s.ScanReader(context.Background(), "one.pkl", bytes.NewReader(payload), int64(len(payload)), "")
	if first.Cached || len(c.m) != 1 {
		t.Fatalf("first scan: cached=%v, stored %d", first.Cached, len(c.m))
	}
	second := s.ScanReader(context.Background(), "two.pkl", bytes.NewReader(payload), int64(len(payload)), "")
	if !second.Cached {
		t.Fatal("second scan of the same content was not served from the cache")
	}
	if second.Path != "two.pkl" || len(second.Findings) == 0 || second.Findings[0].Path != "two.pkl" {
		t.Errorf("cached result not adapted to the new path: %+v", second)
	}
	if len(second.Findings) != len(first.Findings) {
		t.Errorf("cached verdict differs: %d vs %d findings", len(second.Findings), len(first.Findings))
	}
	// A different policy version must miss.
	if CacheKey(first.SHA256, "a@1") == CacheKey(first.SHA256, "a@2") {
		t.Error("cache key ignores the policy version")
	}
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("connection reset") }

func TestProbeReadErrorIsReported(t *testing.T) {
	s := New(Options{Jobs: 1})
	res := s.ScanReader(context.Background(), "remote.bin", failingReader{}, 1<<20, "00")
	if !hasRule(res, finding.RuleIOError) {
		t.Fatalf("a failed probe read passed silently: %+v", res)
	}
	if res.Format != "unknown" || hasRule(res, finding.RuleUnknownFormat) {
		t.Errorf("failed read was treated as an unknown format: %+v", res.Findings)
	}
}
