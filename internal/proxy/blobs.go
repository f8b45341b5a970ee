package proxy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// blobCache keeps files the proxy has read from the upstream in full and
// verified, named by their sha256, so that later downloads and Range
// requests (parallel downloaders send many) are served from the gate's
// disk instead of reading the whole file from the upstream again. A blob
// enters the cache only after its bytes hashed to its name; the folder
// is the gate's own, trusted like its store.
type blobCache struct {
	dir string
	max int64

	mu      sync.Mutex
	filling map[string]chan struct{} // sha256 → closed when its fill ends
}

func newBlobCache(dir string, max int64) (*blobCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Fills a crash interrupted are never completed; remove them.
	if old, _ := filepath.Glob(filepath.Join(dir, ".fill-*")); len(old) > 0 {
		for _, p := range old {
			os.Remove(p)
		}
	}
	return &blobCache{dir: dir, max: max, filling: map[string]chan struct{}{}}, nil
}

// open returns the cached blob for sha if it holds size bytes, marking it
// recently used.
func (c *blobCache) open(sha string, size int64) *os.File {
	p := filepath.Join(c.dir, sha)
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		f.Close()
		return nil
	}
	now := time.Now()
	os.Chtimes(p, now, now)
	return f
}

// claim makes the caller the one filling sha, returning a temporary file
// to write to and a function to finish the fill: ok stores the blob. If
// another request is filling sha already, claim waits for it and returns
// nil, so the caller looks in the cache again. A file over the cache's
// size is never cached (nil, nil).
func (c *blobCache) claim(ctx context.Context, sha string, size int64) (*os.File, func(ok bool), error) {
	if size > c.max {
		return nil, nil, nil
	}
	c.mu.Lock()
	if ch, busy := c.filling[sha]; busy {
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return nil, nil, nil
	}
	ch := make(chan struct{})
	c.filling[sha] = ch
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		delete(c.filling, sha)
		c.mu.Unlock()
		close(ch)
	}
	f, err := os.CreateTemp(c.dir, ".fill-"+sha+"-*")
	if err != nil {
		release()
		return nil, nil, err
	}
	done := func(ok bool) {
		defer release()
		name := f.Name()
		if err := f.Close(); err != nil || !ok {
			os.Remove(name)
			return
		}
		if err := os.Rename(name, filepath.Join(c.dir, sha)); err != nil {
			os.Remove(name)
			return
		}
		c.evict(sha)
	}
	return f, done, nil
}

// evict removes least recently used blobs until the cache fits, keeping
// the one just added.
func (c *blobCache) evict(keep string) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type blob struct {
		name string
		size int64
		used time.Time
	}
	var blobs []blob
	var total int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		blobs = append(blobs, blob{e.Name(), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	slices.SortFunc(blobs, func(a, b blob) int { return a.used.Compare(b.used) })
	for _, b := range blobs {
		if total <= c.max {
			return
		}
		if b.name == keep {
			continue
		}
		if os.Remove(filepath.Join(c.dir, b.name)) == nil {
			total -= b.size
		}
	}
}
