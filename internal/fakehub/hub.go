// Package fakehub is a local stand-in for the Hugging Face Hub: it serves
// a folder of repositories with the real API's shapes (listing with
// cursor pagination, repository info, trees, paths-info, resolve with
// ETag/X-Linked-Etag and a redirect to a second "CDN" handler for LFS
// files, Range requests, 401 for gated and private repositories, 429 with
// rate-limit headers) and counts the bytes it serves. Tests of the hub
// client, remote scans and watchers run against it on loopback;
// `modelgate fakehub DIR` serves it for demos.
//
// Layout: DIR/ORG/NAME/… are models, DIR/datasets/ORG/NAME/… datasets and
// DIR/spaces/ORG/NAME/… spaces. A repository's commit sha is a hash of its
// file list and its parent, so a change on disk (or through Upload) gives
// a new commit with a newer lastModified; earlier commits stay resolvable
// while their files are unchanged on disk.
package fakehub

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Hub.
type Options struct {
	// Dir holds the repositories.
	Dir string
	// Tokens are the accepted access tokens.
	Tokens []string
	// LFSThreshold: files at least this big are LFS files, as are files
	// with the extensions the hub's default .gitattributes lists
	// (default 10 MiB).
	LFSThreshold int64
	// PageSize caps a listing page (default 1000); TreePageSize a tree
	// page (default 1000, and 50 with expand=true, as on the hub).
	PageSize, TreePageSize, TreeExpandPageSize int
	// Rescan is how stale the view of Dir may get; requests rescan it
	// when it is older (default 1s). Upload and Refresh rescan at once.
	Rescan time.Duration
	// Now returns the time (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Hub serves the repositories of a folder. Its HTTP handlers are API()
// (the hub itself) and CDN() (where LFS downloads redirect to).
type Hub struct {
	opts    Options
	signKey []byte

	mu          sync.Mutex
	repos       map[string]*repo // "models/org/name"
	hashes      map[string]hashed
	blobs       map[string]*blob // by sha256, for the CDN
	lastScan    time.Time
	clock       time.Time // the last lastModified given out
	cdnBase     string
	scanErr     error
	rate        map[string]*window
	failNext    int
	failStatus  int
	failWait    time.Duration
	initialized bool

	apiBytes, resolveBytes, cdnBytes atomic.Int64
	requests, cdnAuthSeen            atomic.Int64
}

// New loads Dir and returns the hub.
func New(opts Options) (*Hub, error) {
	if opts.Dir == "" {
		return nil, errors.New("fakehub: no folder")
	}
	if info, err := os.Stat(opts.Dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("fakehub: %s is not a folder", opts.Dir)
	}
	if opts.LFSThreshold <= 0 {
		opts.LFSThreshold = 10 << 20
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.TreePageSize <= 0 {
		opts.TreePageSize = 1000
	}
	if opts.TreeExpandPageSize <= 0 {
		opts.TreeExpandPageSize = 50
	}
	if opts.Rescan == 0 {
		opts.Rescan = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, 32)
	rand.Read(key)
	h := &Hub{opts: opts, signKey: key, repos: map[string]*repo{}, hashes: map[string]hashed{}, blobs: map[string]*blob{}, rate: map[string]*window{}}
	if err := h.Refresh(); err != nil {
		return nil, err
	}
	return h, nil
}

// Refresh rescans the folder now.
func (h *Hub) Refresh() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scanLocked()
}

// maybeRescan rescans the folder if the view is older than Options.Rescan.
func (h *Hub) maybeRescan() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.Now().Sub(h.lastScan) >= h.opts.Rescan {
		if err := h.scanLocked(); err != nil {
			h.opts.Logger.Warn("fakehub: rescan failed", "error", err)
		}
	}
}

func (h *Hub) scanLocked() error {
	now := h.opts.Now()
	h.lastScan = now
	found, err := scanRepos(h.opts.Dir)
	if err != nil {
		return fmt.Errorf("fakehub: %w", err)
	}
	for key := range h.repos {
		if _, ok := found[key]; !ok {
			delete(h.repos, key)
		}
	}
	for key, dir := range found {
		settings, err := readSettings(dir)
		if err != nil {
			h.opts.Logger.Warn("fakehub: bad settings", "repo", key, "error", err)
		}
		snap, err := snapshotOf(dir, h.opts.LFSThreshold, h.hashes)
		if err != nil {
			h.opts.Logger.Warn("fakehub: cannot read repository", "repo", key, "error", err)
			continue
		}
		typ, id, _ := strings.Cut(key, "/")
		r := h.repos[key]
		if r == nil {
			r = &repo{typ: typ, id: id, dir: dir, bySHA: map[string]*snapshot{}}
			h.repos[key] = r
		}
		r.settings = settings
		if r.cur != nil && r.cur.tree == snap.tree {
			continue
		}
		parent := ""
		if r.cur != nil {
			parent = r.cur.sha
		}
		snap.sha = commitID(snap.tree, parent)
		// The first view of the folder dates repositories by their files;
		// a change seen later is dated now, and always newer than any
		// date given out before, so watchers see it as the newest.
		if !h.initialized {
			snap.lastModified = snap.maxModTime().UTC().Truncate(time.Millisecond)
			if snap.lastModified.IsZero() {
				snap.lastModified = now.UTC().Truncate(time.Millisecond)
			}
		} else {
			snap.lastModified = h.tick(now)
		}
		if r.createdAt.IsZero() {
			r.createdAt = snap.lastModified
		}
		r.bySHA[snap.sha] = snap
		r.history = append(r.history, snap)
		r.cur = snap
		for _, b := range snap.files {
			if b.lfs {
				h.blobs[b.sha256] = b
			}
		}
	}
	h.initialized = true
	return nil
}

