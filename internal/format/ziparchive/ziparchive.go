// Package ziparchive analyzes zip archives that no more specific analyzer
// claimed: it reports the archive's hazards (path traversal, links,
// duplicates, overlapping members, bombs, data before the archive) and
// hands every member back to the scan, which detects its format by
// content, so a pickle named model.txt three archives deep is still found.
//
// More specific zip analyzers (PyTorch, TorchScript, NumPy .npz, Keras,
// H2O MOJO) come before it in the registry.
package ziparchive

import (
	"context"

	"modelgate/internal/archive"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
)

// Analyzer is the generic zip analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "zip" }

// Match implements format.Analyzer: an end-of-central-directory record
// that points at a central directory.
func (*Analyzer) Match(p *format.Probe) bool { return archive.LooksLikeZip(p.R, p.Size, p.Tail) }

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	return Walk(ctx, in, out, "zip", nil)
}

// Walk checks a zip's structure and dispatches every member for which skip
// is false. Analyzers of zip-based formats use it for the members they do
// not read themselves.
func Walk(ctx context.Context, in *format.Input, out format.Emitter, analyzer string, skip func(*archive.ZipEntry) bool) error {
	z, err := container.OpenZip(in)
	if z == nil {
		return err
	}
	c := &container.Zip{Reporter: container.Reporter{In: in, Out: out, Analyzer: analyzer}, Z: z}
	if err := c.CheckStructure(ctx); err != nil {
		return err
	}
	if derr := c.DispatchAll(ctx, skip); derr != nil {
		return derr
	}
	return err // a limit reached while reading the directory
}
