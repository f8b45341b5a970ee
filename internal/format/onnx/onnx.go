// Package onnx analyzes ONNX models (a ModelProto, detected by structure
// since protobuf has no magic number). The protobuf is walked from the
// file without loading it: external_data locations that leave the model's
// folder are critical; custom operator domains, local functions and
// external data files are listed; Python operators are reported; graphs
// nested in If/Loop/Scan attributes, functions and training info are
// walked too.
package onnx

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/protoscan"
	"modelgate/internal/safepath"
)

// Analyzer is the ONNX analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "onnx" }

// Match implements format.Analyzer.
func (*Analyzer) Match(p *format.Probe) bool { return p.Size > 0 && looksLikeModel(p.Head, p.Size) }

// standardDomains are the operator sets the ONNX standard defines.
var standardDomains = []string{"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "ai.onnx.preview"}

// pythonOps run a Python function named in their attributes.
var pythonOps = []string{"PyOp", "PythonOp", "PyFunc", "PythonFunction"}

// Analyze implements format.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	emit := func(rule, msg, evidence string, off int64, sev *finding.Severity) {
		f := in.Rules.New(rule, msg, evidence, off)
		if sev != nil {
			f.Severity = *sev
		}
		f.Analyzer = a.Name()
		out.Finding(f)
	}
	// Domains are reported after the walk, without those the model's own
	// functions define: those are expanded from the file, not loaded.
	type domainUse struct {
		name string
		off  int64
	}
	var domains []domainUse
	seenDomain := map[string]bool{}
	fnDomains := map[string]bool{}
	v := &Visitor{
		External: func(tensor, loc string, off int64) {
			a.external(in, tensor, loc, off, emit)
		},
		Domain: func(d string, off int64) {
			if slices.Contains(standardDomains, d) || seenDomain[d] || len(seenDomain) > 1000 {
				return
			}
			seenDomain[d] = true
			domains = append(domains, domainUse{d, off})
		},
		Function: func(domain, name string, off int64) {
			fnDomains[domain] = true
			emit(finding.RuleONNXFunction, "model-local function "+qualified(domain, name), qualified(domain, name), off, nil)
		},
		Node: func(op, domain string, attrs map[string]string, off int64) {
			if !slices.Contains(pythonOps, op) {
				return
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(attrs)) {
				if attrs[k] != "" {
					parts = append(parts, k+"="+attrs[k])
				}
			}
			emit(finding.RuleONNXPythonOp, fmt.Sprintf("node %s calls Python code", qualified(domain, op)), strings.Join(parts, ", "), off, nil)
		},
	}
	err := Walk(ctx, protoscan.NewSource(in.R, in.Size), DefaultOptions(), v)
	for _, d := range domains {
		if !fnDomains[d.name] {
			emit(finding.RuleONNXCustomDomain, fmt.Sprintf("operators from domain %q need kernels the runtime loads from elsewhere", d.name), d.name, d.off, nil)
		}
	}
	return err
}

// external judges one external_data location.
func (a *Analyzer) external(in *format.Input, tensor, loc string, off int64, emit func(string, string, string, int64, *finding.Severity)) {
	if why := safepath.Check(loc); why != "" {
		emit(finding.RuleONNXExternalTraversal, fmt.Sprintf("tensor %q reads its data from a path that %s", tensor, why), loc, off, nil)
		return
	}
	if loc == "" {
		low := finding.Low
		emit(finding.RuleONNXExternalData, fmt.Sprintf("tensor %q has external data with an empty location", tensor), loc, off, &low)
		return
	}
	msg := "tensors are stored in an external file"
	if in.Dir != "" && in.Member == "" {
		in.DirUsed = true
		switch escapesBySymlink(in.Dir, loc) {
		case linkEscapes:
			emit(finding.RuleONNXExternalTraversal, fmt.Sprintf("tensor %q reads its data through a symbolic link that leaves the model's folder", tensor), loc, off, nil)
			return
		case linkMissing:
			msg += " that is missing beside the model"
		}
	}
	emit(finding.RuleONNXExternalData, msg, loc, finding.NoOffset, nil)
}

type linkResult int

const (
	linkInside linkResult = iota
	linkEscapes
	linkMissing
)

// escapesBySymlink resolves loc under dir on disk: a location that is a
// clean relative path can still be a symbolic link out of the folder.
func escapesBySymlink(dir, loc string) linkResult {
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return linkInside
	}
	target, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(loc, `\`, "/"))))
	if err != nil {
		if os.IsNotExist(err) {
			return linkMissing
		}
		return linkInside
	}
	rel, err := filepath.Rel(base, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return linkEscapes
	}
	return linkInside
}

func qualified(domain, name string) string {
	if domain == "" {
		return name
	}
	return domain + "." + name
}
