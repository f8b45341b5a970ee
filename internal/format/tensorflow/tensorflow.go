// Package tensorflow analyzes TensorFlow SavedModel (saved_model.pb) and
// GraphDef (frozen .pb) protobufs: every graph and library function is
// walked from the file, and ops that touch files, run Python or reach the
// network are reported with the severity the policy's [tensorflow.ops]
// table gives them; paths wired to them as constants are judged too.
package tensorflow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/protoscan"
	"modelgate/internal/safepath"
)

// SavedModel is the SavedModel analyzer.
type SavedModel struct{}

// NewSavedModel returns the SavedModel analyzer.
func NewSavedModel() *SavedModel { return &SavedModel{} }

// Name implements format.Analyzer.
func (*SavedModel) Name() string { return "tf-savedmodel" }

// Match implements format.Analyzer.
func (*SavedModel) Match(p *format.Probe) bool {
	return p.Size > 0 && looksLikeSavedModel(p.Head, p.Size)
}

// Analyze implements format.Analyzer.
func (a *SavedModel) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	v := visitor(in, out, a.Name())
	return WalkSavedModel(ctx, protoscan.NewSource(in.R, in.Size), DefaultOptions(), v)
}

// GraphDef is the frozen-graph analyzer.
type GraphDef struct{}

// NewGraphDef returns the GraphDef analyzer.
func NewGraphDef() *GraphDef { return &GraphDef{} }

// Name implements format.Analyzer.
func (*GraphDef) Name() string { return "tf-graphdef" }

// Match implements format.Analyzer.
func (*GraphDef) Match(p *format.Probe) bool { return p.Size > 0 && looksLikeGraphDef(p.Head, p.Size) }

// Analyze implements format.Analyzer.
func (a *GraphDef) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	return WalkGraphDef(ctx, protoscan.NewSource(in.R, in.Size), DefaultOptions(), visitor(in, out, a.Name()))
}

// writers are ops that write to the paths they are given.
var writers = []string{"WriteFile", "Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "SaveDataset",
	"SaveDatasetV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "CreateSummaryFileWriter", "PrintV2"}

// pathAttrs are string attributes that name files or URLs.
var pathAttrs = map[string]bool{"output_stream": true, "debug_urls": true, "memory_region_name": true, "file_path": true}

func visitor(in *format.Input, out format.Emitter, analyzer string) *Visitor {
	pol := in.Policy
	return &Visitor{
		Interesting: func(op string) bool {
			_, _, listed := pol.TensorFlowOp(op)
			return listed || strings.Contains(op, ">")
		},
		Op: func(u OpUse) {
			emit := func(rule string, sev finding.Severity, msg, evidence string) {
				f := in.Rules.New(rule, msg, evidence, u.Off)
				f.Severity = sev
				f.Analyzer = analyzer
				out.Finding(f)
			}
			if strings.Contains(u.Op, ">") {
				emit(finding.RuleTFCustomOp, finding.Info, fmt.Sprintf("%s uses the custom op %s", u.Scope, u.Op), u.Op)
			}
			sev, ignore, listed := pol.TensorFlowOp(u.Op)
			if !listed {
				return
			}
			paths := slices.Clone(u.Consts)
			for k, v := range u.Attrs {
				if pathAttrs[k] {
					paths = append(paths, v)
				}
			}
			odd := ""
			for _, p := range paths {
				if why := oddPath(p); why != "" {
					odd = fmt.Sprintf("its path %q %s", clip(p), why)
					break
				}
			}
			msg := fmt.Sprintf("%s runs %s (node %q)", u.Scope, u.Op, clip(u.Node))
			evidence := u.Op
			if len(paths) > 0 {
				evidence += "(" + strings.Join(quoteAll(paths), ", ") + ")"
			}
			switch {
			case odd != "":
				s := max(sev, finding.High)
				if slices.Contains(writers, u.Op) {
					s = finding.Critical
				}
				emit(finding.RuleTFRiskyOp, s, msg+"; "+odd, evidence)
			case !ignore:
				emit(finding.RuleTFRiskyOp, sev, msg, evidence)
			}
		},
		Asset: func(name string, off int64) {
			if why := safepath.Check(name); why != "" {
				f := in.Rules.New(finding.RuleTFAssetPath, fmt.Sprintf("asset file %q %s", clip(name), why), name, off)
				f.Analyzer = analyzer
				out.Finding(f)
			}
		},
	}
}

// oddPath judges a constant an op is given as a path. Output streams
// such as "stderr" and log levels are not paths.
func oddPath(p string) string {
	switch p {
	case "stderr", "stdout", "log(info)", "log(warning)", "log(error)":
		return ""
	}
	return safepath.Check(p)
}

func quoteAll(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		out = append(out, fmt.Sprintf("%q", clip(x)))
	}
	return out
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
