// Package verdictcache stores scan verdicts on disk by content, so that a
// file already scanned with the same scanner and policy is not scanned
// again. One JSON file per key, written atomically (temporary file and
// rename), so concurrent scans can share a cache; the number of entries
// is bounded, the least recently used going first.
package verdictcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"modelgate/internal/report"
)

// Options configure a Cache.
type Options struct {
	// Dir holds the entries.
	Dir string
	// Salt is mixed into every key: the CLI passes a hash of its own
	// executable, so a rebuilt binary never trusts verdicts of another.
	Salt string
	// MaxEntries bounds the entries kept (default 20,000).
	MaxEntries int
	// MaxEntryBytes: larger verdicts are not stored (default 1 MiB).
	MaxEntryBytes int
}

// Cache is a verdict cache in a folder. It implements scan.VerdictCache.
type Cache struct {
	opts Options
	mu   sync.Mutex
	puts int
}

// envelope is what an entry file holds.
type envelope struct {
	Key  string       `json:"key"`
	File *report.File `json:"file"`
}

// Open returns the cache in opts.Dir, creating the folder.
func Open(opts Options) (*Cache, error) {
	if opts.Dir == "" {
		return nil, errors.New("verdictcache: no folder")
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 20_000
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = 1 << 20
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	return &Cache{opts: opts}, nil
}

// Dir is where the cache lives by default: MODELGATE_CACHE_DIR, else
// $XDG_CACHE_HOME/modelgate/verdicts, else ~/.cache/modelgate/verdicts
// (the user cache folder). getenv is os.Getenv in production; with an
// environment that sets none of these, Dir returns "" and there is no
// cache.
func Dir(getenv func(string) string) string {
	if d := getenv("MODELGATE_CACHE_DIR"); d != "" {
		return d
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "modelgate", "verdicts")
	}
	if getenv("HOME") == "" {
		return ""
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "modelgate", "verdicts")
}

func (c *Cache) path(key string) (string, string) {
	h := sha256.Sum256([]byte(c.opts.Salt + "\x00" + key))
	name := hex.EncodeToString(h[:])
	return filepath.Join(c.opts.Dir, name[:2], name+".json"), name
}

// Get returns the verdict stored under key. A damaged entry is a miss
// (and is removed).
func (c *Cache) Get(key string) (*report.File, bool) {
	p, name := c.path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var e envelope
	if json.Unmarshal(b, &e) != nil || e.Key != name || e.File == nil {
		os.Remove(p)
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // recently used
	return e.File, true
}

// Put stores a verdict under key; failures are ignored (a cache is best
// effort).
func (c *Cache) Put(key string, f *report.File) {
	p, name := c.path(key)
	b, err := json.Marshal(envelope{Key: name, File: f})
	if err != nil || len(b) > c.opts.MaxEntryBytes {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
		return
	}
	c.mu.Lock()
	c.puts++
	prune := c.puts%64 == 1
	c.mu.Unlock()
	if prune {
		c.Prune()
	}
}

// Prune removes the least recently used entries beyond MaxEntries, and
// temporary files left by interrupted writers.
func (c *Cache) Prune() {
	type entry struct {
		path string
		mod  time.Time
	}
	var entries []entry
	old := time.Now().Add(-time.Hour)
	filepath.WalkDir(c.opts.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			if info.ModTime().Before(old) {
				os.Remove(p)
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".json") {
			entries = append(entries, entry{p, info.ModTime()})
		}
		return nil
	})
	if len(entries) <= c.opts.MaxEntries {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mod.Compare(b.mod) })
	for _, e := range entries[:len(entries)-c.opts.MaxEntries] {
		os.Remove(e.path)
	}
}
