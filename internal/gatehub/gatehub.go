// Package gatehub connects the gate to a real hub: Hub adapts an
// internal/hub Client (the Hugging Face Hub, or any server with its API)
// to gate.Hub, so admission, scan jobs, the download proxy and the watcher
// read repositories through one client with its retries, rate-limit
// handling and block cache.
package gatehub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/gate"
	"modelgate/internal/hub"
	"modelgate/internal/scan"
)

// DefaultMaxFiles bounds the files a revision may list. The hub advises
// under 100,000 files per repository; a listing beyond that is refused
// rather than truncated, since a truncated listing would leave files
// unjudged.
const DefaultMaxFiles = 100_000

// Hub is a gate.Hub over a hub client.
type Hub struct {
	c        *hub.Client
	maxFiles int
}

// New returns the adapter.
func New(c *hub.Client) *Hub { return &Hub{c: c, maxFiles: DefaultMaxFiles} }

// Client returns the underlying client.
func (h *Hub) Client() *hub.Client { return h.c }

// Name implements gate.Hub: the endpoint URL, as recorded in observations
// and job payloads. Every process sharing a store must name the hub the
// same way.
func (h *Hub) Name() string { return h.c.Endpoint() }

// ParseRepo reads a gate repository name: "org/name" for a model,
// "datasets/org/name" or "spaces/org/name" for the others (the hub reserves
// those two organisation names, so the prefix is unambiguous).
func ParseRepo(repo string) (hub.Ref, error) {
	r, err := hub.ParseRef(hub.Scheme + repo)
	if err != nil {
		return hub.Ref{}, fmt.Errorf("%w: %v", gate.ErrInvalid, err)
	}
	if r.Revision != "" || r.Path != "" || strings.Count(r.ID, "/") != 1 {
		return hub.Ref{}, fmt.Errorf("%w: %q is not a repository name (ORG/NAME, datasets/ORG/NAME or spaces/ORG/NAME)", gate.ErrInvalid, repo)
	}
	return r, nil
}

// RepoName is the gate's name of a repository (see ParseRepo).
func RepoName(r hub.Ref) string {
	if r.Type == hub.Dataset || r.Type == hub.Space {
		return string(r.Type) + "/" + r.ID
	}
	return r.ID
}

// ListFiles implements gate.Hub: the revision is resolved to a commit and
// the commit's tree listed recursively.
func (h *Hub) ListFiles(ctx context.Context, repo, revision string) (string, []gate.RemoteFile, error) {
	ref, err := ParseRepo(repo)
	if err != nil {
		return "", nil, err
	}
	commit, err := h.c.Resolve(ctx, ref.At(revision))
	if err != nil {
		return "", nil, wrap(err)
	}
	var files []gate.RemoteFile
	err = h.c.Tree(ctx, ref.At(commit), "", true, func(e hub.TreeEntry) error {
		if e.Type != "file" {
			return nil
		}
		if len(files) >= h.maxFiles {
			return fmt.Errorf("%w: %s@%s has more than %d files", gate.ErrInvalid, repo, commit, h.maxFiles)
		}
		f := gate.RemoteFile{Path: e.Path, Size: e.Size, SHA256: e.SHA256()}
		if e.LFS != nil && e.LFS.Size > 0 {
			f.Size = e.LFS.Size
		}
		if f.SHA256 == "" && e.LFS == nil {
			f.GitOID = e.OID
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return "", nil, wrap(err)
	}
	return commit, files, nil
}

// Open implements gate.Hub. The file is read lazily with Range requests;
// content read in full is checked against the listed sha256 (LFS) or git
// blob id (other files).
func (h *Hub) Open(ctx context.Context, repo, commit string, f gate.RemoteFile) (scan.Content, error) {
	ref, err := ParseRepo(repo)
	if err != nil {
		return nil, err
	}
	if f.Size < 0 {
		return nil, fmt.Errorf("%w: negative size", gate.ErrInvalid)
	}
	return content{h.c.Open(ctx, hub.FileSpec{Repo: ref.At(commit), Path: f.Path, Size: f.Size, SHA256: f.SHA256, GitOID: f.GitOID})}, nil
}

// content marks read errors that mean the file is gone (or no longer
// visible) with gate.ErrNotOnHub, so a scan job for it is not retried.
type content struct{ *hub.File }

func (c content) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = wrap(err)
	}
	return n, err
}

// wrap marks answers that mean the repository, revision or file is not
// there for the gate's credentials (missing, private, gated without
// access) with gate.ErrNotOnHub, which the API answers 404 and the worker
// does not retry.
func wrap(err error) error {
	if NotOnHub(err) {
		return fmt.Errorf("%w: %w", gate.ErrNotOnHub, err)
	}
	return err
}

// NotOnHub reports whether a hub error means the object is not visible.
func NotOnHub(err error) bool {
	for _, e := range []error{hub.ErrNotFound, hub.ErrRepoNotFound, hub.ErrRevisionNotFound, hub.ErrEntryNotFound,
		hub.ErrGated, hub.ErrUnauthorized, hub.ErrForbidden} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
