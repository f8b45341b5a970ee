package verdictcache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/report"
)

func verdict(path string) *report.File {
	return &report.File{Path: path, SHA256: "ab", Format: "pickle", Status: report.StatusComplete,
		Findings: []finding.Finding{{Rule: "PICKLE-DANGEROUS-GLOBAL", Severity: finding.Critical, Path: path, Evidence: "os.system"}}}
}

func TestPutGet(t *testing.T) {
	c, err := Open(Options{Dir: t.TempDir(), Salt: "build-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("k1"); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Put("k1", verdict("a.pkl"))
	got, ok := c.Get("k1")
	if !ok || got.Path != "a.pkl" || len(got.Findings) != 1 || got.Findings[0].Severity != finding.Critical {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	// Another build's salt does not see it.
	other, _ := Open(Options{Dir: c.opts.Dir, Salt: "build-2"})
	if _, ok := other.Get("k1"); ok {
		t.Error("a different salt hit the entry")
	}
}

func TestDamagedEntryIsAMiss(t *testing.T) {
	c, _ := Open(Options{Dir: t.TempDir()})
	c.Put("k", verdict("a"))
	p, _ := c.path("k")
	os.WriteFile(p, []byte(`{"key":"x","file":{}}`), 0o600)
	if _, ok := c.Get("k"); ok {
		t.Error("an entry under the wrong key was returned")
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the damaged entry was kept")
	}
	os.WriteFile(p, []byte("{trunc"), 0o600)
	if _, ok := c.Get("k"); ok {
		t.Error("a truncated entry was returned")
	}
}

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c, _ := Open(Options{Dir: dir})
			for i := range 50 {
				c.Put(fmt.Sprint("k", i%10), verdict(fmt.Sprint("w", w)))
				if f, ok := c.Get(fmt.Sprint("k", i%10)); ok && f.Status != report.StatusComplete {
					t.Errorf("torn read: %+v", f)
				}
			}
		})
	}
	wg.Wait()
	tmps, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func TestPruneKeepsRecent(t *testing.T) {
	c, _ := Open(Options{Dir: t.TempDir(), MaxEntries: 5})
	for i := range 12 {
		c.Put(fmt.Sprint("k", i), verdict("x"))
		p, _ := c.path(fmt.Sprint("k", i))
		ts := time.Now().Add(time.Duration(i-20) * time.Minute)
		os.Chtimes(p, ts, ts)
	}
	c.Get("k0") // used now: the most recent
	c.Prune()
	files, _ := filepath.Glob(filepath.Join(c.opts.Dir, "*", "*.json"))
	if len(files) != 5 {
		t.Fatalf("%d entries after pruning, want 5", len(files))
	}
	for _, k := range []string{"k0", "k11", "k10"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("recently used %s was pruned", k)
		}
	}
	if _, ok := c.Get("k1"); ok {
		t.Error("the oldest entry survived")
	}
}

func TestDirFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if d := Dir(env(nil)); d != "" {
		t.Errorf("no environment: %q, want no cache", d)
	}
	if d := Dir(env(map[string]string{"MODELGATE_CACHE_DIR": "/x"})); d != "/x" {
		t.Errorf("MODELGATE_CACHE_DIR: %q", d)
	}
	if d := Dir(env(map[string]string{"XDG_CACHE_HOME": "/c"})); d != "/c/modelgate/verdicts" {
		t.Errorf("XDG_CACHE_HOME: %q", d)
	}
}
