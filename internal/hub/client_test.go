package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"modelgate/internal/fakehub"
)

const testToken = "hf_clientTestTokenBBBBBBBBBBBBBBBBBBB"

type fixture struct {
	dir    string
	srv    *fakehub.Server
	c      *Client
	waits  []time.Duration
	waitMu sync.Mutex
}

func newFixture(t *testing.T, cfg Config) *fixture { return newFixtureCfg(t, cfg) }

func newFixtureTB(b *testing.B) *fixture { return newFixtureCfg(b, Config{}) }

func newFixtureCfg(t testing.TB, cfg Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	h, err := fakehub.New(fakehub.Options{Dir: dir, Tokens: []string{testToken}, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f := &fixture{dir: dir, srv: srv}
	cfg.Endpoint = srv.URL
	cfg.sleep = func(ctx context.Context, d time.Duration) error {
		f.waitMu.Lock()
		f.waits = append(f.waits, d)
		f.waitMu.Unlock()
		return nil
	}
	f.c, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) upload(t testing.TB, id string, files map[string][]byte) Ref {
	t.Helper()
	if err := f.srv.Hub.Upload("models", id, files); err != nil {
		t.Fatal(err)
	}
	return Ref{Type: Model, ID: id}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestInfoTreeAndRead(t *testing.T) {
	f := newFixture(t, Config{Token: testToken, BlockSize: 4 << 10, WholeFileMax: 1 << 10})
	big := bytes.Repeat([]byte("0123456789"), 10_000) // 100 KB
	ref := f.upload(t, "acme/m", map[string][]byte{"config.json": []byte(`{"a":1}`), "model.bin": big, "d/x.txt": []byte("x")})
	ctx := context.Background()
	commit, err := f.c.Resolve(ctx, ref)
	if err != nil || commit != f.srv.Hub.Commit("models", "acme/m") {
		t.Fatalf("Resolve = %q, %v", commit, err)
	}
	info, err := f.c.Info(ctx, ref.At(commit), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Siblings {
		if s.RFilename == "model.bin" && (s.LFS == nil || s.LFS.SHA256 != sha(big)) {
			t.Errorf("info sibling sha256: %+v", s)
		}
	}
	var files []TreeEntry
	err = f.c.Tree(ctx, ref.At(commit), "", true, func(e TreeEntry) error {
		if e.Type == "file" {
			files = append(files, e)
		}
		return nil
	})
	if err != nil || len(files) != 3 {
		t.Fatalf("tree: %v, %v", files, err)
	}
	var bin TreeEntry
	for _, e := range files {
		if e.Path == "model.bin" {
			bin = e
		}
	}
	if bin.SHA256() != sha(big) || bin.Size != int64(len(big)) {
		t.Fatalf("tree entry of model.bin: %+v", bin)
	}
	file := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "model.bin", Size: bin.Size, SHA256: bin.SHA256()})
	buf := make([]byte, 10)
	if _, err := file.ReadAt(buf, 50_005); err != nil || string(buf) != "5678901234" {
		t.Fatalf("ReadAt = %q, %v", buf, err)
	}
	before := f.srv.Hub.Stats().CDNBytes
	if _, err := file.ReadAt(buf, 50_001); err != nil {
		t.Fatal(err)
	}
	if after := f.srv.Hub.Stats().CDNBytes; after != before {
		t.Errorf("a read within a cached block went to the network (%d bytes)", after-before)
	}
	if got := f.srv.Hub.Stats().CDNBytes; got > 8<<10 {
		t.Errorf("two small reads transferred %d bytes", got)
	}
	// HEAD gives the metadata without the content, LFS or not.
	meta, err := f.c.Head(ctx, ref.At(commit), "model.bin")
	if err != nil || meta.ETag != sha(big) || meta.Size != int64(len(big)) || meta.Commit != commit || meta.Location == "" {
		t.Errorf("Head(model.bin) = %+v, %v", meta, err)
	}
	meta, err = f.c.Head(ctx, ref, "config.json")
	if err != nil || meta.ETag != gitBlob([]byte(`{"a":1}`)) || meta.Size != 7 || meta.Location != "" {
		t.Errorf("Head(config.json) = %+v, %v", meta, err)
	}
	// Reading everything verifies the sha256.
	all, err := io.ReadAll(io.NewSectionReader(file, 0, bin.Size))
	if err != nil || !bytes.Equal(all, big) {
		t.Fatalf("full read: %v", err)
	}
	if f.srv.Hub.Stats().CDNAuthorization != 0 {
		t.Error("the token was sent to the CDN")
	}
	// Small regular files are fetched whole and checked against the git id.
	var cfgEntry TreeEntry
	for _, e := range files {
		if e.Path == "config.json" {
			cfgEntry = e
		}
	}
	small := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "config.json", Size: cfgEntry.Size, GitOID: cfgEntry.OID})
	b, err := io.ReadAll(io.NewSectionReader(small, 0, small.Size()))
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("small file: %q %v", b, err)
	}
}

