package gate

import (
	"context"
	"errors"

	"modelgate/internal/scan"
)

// Hub is what the gate needs from a model hub: the files of a repository
// revision, and their content. internal/hub's Client fits it through a
// small adapter (Resolve + Tree for ListFiles, Client.Open for Open); tests
// use a fake.
type Hub interface {
	// Name identifies the hub in observations, e.g. "https://huggingface.co".
	Name() string
	// ListFiles resolves revision (a branch, tag or commit sha; "" for the
	// default branch) to a commit sha and lists the files at that commit.
	// A missing repository or revision is an error wrapping ErrNotOnHub.
	ListFiles(ctx context.Context, repo, revision string) (commit string, files []RemoteFile, err error)
	// Open opens one listed file at the commit. When f.SHA256 is set,
	// content read in full must be verified against it (the hub client
	// does), so a verdict is never recorded for other bytes.
	Open(ctx context.Context, repo, commit string, f RemoteFile) (scan.Content, error)
}

// RemoteFile is a file listed in a repository revision.
type RemoteFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is the content hash when the hub lists it (LFS files); else
	// the gate reads the file to compute it.
	SHA256 string `json:"sha256,omitempty"`
	// GitOID is the git blob id the hub lists for a regular (non-LFS)
	// file, if any; a Hub verifies content read in full against it.
	GitOID string `json:"git_oid,omitempty"`
}

// ErrNotOnHub: the repository or revision does not exist (or is not
// visible with the gate's credentials).
var ErrNotOnHub = errors.New("gate: repository or revision not found on the hub")
