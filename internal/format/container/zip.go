package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
)

// Zip walks a zip archive for an analyzer: it reports the archive's
// hazards and anomalies and opens members as PyTorch's reader would.
type Zip struct {
	Reporter
	Z *archive.Zip
	// spent counts the bytes decompressed from this archive, so that a
	// bomb of many members stops at MaxTotalBytes even though each member
	// is within bounds.
	spent int64
	// done remembers the data ranges already scanned: entries that share
	// one (the overlapping-members bomb) are scanned once.
	done map[dataKey]bool
}

type dataKey struct {
	off, size int64
	method    uint16
}

// OpenZip reads in's central directory within the member limit. A limit
// error comes with the entries read before it.
func OpenZip(in *format.Input) (*archive.Zip, error) {
	z, err := archive.OpenZip(in.R, in.Size, Limits(in).MaxMembers)
	if err != nil {
		var fe *archive.FormatError
		if errors.As(err, &fe) {
			err = &format.Error{Off: fe.Off, Msg: "zip: " + fe.Msg}
		}
	}
	return z, err
}

// CheckStructure reports member names that leave the extraction folder,
// duplicates, links, overlapping members, a disagreeing entry count, and
// bytes before the first member (scanned as nested content).
func (c *Zip) CheckStructure(ctx context.Context) error {
	z := c.Z
	if uint64(len(z.Entries)) != z.Announced && !(z.Zip64 && z.Announced == 0) {
		c.Report(finding.RuleArchiveZipInconsistent, "", fmt.Sprintf("the end record announces %d entries; the central directory holds %d (miniz reads the announced count, zipfile every record)", z.Announced, len(z.Entries)), "", z.EndOffset)
	}
	seen := map[string]int{}
	folded := map[string]string{}
	for _, e := range z.Entries {
		if h := archive.NameHazard(e.Name); h != "" {
			c.Report(finding.RuleArchiveTraversal, "", fmt.Sprintf("member %q has %s", e.Name, h), e.Name, e.DirOffset)
		}
		clean := archive.CleanName(e.Name)
		seen[clean]++
		if seen[clean] == 2 {
			c.Report(finding.RuleArchiveDuplicate, "", fmt.Sprintf("more than one member is named %q; every copy was scanned", e.Name), e.Name, e.DirOffset)
		}
		low := strings.ToLower(clean)
		if prev, ok := folded[low]; ok && prev != clean {
			c.Report(finding.RuleArchiveDuplicate, "", fmt.Sprintf("members %q and %q differ only in letter case, which PyTorch's reader ignores; both were scanned", prev, e.Name), e.Name, e.DirOffset)
		} else if !ok {
			folded[low] = clean
		}
		if e.IsSymlink() {
			c.checkSymlink(e)
		}
	}
	c.checkOverlaps()
	if z.Start > 0 {
		return c.prefix(ctx, z.Start)
	}
	return nil
}

func (c *Zip) checkSymlink(e *archive.ZipEntry) {
	target := ""
	if e.Method == archive.MethodStore && e.CompressedSize <= 4096 {
		if raw, _, err := c.Z.Raw(e); err == nil {
			b := make([]byte, e.CompressedSize)
			if _, err := io.ReadFull(raw, b); err == nil {
				target = string(b)
			}
		}
	}
	if target == "" || archive.LinkEscapes(e.Name, target, false) {
		c.Report(finding.RuleArchiveLinkEscape, "", fmt.Sprintf("member %q is a symbolic link to %q, outside the extraction folder (or unreadable)", e.Name, target), e.Name+" -> "+target, e.DirOffset)
		return
	}
	c.Report(finding.RuleArchiveLink, "", fmt.Sprintf("member %q is a symbolic link to %q", e.Name, target), e.Name+" -> "+target, e.DirOffset)
}

// checkOverlaps sorts entries by local header offset: a member's header and
// data must end before the next member starts.
func (c *Zip) checkOverlaps() {
	es := append([]*archive.ZipEntry(nil), c.Z.Entries...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].HeaderOffset < es[j].HeaderOffset })
	reported := 0
	for i := 0; i+1 < len(es) && reported < 10; i++ {
		a, b := es[i], es[i+1]
		end := a.HeaderOffset + 30 + a.CompressedSize
		if a.HeaderOffset == b.HeaderOffset || end > b.HeaderOffset {
			reported++
			c.Report(finding.RuleArchiveOverlap, "", fmt.Sprintf("members %q and %q share file data (local headers at %d and %d)", a.Name, b.Name, a.HeaderOffset, b.HeaderOffset), "", a.HeaderOffset)
		}
	}
	if n := len(es); n > 0 {
		last := es[n-1]
		if last.HeaderOffset+30+last.CompressedSize > c.Z.DirOffset && c.Z.DirOffset > last.HeaderOffset {
			c.Report(finding.RuleArchiveOverlap, "", fmt.Sprintf("member %q runs into the central directory", last.Name), "", last.HeaderOffset)
		}
	}
}

