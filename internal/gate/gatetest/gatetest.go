// Package gatetest provides test doubles for the gate: a fake hub holding
// repositories in memory, a scanner that counts and can slow down scans,
// and the sample files tests scan.
package gatetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// Hub is an in-memory gate.Hub. Each repository has commits with files;
// branches name commits.
type Hub struct {
	mu       sync.Mutex
	repos    map[string]*repo
	failOpen map[string]error
	opens    atomic.Int64
}

type repo struct {
	branches map[string]string
	commits  map[string]map[string]file
}

type file struct {
	data []byte
	lfs  bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{repos: map[string]*repo{}, failOpen: map[string]error{}} }

// Name implements gate.Hub.
func (h *Hub) Name() string { return "https://hub.test" }

// Commit adds a commit with the files (path → content) to a repository
// and points branch "main" at it. Files listed in lfs get a sha256 in
// listings, as LFS files do; others do not, as small git files do not.
// It returns the commit sha.
func (h *Hub) Commit(repoID string, files map[string][]byte, lfs ...string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.repos[repoID]
	if r == nil {
		r = &repo{branches: map[string]string{}, commits: map[string]map[string]file{}}
		h.repos[repoID] = r
	}
	isLFS := map[string]bool{}
	for _, p := range lfs {
		isLFS[p] = true
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d %v", repoID, len(r.commits), files))
	commit := hex.EncodeToString(sum[:20])
	c := map[string]file{}
	for p, b := range files {
		c[p] = file{data: b, lfs: isLFS[p]}
	}
	r.commits[commit] = c
	r.branches["main"] = commit
	return commit
}

// FailOpen makes opening the file at path fail with err.
func (h *Hub) FailOpen(path string, err error) {
	h.mu.Lock()
	h.failOpen[path] = err
	h.mu.Unlock()
}

// Opens counts successful Open calls.
func (h *Hub) Opens() int64 { return h.opens.Load() }

// ListFiles implements gate.Hub.
func (h *Hub) ListFiles(ctx context.Context, repoID, revision string) (string, []gate.RemoteFile, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.repos[repoID]
	if r == nil {
		return "", nil, fmt.Errorf("%s: %w", repoID, gate.ErrNotOnHub)
	}
	commit := revision
	if revision == "" {
		revision = "main"
	}
	if c, ok := r.branches[revision]; ok {
		commit = c
	}
	files, ok := r.commits[commit]
	if !ok {
		return "", nil, fmt.Errorf("%s@%s: %w", repoID, revision, gate.ErrNotOnHub)
	}
	var out []gate.RemoteFile
	for p, f := range files {
		rf := gate.RemoteFile{Path: p, Size: int64(len(f.data))}
		if f.lfs {
			s := sha256.Sum256(f.data)
			rf.SHA256 = hex.EncodeToString(s[:])
		}
		out = append(out, rf)
	}
	slices.SortFunc(out, func(a, b gate.RemoteFile) int { return strings.Compare(a.Path, b.Path) })
	return commit, out, nil
}

// Open implements gate.Hub.
func (h *Hub) Open(ctx context.Context, repoID, commit string, f gate.RemoteFile) (scan.Content, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failOpen[f.Path]; err != nil {
		return nil, err
	}
	r := h.repos[repoID]
	if r == nil || r.commits[commit] == nil {
		return nil, fmt.Errorf("%s@%s: %w", repoID, commit, gate.ErrNotOnHub)
	}
	fl, ok := r.commits[commit][f.Path]
	if !ok {
		return nil, fmt.Errorf("%s@%s/%s: %w", repoID, commit, f.Path, gate.ErrNotOnHub)
	}
	h.opens.Add(1)
	return nopCloser{bytes.NewReader(fl.data)}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Scanner wraps the default scanner, counting scans per sha256 and
// optionally holding each scan for Delay or until Release is closed.
type Scanner struct {
	Inner gate.Scanner
	Delay time.Duration
	// Started receives the sha256 of each scan as it starts, if not nil.
	Started chan string
	// Release, if not nil, holds every scan until it is closed.
	Release chan struct{}
	mu      sync.Mutex
	counts  map[string]int
	total   atomic.Int64
}

// NewScanner returns a counting scanner around the default one.
func NewScanner() *Scanner { return &Scanner{Inner: gate.NewScanner(), counts: map[string]int{}} }

// Scan implements gate.Scanner.
func (s *Scanner) Scan(ctx context.Context, pol *policy.Policy, path string, r io.ReaderAt, size int64, sha string) *report.File {
	s.mu.Lock()
	s.counts[sha]++
	s.mu.Unlock()
	s.total.Add(1)
	if s.Started != nil {
		s.Started <- sha
	}
	if s.Release != nil {
		<-s.Release
	}
	if s.Delay > 0 {
		time.Sleep(s.Delay)
	}
	return s.Inner.Scan(ctx, pol, path, r, size, sha)
}

// Count returns how many times content was scanned.
func (s *Scanner) Count(sha string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[sha]
}

// Total returns the number of scans.
func (s *Scanner) Total() int64 { return s.total.Load() }

// Counts returns a copy of the scan counts by sha256.
func (s *Scanner) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Root is the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Malicious is a pickle that would run os.system('echo pwned') on load
// (examples/payload.pkl); Benign is plain data (a corpus sample).
func Malicious() []byte { return mustRead(filepath.Join(Root(), "examples", "payload.pkl")) }

// Benign returns a pickle of plain data.
func Benign() []byte {
	return mustRead(filepath.Join(Root(), "testdata", "corpus", "benign", "pickle", "plain_data_p4.pkl"))
}

// SHA256 is the hex sha256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}
