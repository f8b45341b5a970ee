package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/pickleaudit"
)

// Tar walks a tar archive for an analyzer, reporting tar slip (names and
// links leaving the extraction folder, members written through links),
// duplicates and special members, and handing regular files to the scan.
type Tar struct {
	Reporter
	// Handle, if set, is offered each regular file first; it returns true
	// when it analyzed the member itself.
	Handle func(ctx context.Context, e *archive.TarEntry, r io.ReaderAt, size int64) (bool, error)
}

// Walk walks the archive.
func (t *Tar) Walk(ctx context.Context) error {
	in := t.In
	if PickleActs(ctx, in.R, in.Size) {
		t.Report(finding.RuleArchivePolyglot, "", "the tar archive's first block is also a pickle: pickle.load and joblib.load run it, tar readers see the archive; it was scanned as a pickle", "", 0)
		if _, err := pickleaudit.Audit(ctx, in, in.R, in.Size, Sub(t.Out, "tar-as-pickle", 0), pickleaudit.Options{Analyzer: t.Analyzer}); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	links := map[string]bool{}
	res, err := archive.WalkTar(ctx, in.R, in.Size, Limits(in).MaxMembers, func(e *archive.TarEntry) error {
		return t.entry(ctx, e, seen, links)
	})
	if err != nil {
		var fe *archive.FormatError
		if errors.As(err, &fe) {
			return &format.Error{Off: fe.Off, Msg: fe.Msg}
		}
		return err
	}
	if res.Trailing {
		n := in.Size - res.End
		t.Report(finding.RuleArchiveExtraData, "", fmt.Sprintf("%d bytes after the end of the tar archive are not zero padding; they were scanned as tar-trailing", n), "", res.End)
		return t.Out.Child(ctx, "tar-trailing", io.NewSectionReader(in.R, res.End, n), n)
	}
	return nil
}

func (t *Tar) entry(ctx context.Context, e *archive.TarEntry, seen, links map[string]bool) error {
	h := e.Header
	name := h.Name
	if hz := archive.NameHazard(name); hz != "" {
		t.Report(finding.RuleArchiveTraversal, "", fmt.Sprintf("member %q has %s", name, hz), name, e.HeaderOffset)
	}
	clean := archive.CleanName(name)
	if clean != "" && h.Typeflag != tar.TypeDir {
		if seen[clean] {
			t.Report(finding.RuleArchiveDuplicate, "", fmt.Sprintf("more than one member is named %q; extraction keeps the last, every copy was scanned", name), name, e.HeaderOffset)
		}
		seen[clean] = true
	}
	for dir := parentOf(clean); dir != ""; dir = parentOf(dir) {
		if links[dir] {
			t.Report(finding.RuleArchiveLinkEscape, "", fmt.Sprintf("member %q is written through the link %q", name, dir), name, e.HeaderOffset)
			break
		}
	}
	switch h.Typeflag {
	case tar.TypeSymlink, tar.TypeLink:
		hard := h.Typeflag == tar.TypeLink
		kind := "symbolic"
		if hard {
			kind = "hard"
		}
		links[clean] = true
		if archive.LinkEscapes(name, h.Linkname, hard) {
			t.Report(finding.RuleArchiveLinkEscape, "", fmt.Sprintf("member %q is a %s link to %q, outside the extraction folder", name, kind, h.Linkname), name+" -> "+h.Linkname, e.HeaderOffset)
		} else {
			t.Report(finding.RuleArchiveLink, "", fmt.Sprintf("member %q is a %s link to %q", name, kind, h.Linkname), name+" -> "+h.Linkname, e.HeaderOffset)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		t.Report(finding.RuleArchiveSpecial, "", fmt.Sprintf("member %q is a device or FIFO (type %q)", name, h.Typeflag), name, e.HeaderOffset)
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
	default:
		return nil // directories, and headers archive/tar already applied
	}
	var r io.ReaderAt
	size := h.Size
	if e.DataOffset >= 0 {
		if e.DataOffset+size > t.In.Size {
			size = max(t.In.Size-e.DataOffset, 0)
			t.Report(finding.RuleParseError, "", fmt.Sprintf("member %q claims %d bytes; the archive ends after %d", name, h.Size, size), name, e.HeaderOffset)
		}
		r = io.NewSectionReader(t.In.R, e.DataOffset, size)
	} else {
		c, err := archive.Materialize(ctx, e.Reader, Budget(t.In))
		defer c.Close()
		if !t.Decompressed(name, err) {
			return err
		}
		r, size = c, c.Size()
	}
	if t.Handle != nil {
		done, err := t.Handle(ctx, e, r, size)
		if done || err != nil {
			return err
		}
	}
	return t.Out.Child(ctx, name, r, size)
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return ""
	}
	return p[:i]
}
