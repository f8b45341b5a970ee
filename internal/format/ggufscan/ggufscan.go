// Package ggufscan analyzes GGUF files: the header is parsed and the
// tensor index validated (internal/gguf), and every chat template in the
// metadata is checked for template injection (internal/jinja). Tensor data
// is never read.
package ggufscan

import (
	"context"
	"fmt"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/gguf"
	"modelgate/internal/jinja"
)

// Analyzer is the GGUF analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "gguf" }

// Match implements format.Analyzer: the GGUF magic and a known version.
func (*Analyzer) Match(p *format.Probe) bool { return gguf.Match(p.Head) }

var problemRules = map[gguf.ProblemKind]string{
	gguf.TensorIndex:  finding.RuleGGUFTensorIndex,
	gguf.Duplicate:    finding.RuleGGUFDuplicate,
	gguf.UnknownType:  finding.RuleGGUFUnknownType,
	gguf.TrailingData: finding.RuleGGUFTrailing,
}

// Analyze implements format.Analyzer. Templates are checked even when the
// header breaks after them; the parse error is returned afterwards.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	f, perr := gguf.Parse(ctx, in.R, in.Size, gguf.Options{})
	var firstErr error
	for _, kv := range f.KVs {
		if kv.Type != gguf.TypeString || !kv.Kept || !gguf.IsTemplateKey(kv.Key) {
			continue
		}
		textAt := kv.Offset + 8
		if f.Version == 1 {
			textAt = kv.Offset + 4
		}
		res, err := jinja.Check(ctx, kv.Str, jinja.Options{})
		for _, fd := range res.Findings(in.Rules, fmt.Sprintf("GGUF metadata %q", kv.Key), textAt) {
			out.Finding(fd)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("chat template %q: %w", kv.Key, err)
		}
	}
	if perr != nil {
		return perr
	}
	for _, p := range f.Validate() {
		out.Finding(in.Rules.New(problemRules[p.Kind], p.Msg, "", p.Offset))
	}
	return firstErr
}
