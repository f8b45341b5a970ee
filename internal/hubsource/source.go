// Package hubsource lists the files of a hub repository at one commit as
// scan entries, read remotely through Range requests.
package hubsource

import (
	"context"
	"errors"
	"fmt"

	"modelgate/internal/hub"
	"modelgate/internal/scan"
)

// Source is a scan.Source over a hub repository (hf://ORG/REPO[@REV][/PATH]).
type Source struct {
	Client *hub.Client
	Ref    hub.Ref
	// HasToken says whether the client sends a token; a gated repository
	// is refused up front without one, rather than file by file.
	HasToken bool
	// Resolved, if set, is called once the revision is resolved and the
	// files are listed.
	Resolved func(Resolution)
}

// Resolution says what a scan of a repository will read.
type Resolution struct {
	Ref hub.Ref
	// Commit is the sha the revision resolved to; every file is read at it.
	Commit string
	Files  int
	Bytes  int64
}

// Entries implements scan.Source: it resolves the revision to a commit
// first, then lists every file under the path at that commit.
func (s *Source) Entries(ctx context.Context, yield func(scan.Entry) error) error {
	rev := s.Ref.Revision
	if rev == "" {
		rev = "main"
	}
	info, err := s.Client.Info(ctx, s.Ref.At(rev), false)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Ref, err)
	}
	if !hub.IsCommit(info.SHA) {
		return fmt.Errorf("%s: the hub gave no commit for revision %q", s.Ref, rev)
	}
	if info.Gated != "" && !s.HasToken {
		return fmt.Errorf("%s is gated (%s): accept its conditions on the hub, then set HF_TOKEN: %w", s.Ref, info.Gated, hub.ErrGated)
	}
	commit := info.SHA
	at := s.Ref.At(commit)
	var files []hub.TreeEntry
	err = s.Client.Tree(ctx, at, s.Ref.Path, true, func(e hub.TreeEntry) error {
		if e.Type == "file" {
			files = append(files, e)
		}
		return nil
	})
	if errors.Is(err, hub.ErrNotFound) && s.Ref.Path != "" {
		// The path may name a file rather than a folder.
		var got []hub.TreeEntry
		got, err = s.Client.PathsInfo(ctx, at, []string{s.Ref.Path})
		for _, e := range got {
			if e.Type == "file" {
				files = append(files, e)
			}
		}
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("no file or folder %q at commit %s: %w", s.Ref.Path, commit, hub.ErrEntryNotFound)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Ref, err)
	}
	var total int64
	for _, e := range files {
		total += e.Size
	}
	if s.Resolved != nil {
		s.Resolved(Resolution{Ref: s.Ref, Commit: commit, Files: len(files), Bytes: total})
	}
	for _, e := range files {
		spec := hub.FileSpec{Repo: at, Path: e.Path, Size: e.Size, SHA256: e.SHA256()}
		if spec.SHA256 == "" {
			spec.GitOID = e.OID
		}
		display := s.Ref
		display.Path = e.Path
		entry := scan.Entry{
			Path:     display.String(),
			Size:     e.Size,
			SHA256:   spec.SHA256,
			Revision: commit,
			Open: func(ctx context.Context) (scan.Content, error) {
				return s.Client.Open(ctx, spec), nil
			},
		}
		if err := yield(entry); err != nil {
			return err
		}
	}
	return nil
}
