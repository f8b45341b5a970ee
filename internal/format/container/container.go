// Package container holds what the archive analyzers share: an Emitter
// that files findings under a member, the decompression budget a scan's
// limits allow, and the zip walk (hazard checks, lenient member opening,
// dispatch of every member back to the scan through Emitter.Child).
package container

import (
	"context"
	"errors"
	"fmt"
	"io"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// Sub returns an Emitter that files findings, imports and nested content
// under member (relative to the current input) and adds base to their
// offsets. It lets an analyzer audit a pickle inside its own container
// while the report still says where the pickle is.
func Sub(out format.Emitter, member string, base int64) format.Emitter {
	return &subEmitter{out: out, member: member, base: base}
}

type subEmitter struct {
	out    format.Emitter
	member string
	base   int64
}

func (s *subEmitter) join(m string) string {
	switch {
	case s.member == "":
		return m
	case m == "":
		return s.member
	}
	return s.member + "!" + m
}

func (s *subEmitter) Finding(f finding.Finding) {
	f.Member = s.join(f.Member)
	if f.Offset >= 0 {
		f.Offset += s.base
	}
	s.out.Finding(f)
}

func (s *subEmitter) Import(imp finding.Import) {
	imp.Member = s.join(imp.Member)
	if imp.Offset >= 0 {
		imp.Offset += s.base
	}
	s.out.Import(imp)
}

func (s *subEmitter) Child(ctx context.Context, name string, r io.ReaderAt, size int64) error {
	return s.out.Child(ctx, s.join(name), r, size)
}

func (s *subEmitter) Listing(text string) {
	if s.member != "" {
		text = "# member " + s.member + "\n" + text
	}
	s.out.Listing(text)
}

// Reporter builds findings for one analyzer.
type Reporter struct {
	In       *format.Input
	Out      format.Emitter
	Analyzer string
}

// Rules returns the input's rule catalogue or the default one.
func Rules(in *format.Input) *finding.Catalogue {
	if in.Rules != nil {
		return in.Rules
	}
	return finding.Default()
}

// Report files a finding of rule about member ("" for the input itself).
func (r *Reporter) Report(rule, member, msg, evidence string, off int64) {
	f := Rules(r.In).New(rule, msg, evidence, off)
	f.Member = member
	f.Analyzer = r.Analyzer
	r.Out.Finding(f)
}

// Limits returns the input's limits or the defaults.
func Limits(in *format.Input) *limits.Limits {
	if in.Limits != nil {
		return in.Limits
	}
	return limits.Default()
}

// Budget is the decompression budget one member gets under in's limits.
// Each level of nesting keeps half as much in memory before spilling to a
// temporary file, so nested archives together hold at most twice the
// default in memory.
func Budget(in *format.Input) archive.Budget {
	lim := Limits(in)
	return archive.Budget{MaxSize: min(lim.MaxMemberSize, lim.MaxTotalBytes), MaxRatio: lim.MaxRatio,
		InMemory: max(int64(archive.DefaultInMemory)>>min(in.Depth, 16), 1<<20)}
}

// Decompressed reports what Materialize or Zip.Open returned when the
// content stopped early, and says whether the partial content is still
// worth scanning.
func (r *Reporter) Decompressed(member string, err error) bool {
	var bomb *archive.BombError
	switch {
	case err == nil:
		return true
	case errors.As(err, &bomb):
		r.Report(finding.RuleArchiveBomb, member, bomb.Error()+"; the part before the limit was scanned", "", finding.NoOffset)
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	r.Report(finding.RuleArchiveUnreadable, member, fmt.Sprintf("decompression failed: %v; the part before the failure was scanned", err), "", finding.NoOffset)
	return true
}