// prefix handles bytes before the first member: a self-extracting stub, or
// another file the zip was appended to. A pickle there is what torch.load
// runs (it takes the zip path only for files starting with a local
// header), so it is a polyglot.
func (c *Zip) prefix(ctx context.Context, n int64) error {
	r := io.NewSectionReader(c.In.R, 0, n)
	if PickleActs(ctx, r, n) {
		c.Report(finding.RuleArchivePolyglot, "", fmt.Sprintf("the %d bytes before the zip archive are a pickle: torch.load and pickle.load run them, zip readers see the archive", n), "", 0)
	} else {
		c.Report(finding.RuleArchiveExtraData, "", fmt.Sprintf("%d bytes precede the first zip member; they were scanned as zip-prefix", n), "", 0)
	}
	return c.Out.Child(ctx, "zip-prefix", r, n)
}

// Open opens a member's content as PyTorch's reader does (central
// directory method and sizes, flag bits and CRC ignored), reporting what
// it ignored. It returns nil when the member cannot be read at all (the
// reason is reported).
func (c *Zip) Open(ctx context.Context, e *archive.ZipEntry) *archive.Member {
	b := Budget(c.In)
	b.MaxSize = min(b.MaxSize, Limits(c.In).MaxTotalBytes-c.spent)
	m, err := c.Z.Open(ctx, e, b)
	if m != nil && !m.Stored {
		c.spent += m.Size
	}
	if m == nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		c.Report(finding.RuleArchiveUnreadable, "", fmt.Sprintf("member %q: %v", e.Name, err), e.Name, e.HeaderOffset)
		return nil
	}
	if !c.Decompressed(e.Name, err) {
		m.Close()
		return nil
	}
	h := m.Header
	if h != nil && h.Name != e.Name {
		c.Report(finding.RuleArchiveZipNames, e.Name, fmt.Sprintf("the local header names this member %q; the central directory %q", h.Name, e.Name), h.Name, e.HeaderOffset)
	}
	if f := e.Flags & (archive.FlagEncrypted | 0x20 | 0x40 | 0x2000); f != 0 {
		c.Report(finding.RuleArchiveZipFlags, e.Name, fmt.Sprintf("flag bits 0x%04x (encrypted/patched/strong encryption) are set; the data was read as stored, as PyTorch does", f), "", e.DirOffset)
	}
	if h != nil && h.Method != e.Method {
		c.Report(finding.RuleArchiveZipInconsistent, e.Name, fmt.Sprintf("the local header says compression method %d, the central directory %d (used)", h.Method, e.Method), "", e.HeaderOffset)
	}
	if e.Method == archive.MethodStore && e.UncompressedSize != e.CompressedSize {
		c.Report(finding.RuleArchiveZipInconsistent, e.Name, fmt.Sprintf("stored member with compressed size %d and uncompressed size %d", e.CompressedSize, e.UncompressedSize), "", e.DirOffset)
	}
	if m.CRCChecked && !m.CRCMatch {
		c.Report(finding.RuleArchiveZipCRC, e.Name, "the CRC-32 does not match the data; PyTorch loads it anyway", "", e.DirOffset)
	}
	return m
}

// CheckStoredCRC verifies the CRC of a stored member read in full anyway
// (a pickle), reading it again only when it is small.
func (c *Zip) CheckStoredCRC(e *archive.ZipEntry, m *archive.Member) {
	if !m.Stored || m.Size > 64<<20 {
		return
	}
	if sum, err := crcOf(m, m.Size); err == nil && sum != e.CRC32 {
		c.Report(finding.RuleArchiveZipCRC, e.Name, "the CRC-32 does not match the data; PyTorch loads it anyway", "", e.DirOffset)
	}
}

// Dispatch opens a file member and hands it to the scan as nested content.
func (c *Zip) Dispatch(ctx context.Context, e *archive.ZipEntry) error {
	if e.IsDir() || e.IsSymlink() {
		return nil
	}
	m := c.Open(ctx, e)
	if m == nil {
		return ctx.Err()
	}
	defer m.Close()
	return c.Out.Child(ctx, e.Name, m, m.Size)
}

// DispatchAll dispatches every file member for which skip is false.
func (c *Zip) DispatchAll(ctx context.Context, skip func(*archive.ZipEntry) bool) error {
	if c.done == nil {
		c.done = map[dataKey]bool{}
	}
	for _, e := range c.Z.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if skip != nil && skip(e) {
			continue
		}
		k := dataKey{e.HeaderOffset, e.CompressedSize, e.Method}
		if c.done[k] {
			continue // the same data as an earlier entry (reported as overlapping)
		}
		c.done[k] = true
		if lim := Limits(c.In).MaxTotalBytes; c.spent >= lim {
			c.Report(finding.RuleLimit, "", fmt.Sprintf("MaxTotalBytes reached: %d bytes were decompressed from this archive; member %q and those after it were not checked", c.spent, e.Name), "", e.HeaderOffset)
			return nil
		}
		if err := c.Dispatch(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
