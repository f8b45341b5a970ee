// Package torchscript analyzes TorchScript archives (torch.jit.save, and
// the mobile format): data.pkl and constants.pkl, whose __torch__.*
// classes are defined by the archive's own code/ folder rather than
// imported from Python; the code/**/*.py sources, where any call outside
// torch operators, TorchScript builtins and __torch__ classes is reported;
// the .debug_pkl and bytecode.pkl pickles; and every other member, which
// is handed back to the scan.
package torchscript

import (
	"context"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/format/torchzip"
	"modelgate/internal/limits"
	"modelgate/internal/pickleaudit"
)

// maxSource bounds one code file read into memory.
const maxSource = 64 << 20

// Analyzer is the TorchScript analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "torchscript" }

// Match implements format.Analyzer: a PyTorch zip whose archive folder
// holds constants.pkl, which is what torch.load checks before handing the
// file to torch.jit.load.
func (*Analyzer) Match(p *format.Probe) bool {
	ck := torchzip.Probe(p)
	return ck != nil && ck.Has("constants.pkl")
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	s, zerr := torchzip.NewSession(ctx, in, out, "torchscript")
	if s == nil {
		return zerr
	}
	ts := pickleaudit.Options{TorchScript: true}
	for _, e := range s.Ck.Records("data.pkl") {
		s.AuditPickle(ctx, e, ts, "data/")
	}
	for _, e := range s.Ck.Records("constants.pkl") {
		s.AuditPickle(ctx, e, ts, "constants/")
	}
	for _, e := range s.Ck.Records("bytecode.pkl") {
		s.AuditPickle(ctx, e, ts, "")
	}
	codeDir := strings.ToLower(s.Ck.Prefix) + "/code/"
	for _, e := range s.Zip.Z.Entries {
		name := strings.ToLower(e.Name)
		switch {
		case strings.HasSuffix(name, ".debug_pkl"):
			s.AuditPickle(ctx, e, ts, "")
		case strings.HasPrefix(name, codeDir) && strings.HasSuffix(name, ".py") && !e.IsDir():
			s.Handle(e)
			if err := checkCode(ctx, s.Zip, e); err != nil {
				return err
			}
		}
	}
	s.CheckRecords()
	if err := s.DispatchRest(ctx); err != nil {
		return err
	}
	return zerr
}

// checkCode reports calls in one source file that TorchScript's serializer
// would not write; with explain, the source is listed.
func checkCode(ctx context.Context, z *container.Zip, e *archive.ZipEntry) error {
	m := z.Open(ctx, e)
	if m == nil {
		return ctx.Err()
	}
	defer m.Close()
	n := m.Size
	if n > maxSource {
		z.Report(finding.RuleLimit, e.Name, limits.Exceeded("TorchScriptSource", n, maxSource, -1).Error()+"; the rest of the source was not checked", "", finding.NoOffset)
		n = maxSource
	}
	src := make([]byte, n)
	if _, err := m.ReadAt(src, 0); err != nil && err != io.EOF {
		z.Report(finding.RuleArchiveUnreadable, e.Name, "reading the source: "+err.Error(), "", finding.NoOffset)
		return nil
	}
	if z.In.Explain {
		container.Sub(z.Out, e.Name, 0).Listing(string(src))
	}
	for _, p := range CheckSource(src) {
		what := "calls"
		if p.Import {
			what = "imports"
		}
		switch {
		case p.CustomOp:
			z.Report(finding.RuleTorchScriptOp, e.Name, fmt.Sprintf("line %d calls the custom operator %s", p.Line, p.Name), p.Name, finding.NoOffset)
		case p.Danger:
			f := container.Rules(z.In).New(finding.RuleTorchScriptCall, fmt.Sprintf("line %d %s %s, which reaches the system or runs code", p.Line, what, p.Name), p.Name, finding.NoOffset)
			f.Severity = finding.Critical
			f.Member = e.Name
			f.Analyzer = z.Analyzer
			z.Out.Finding(f)
		default:
			z.Report(finding.RuleTorchScriptCall, e.Name, fmt.Sprintf("line %d %s %s, which is not a TorchScript builtin, operator or __torch__ class", p.Line, what, p.Name), p.Name, finding.NoOffset)
		}
	}
	return nil
}
