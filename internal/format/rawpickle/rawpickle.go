// Package rawpickle analyzes plain pickle files (pickle.dump output, and the
// .pkl/.bin/.dat files that hold one or more pickle streams).
package rawpickle

import (
	"context"

	"modelgate/internal/format"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
)

// Analyzer is the raw pickle analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "pickle" }

// Match implements format.Analyzer: a PROTO opcode, or protocol 0/1
// opcodes that decode cleanly to a STOP or an import.
func (*Analyzer) Match(p *format.Probe) bool {
	if p.Size < 2 {
		return false
	}
	return pickle.LooksLikePickle(p.R, 0, p.Size)
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	_, err := pickleaudit.Audit(ctx, in, in.R, in.Size, out, pickleaudit.Options{Analyzer: "pickle"})
	return err
}
