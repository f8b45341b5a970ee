package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/proxy"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

// lfsHub is an upstream listing LFS files by sha256; it counts whole-file
// downloads (the scan's own reads are Range requests) and can be slow or
// serve other bytes than it lists.
type lfsHub struct {
	files  map[string][]byte
	full   atomic.Int64
	delay  time.Duration
	tamper atomic.Bool
}

func (h *lfsHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	content, ok := h.files[name]
	if !ok || !strings.Contains(r.URL.Path, "/resolve/") {
		http.NotFound(w, r)
		return
	}
	sha := gatetest.SHA256(content)
	w.Header().Set("X-Repo-Commit", strings.Repeat("cd", 20))
	w.Header().Set("ETag", `"`+sha+`"`)
	w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
	if r.Method == http.MethodHead {
		return
	}
	body := content
	if h.tamper.Load() {
		body = bytes.Clone(body)
		body[len(body)/2] ^= 0xff
	}
	if r.Header.Get("Range") != "" {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	h.full.Add(1)
	time.Sleep(h.delay)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func gateWithBlobs(t *testing.T, url string, max int64) (string, string, *prometheus.Registry, string) {
	t.Helper()
	b := storetest.Open(t, "sqlite", store.Options{})
	c, err := hub.New(hub.Config{Endpoint: url, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(gate.Options{Store: b, Queue: b, Hub: gatehub.New(c), TempDir: t.TempDir()})
	ctx := context.Background()
	if _, err := g.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := g.IssueToken(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	dir := filepath.Join(t.TempDir(), "blobs")
	p, err := proxy.New(proxy.Options{Gate: g, Client: c, TempDir: t.TempDir(), Registerer: reg, BlobDir: dir, BlobMaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	return ts.URL, tok, reg, dir
}

// variant makes distinct benign files: a pickle with its own trailing
// bytes (a low finding, allowed).
func variant(i int) []byte {
	return append(gatetest.Benign(), bytes.Repeat([]byte{byte('a' + i)}, 100+i)...)
}

// TestBlobCache: a file read in full and verified once is served from
// the gate's disk afterwards, whole or by range, and concurrent first
// requests read the upstream once.
func TestBlobCache(t *testing.T) {
	a, b, c := variant(0), variant(1), variant(2)
	up := &lfsHub{files: map[string][]byte{"a.pkl": a, "b.pkl": b, "c.pkl": c}}
	us := httptest.NewServer(up)
	defer us.Close()
	base, tok, reg, dir := gateWithBlobs(t, us.URL, int64(len(a))*3/2)
	url := func(n string) string { return base + "/org/m/resolve/main/" + n }

	for i := range 3 {
		resp, body, err := get(t, "GET", url("a.pkl"), tok)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, a) {
			t.Fatalf("GET %d: %d %v", i, resp.StatusCode, err)
		}
	}
	resp, body, err := get(t, "GET", url("a.pkl"), tok, "Range", "bytes=5-9")
	if err != nil || resp.StatusCode != 206 || !bytes.Equal(body, a[5:10]) || resp.Header.Get("Content-Range") != "bytes 5-9/"+strconv.Itoa(len(a)) {
		t.Fatalf("range from the cache: %d %q %v", resp.StatusCode, body, err)
	}
	// One read for the first-request scan (a small file is read whole),
	// one for the first download; the rest came from the cache.
	if n := up.full.Load(); n != 2 {
		t.Errorf("whole-file upstream reads: %d, want 2", n)
	}
	if hits := counter(t, reg, "modelgate_proxy_blob_cache_total", "hit"); hits != 3 {
		t.Errorf("cache hits %v", hits)
	}

	// Parallel first requests (as parallel-range downloaders make) read
	// the upstream once.
	up.delay = 300 * time.Millisecond
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			rng := "bytes=" + strconv.Itoa(i) + "-" + strconv.Itoa(i+10)
			resp, body, err := get(t, "GET", url("b.pkl"), tok, "Range", rng)
			if err != nil || resp.StatusCode != 206 || !bytes.Equal(body, b[i:i+11]) {
				t.Errorf("parallel %d: %d %v", i, resp.StatusCode, err)
			}
		})
	}
	wg.Wait()
	if n := up.full.Load(); n != 4 {
		t.Errorf("whole-file upstream reads after parallel requests: %d, want 4", n)
	}
	// b pushed a out: the cache holds one file of this size.
	if _, err := os.Stat(filepath.Join(dir, gatetest.SHA256(a))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("least recently used blob not evicted: %v", err)
	}

	// Bytes that don't match are never kept. (HEAD has the file judged
	// on its honest bytes first, without downloading it.)
	up.delay = 0
	if resp, _, err := get(t, "HEAD", url("c.pkl"), tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, err)
	}
	up.tamper.Store(true)
	for range 2 {
		if _, _, err := get(t, "GET", url("c.pkl"), tok); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("tampered download delivered whole: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, gatetest.SHA256(c))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tampered bytes were cached: %v", err)
	}
	if n := up.full.Load(); n != 7 {
		t.Errorf("whole-file upstream reads after tampering: %d, want 7", n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".fill-*")); len(left) != 0 {
		t.Errorf("temporary fills left behind: %v", left)
	}
}