func TestChecksumMismatchFailsTheRead(t *testing.T) {
	f := newFixture(t, Config{BlockSize: 4 << 10, WholeFileMax: 1 << 10})
	orig := bytes.Repeat([]byte("a"), 20_000)
	ref := f.upload(t, "acme/m", map[string][]byte{"model.bin": orig, "small.txt": []byte("hello")})
	ctx := context.Background()
	commit, _ := f.c.Resolve(ctx, ref)
	// Swap the content on disk behind the hub's back, keeping size and time.
	for name, evil := range map[string][]byte{"model.bin": bytes.Repeat([]byte("b"), 20_000), "small.txt": []byte("jello")} {
		p := filepath.Join(f.dir, "acme", "m", name)
		info, _ := os.Stat(p)
		os.WriteFile(p, evil, 0o644)
		os.Chtimes(p, info.ModTime(), info.ModTime())
	}
	big := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "model.bin", Size: 20_000, SHA256: sha(orig)})
	if _, err := io.ReadAll(io.NewSectionReader(big, 0, 20_000)); !errors.Is(err, ErrChecksum) {
		t.Errorf("full read of swapped LFS content: %v, want ErrChecksum", err)
	}
	if _, err := big.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrChecksum) {
		t.Errorf("reads after a mismatch must keep failing: %v", err)
	}
	small := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "small.txt", Size: 5, GitOID: gitBlob([]byte("hello"))})
	if _, err := small.ReadAt(make([]byte, 5), 0); !errors.Is(err, ErrChecksum) {
		t.Errorf("swapped small file: %v, want ErrChecksum", err)
	}
}

func TestErrorsAreClear(t *testing.T) {
	f := newFixture(t, Config{})
	ref := f.upload(t, "acme/gated", map[string][]byte{"a.txt": []byte("x")})
	if err := f.srv.Hub.Configure("models", "acme/gated", fakehub.Settings{Gated: "auto"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := f.c.Head(ctx, ref, "a.txt")
	if !errors.Is(err, ErrGated) || !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("gated download without a token: %v", err)
	}
	_, err = f.c.Info(ctx, Ref{Type: Model, ID: "acme/none"}, false)
	if !errors.Is(err, ErrRepoNotFound) || !strings.Contains(err.Error(), "private repository needs HF_TOKEN") {
		t.Errorf("missing repo: %v", err)
	}
	_, err = f.c.Info(ctx, ref.At("v9"), false)
	if !errors.Is(err, ErrRevisionNotFound) {
		t.Errorf("missing revision: %v", err)
	}
	if len(f.waits) != 0 {
		t.Errorf("4xx answers were retried: %v", f.waits)
	}
}

func TestRetriesAndRateLimits(t *testing.T) {
	f := newFixture(t, Config{MaxWait: 10 * time.Second})
	ref := f.upload(t, "acme/m", map[string][]byte{"a.txt": []byte("x")})
	ctx := context.Background()
	f.srv.Hub.FailNext(2, http.StatusServiceUnavailable, 0)
	if _, err := f.c.Resolve(ctx, ref); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	if len(f.waits) != 2 {
		t.Errorf("waits %v, want two backoffs", f.waits)
	}
	f.waits = nil
	f.srv.Hub.FailNext(1, http.StatusTooManyRequests, 7*time.Second)
	if _, err := f.c.Resolve(ctx, ref); err != nil {
		t.Fatalf("after a 429: %v", err)
	}
	if len(f.waits) != 1 || f.waits[0] != 7*time.Second {
		t.Errorf("429 waits %v, want exactly the 7s asked for", f.waits)
	}
	f.srv.Hub.FailNext(1, http.StatusTooManyRequests, time.Hour)
	_, err := f.c.Resolve(ctx, ref)
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "longer than allowed") {
		t.Errorf("a 429 asking for an hour: %v", err)
	}
	f.srv.Hub.FailNext(100, http.StatusBadGateway, 0)
	if _, err := f.c.Resolve(ctx, ref); err == nil {
		t.Error("endless 502s succeeded")
	}
	f.srv.Hub.FailNext(0, 0, 0)
}

