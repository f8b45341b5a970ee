// Package sevenzip analyzes 7z archives. The nullifAI models packed a
// PyTorch checkpoint in 7z because scanners only opened zips; here every
// member, whatever its name, is decompressed within the limits and handed
// back to the scan. The headers are checked within bounds before the
// decoding library sees them, and a library panic becomes a finding.
package sevenzip

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/limits"
)

// Analyzer is the 7z analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "7z" }

// Match implements format.Analyzer.
func (*Analyzer) Match(p *format.Probe) bool {
	return bytes.HasPrefix(p.Head, []byte(archive.SevenZipMagic))
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	rep := &container.Reporter{In: in, Out: out, Analyzer: "7z"}
	sz, err := archive.OpenSevenZip(in.R, in.Size, container.Limits(in).MaxMembers)
	if err != nil {
		if errors.Is(err, limits.ErrLimit) {
			return err
		}
		return &format.Error{Off: 0, Msg: err.Error()}
	}
	seen := map[string]bool{}
	var spent int64
	maxTotal := container.Limits(in).MaxTotalBytes
	for _, f := range sz.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := f.Name
		if hz := archive.NameHazard(name); hz != "" {
			rep.Report(finding.RuleArchiveTraversal, "", fmt.Sprintf("member %q has %s", name, hz), name, finding.NoOffset)
		}
		info := f.FileInfo()
		if info.IsDir() {
			continue
		}
		clean := archive.CleanName(name)
		if seen[clean] {
			rep.Report(finding.RuleArchiveDuplicate, "", fmt.Sprintf("more than one member is named %q; every copy was scanned", name), name, finding.NoOffset)
		}
		seen[clean] = true
		if info.Mode().Type() != 0 && !info.Mode().IsRegular() {
			rep.Report(finding.RuleArchiveLink, "", fmt.Sprintf("member %q is a %s", name, info.Mode().Type()), name, finding.NoOffset)
		}
		if spent >= maxTotal {
			rep.Report(finding.RuleLimit, "", fmt.Sprintf("MaxTotalBytes reached: %d bytes were decompressed from this archive; member %q and those after it were not checked", spent, name), "", finding.NoOffset)
			return nil
		}
		b := container.Budget(in)
		b.MaxSize = min(b.MaxSize, maxTotal-spent)
		b.Compressed = in.Size // solid blocks share their packed bytes
		c, err := sz.Open(ctx, f, b)
		if c != nil {
			spent += c.Size()
		}
		if c == nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Report(finding.RuleArchiveUnreadable, "", fmt.Sprintf("member %q: %v", name, err), name, finding.NoOffset)
			continue
		}
		if !rep.Decompressed(name, err) {
			c.Close()
			return err
		}
		cerr := out.Child(ctx, name, c, c.Size())
		c.Close()
		if cerr != nil {
			return cerr
		}
	}
	return nil
}
