// Package safetensorsscan analyzes safetensors files: the header is read
// and validated strictly (internal/safetensors), the file's ends are
// checked for a zip archive sharing it, and the data section is never
// read. A clean file gets no findings: safetensors holds no code.
package safetensorsscan

import (
	"context"
	"errors"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/safetensors"
)

// Analyzer is the safetensors analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "safetensors" }

// Match implements format.Analyzer: a header length within the file and
// the reference reader's limit, followed by a JSON object.
func (*Analyzer) Match(p *format.Probe) bool { return safetensors.Match(p.Head, p.Size) }

var problemRules = map[safetensors.ProblemKind]string{
	safetensors.Layout:       finding.RuleSafetensorsLayout,
	safetensors.Duplicate:    finding.RuleSafetensorsDuplicate,
	safetensors.UnknownDType: finding.RuleSafetensorsDType,
	safetensors.Metadata:     finding.RuleSafetensorsMetadata,
	safetensors.Polyglot:     finding.RuleSafetensorsPolyglot,
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	poly, err := safetensors.CheckPolyglot(in.R, in.Size)
	if err != nil {
		return err
	}
	for _, p := range poly {
		out.Finding(in.Rules.New(problemRules[p.Kind], p.Msg, "", p.Offset))
	}
	h, err := safetensors.ReadHeader(ctx, in.R, in.Size)
	var he *safetensors.HeaderError
	if errors.As(err, &he) {
		out.Finding(in.Rules.New(finding.RuleSafetensorsHeader, he.Msg, "", he.Off))
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range h.Validate() {
		out.Finding(in.Rules.New(problemRules[p.Kind], p.Msg, "", p.Offset))
	}
	return nil
}