func TestListFollowsCursor(t *testing.T) {
	f := newFixture(t, Config{})
	for _, id := range []string{"acme/a", "acme/b", "acme/c", "other/d"} {
		f.upload(t, id, map[string][]byte{"README.md": []byte(id)})
	}
	var got []string
	err := f.c.List(context.Background(), Model, ListOptions{Author: "acme", Limit: 2, Expand: []string{"sha", "lastModified"}}, func(r RepoInfo) error {
		got = append(got, r.ID)
		if r.SHA == "" || r.LastModified.IsZero() {
			t.Errorf("expanded fields missing: %+v", r)
		}
		return nil
	})
	if err != nil || strings.Join(got, ",") != "acme/c,acme/b,acme/a" {
		t.Errorf("List = %v, %v", got, err)
	}
}

func TestServerIgnoringRange(t *testing.T) {
	content := bytes.Repeat([]byte("z"), 20<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(content) // 200, whatever the Range
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, BlockSize: 4 << 10, WholeFileMax: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Open(context.Background(), FileSpec{Repo: Ref{Type: Model, ID: "a/b"}.At("main"), Path: "x", Size: int64(len(content))})
	if _, err := f.ReadAt(make([]byte, 4), 0); err != nil {
		t.Errorf("a read near the start should use the prefix: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 4), int64(len(content))-4); !errors.Is(err, ErrNoRange) {
		t.Errorf("a read at the end of a file served without Range: %v, want ErrNoRange", err)
	}
	if c.BytesRead() > 10<<20 {
		t.Errorf("read %d bytes from a server ignoring Range", c.BytesRead())
	}
}

func TestRedirectKeepsTokenAtHome(t *testing.T) {
	var cdnAuth string
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Range", "bytes 0-3/4")
		w.WriteHeader(http.StatusPartialContent)
		w.Write([]byte("data"))
	}))
	defer cdn.Close()
	var homeAuth string
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		homeAuth = r.Header.Get("Authorization")
		http.Redirect(w, r, cdn.URL+"/blob?sig=secret", http.StatusFound)
	}))
	defer home.Close()
	c, _ := New(Config{Endpoint: home.URL, Token: "hf_secret", WholeFileMax: 1})
	f := c.Open(context.Background(), FileSpec{Repo: Ref{Type: Model, ID: "a/b"}.At("main"), Path: "x", Size: 4})
	buf := make([]byte, 4)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "data" {
		t.Fatalf("read through redirect: %q %v", buf, err)
	}
	if homeAuth != "Bearer hf_secret" || cdnAuth != "" {
		t.Errorf("Authorization at home %q, at the CDN %q", homeAuth, cdnAuth)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"12"}}, 12 * time.Second},
		{http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, 30 * time.Second},
		{http.Header{"Ratelimit": {`"api";r=0;t=42`}}, 42 * time.Second},
		{http.Header{}, 0},
	}
	for _, c := range cases {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("retryAfter(%v) = %s, want %s", c.h, got, c.want)
		}
	}
	if got := nextLink([]string{`<https://h/api/models?cursor=abc&limit=2>; rel="next", <https://h/x>; rel="prev"`}); got != "https://h/api/models?cursor=abc&limit=2" {
		t.Errorf("nextLink = %q", got)
	}
}

// TestRandomReads compares many random reads of a remote file with its
// content: block boundaries, read-ahead, the file's end, concurrent use.
func TestRandomReads(t *testing.T) {
	f := newFixture(t, Config{BlockSize: 1 << 10, WholeFileMax: 512, CacheBytes: 16 << 10})
	content := make([]byte, 300_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(r.IntN(256))
	}
	ref := f.upload(t, "acme/m", map[string][]byte{"model.bin": content})
	ctx := context.Background()
	commit, _ := f.c.Resolve(ctx, ref)
	file := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "model.bin", Size: int64(len(content)), SHA256: sha(content)})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rr := rand.New(rand.NewPCG(uint64(w), 9))
			for range 300 {
				off := rr.Int64N(int64(len(content)) + 10)
				buf := make([]byte, rr.IntN(5000))
				n, err := file.ReadAt(buf, off)
				want := []byte{}
				if off < int64(len(content)) {
					want = content[off:min(off+int64(len(buf)), int64(len(content)))]
				}
				if n != len(want) || !bytes.Equal(buf[:n], want) {
					t.Errorf("ReadAt(%d, %d) = %d bytes, want %d", off, len(buf), n, len(want))
					return
				}
				if n < len(buf) && err != io.EOF {
					t.Errorf("short read at %d without io.EOF: %v", off, err)
					return
				}
				if n == len(buf) && err != nil {
					t.Errorf("full read at %d with error %v", off, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"hf://org/repo", "hf://datasets/a/b@v1/x/y", "hf://gpt2@refs%2Fpr%2F1", "hf://spaces/o/r/..", "hf://a/b@%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		back, err := ParseRef(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q → %+v → %q → %+v, %v", s, r, r.String(), back, err)
		}
	})
}
