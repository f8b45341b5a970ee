// Package tararchive analyzes tar archives (ustar, pax, GNU and v7; the
// compressed forms reach it through the compressed-stream analyzers). It
// reports tar slip (member names and links that leave the extraction
// folder, members written through links), duplicates, special members and
// data appended after the archive, and hands every regular file back to
// the scan without reading it: a member is a byte range of the archive.
// A NeMo .nemo file is such a tar; the checkpoint inside it is found by
// content.
package tararchive

import (
	"context"

	"modelgate/internal/archive"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
)

// Analyzer is the tar analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "tar" }

// Match implements format.Analyzer: a header block with a valid checksum.
func (*Analyzer) Match(p *format.Probe) bool { return archive.LooksLikeTar(p.Head) }

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	t := &container.Tar{Reporter: container.Reporter{In: in, Out: out, Analyzer: "tar"}}
	return t.Walk(ctx)
}