// tick returns a time after every lastModified given out so far.
func (h *Hub) tick(now time.Time) time.Time {
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(h.clock) {
		t = h.clock.Add(time.Millisecond)
	}
	h.clock = t
	return t
}

// repoDir is the folder of a repository ("models", "org/name").
func (h *Hub) repoDir(typ, id string) (string, error) {
	org, name, ok := strings.Cut(id, "/")
	if !ok || !validName(org) || !validName(name) {
		return "", fmt.Errorf("fakehub: %q is not ORG/NAME", id)
	}
	switch typ {
	case "models", "":
		if org == "datasets" || org == "spaces" {
			return "", fmt.Errorf("fakehub: %q is reserved", org)
		}
		return filepath.Join(h.opts.Dir, org, name), nil
	case "datasets", "spaces":
		return filepath.Join(h.opts.Dir, typ, org, name), nil
	}
	return "", fmt.Errorf("fakehub: unknown repository type %q", typ)
}

// Upload writes files (path → content) into a repository, creating it if
// needed, as one commit. typ is "models", "datasets" or "spaces".
func (h *Hub) Upload(typ, id string, files map[string][]byte) error {
	dir, err := h.repoDir(typ, id)
	if err != nil {
		return err
	}
	for p, b := range files {
		clean := filepath.Clean(filepath.FromSlash(p))
		if p == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || clean == SettingsFile {
			return fmt.Errorf("fakehub: bad path %q", p)
		}
		dst := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		tmp := dst + ".fakehub-tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return h.Refresh()
}

// Delete removes files from a repository as one commit.
func (h *Hub) Delete(typ, id string, paths ...string) error {
	dir, err := h.repoDir(typ, id)
	if err != nil {
		return err
	}
	for _, p := range paths {
		clean := filepath.Clean(filepath.FromSlash(p))
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("fakehub: bad path %q", p)
		}
		if err := os.Remove(filepath.Join(dir, clean)); err != nil {
			return err
		}
	}
	return h.Refresh()
}

// Configure writes a repository's settings (gated, private, tags, …).
func (h *Hub) Configure(typ, id string, s Settings) error {
	dir, err := h.repoDir(typ, id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := jsonMarshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), b, 0o644); err != nil {
		return err
	}
	return h.Refresh()
}

// Commit returns the current commit sha of a repository, or "".
func (h *Hub) Commit(typ, id string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.repos[typ+"/"+id]; r != nil && r.cur != nil {
		return r.cur.sha
	}
	return ""
}

// Stats counts what the hub served.
type Stats struct {
	// APIBytes, ResolveBytes and CDNBytes are response body bytes
	// written by the API, resolve and CDN handlers.
	APIBytes, ResolveBytes, CDNBytes int64
	Requests                         int64
	// CDNAuthorization counts CDN requests that carried an Authorization
	// header: a client must never send its hub token there.
	CDNAuthorization int64
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	return Stats{APIBytes: h.apiBytes.Load(), ResolveBytes: h.resolveBytes.Load(), CDNBytes: h.cdnBytes.Load(),
		Requests: h.requests.Load(), CDNAuthorization: h.cdnAuthSeen.Load()}
}

// BytesServed is every response body byte written so far.
func (h *Hub) BytesServed() int64 {
	s := h.Stats()
	return s.APIBytes + s.ResolveBytes + s.CDNBytes
}

// ResetStats zeroes the counters.
func (h *Hub) ResetStats() {
	h.apiBytes.Store(0)
	h.resolveBytes.Store(0)
	h.cdnBytes.Store(0)
	h.requests.Store(0)
	h.cdnAuthSeen.Store(0)
}

func validName(s string) bool {
	if s == "" || len(s) > 96 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Repos lists the repositories served, as "models/ORG/NAME",
// "datasets/ORG/NAME" and "spaces/ORG/NAME", sorted.
func (h *Hub) Repos() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.repos))
	for k := range h.repos {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
