// Package kerash5 analyzes HDF5 files, the legacy Keras .h5/.hdf5 format:
// the model_config and training_config attributes are checked as Keras
// configs (Lambda layers, foreign modules, …), and links to other files are
// reported. If the HDF5 structure cannot be read, the raw bytes are
// searched for configs instead, so a file this reader does not understand
// still has its configs checked (fail closed: a finding either way).
package kerash5

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/hdf5"
	"modelgate/internal/kerascfg"
	"modelgate/internal/limits"
	"modelgate/internal/safepath"
)

// Analyzer is the Keras H5 analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "keras-h5" }

// Match implements format.Analyzer: an HDF5 superblock signature at 0,
// 512, 1024, … (after a user block).
func (*Analyzer) Match(p *format.Probe) bool {
	_, ok := hdf5.FindSignature(p.R, p.Size, p.Head)
	return ok
}

// configAttrs are the attributes Keras stores JSON configs in.
var configAttrs = map[string]bool{"model_config": true, "training_config": true}

// maxRawConfig bounds one config found by the raw-byte search.
const maxRawConfig = 64 << 20

// Analyze implements format.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	var childErr error
	emit := kerascfg.ToEmitter(ctx, out, a.Name(), "", &childErr)
	opt := hdf5.DefaultOptions()
	opt.MaxReadBytes = min(1<<30, max(in.Limits.MaxMemberSize, 64<<20))
	configs := 0
	err := a.walk(ctx, in, opt, func(o *hdf5.Object, meta string) {
		for _, attr := range o.Attributes {
			if !attr.IsString || !configAttrs[attr.Name] {
				continue
			}
			for _, v := range attr.Values {
				configs++
				src := fmt.Sprintf("%s attribute of %s%s", attr.Name, o.Path, meta)
				a.check(ctx, in, []byte(v), src, attr.Offset, emit, out)
			}
		}
		a.externalRefs(in, o, out)
	})
	if childErr != nil {
		return childErr
	}
	if err == nil {
		if configs == 0 {
			out.Finding(in.Rules.New(finding.RuleKerasNoConfig, "HDF5 file without model_config: weights or data only", "", finding.NoOffset))
		}
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The structure could not be read in full: report it, then search the
	// raw bytes for configs the structured walk did not reach.
	var fe *format.Error
	off := int64(finding.NoOffset)
	if errors.As(err, &fe) {
		off = fe.Off
	}
	f := in.Rules.New(finding.RuleHDF5StructureUnknown, "the HDF5 structure could not be fully read ("+err.Error()+"); the raw bytes were searched for Keras configs", "", off)
	f.Analyzer = a.Name()
	out.Finding(f)
	_, rerr := kerascfg.RawConfigs(in.R, in.Size, maxRawConfig, func(off int64, cfg []byte) error {
		a.check(ctx, in, cfg, fmt.Sprintf("config found at byte %d", off), off, emit, out)
		return ctx.Err()
	})
	if rerr != nil {
		return rerr
	}
	if childErr != nil {
		return childErr
	}
	if errors.Is(err, limits.ErrLimit) {
		return err
	}
	return nil
}

// walk visits every object, passing a note on the Keras version and
// backend (root attributes) for messages.
func (a *Analyzer) walk(ctx context.Context, in *format.Input, opt hdf5.Options, fn func(*hdf5.Object, string)) error {
	f, err := hdf5.Open(in.R, in.Size, opt)
	if err != nil {
		return err
	}
	meta := ""
	return f.Walk(ctx, func(o *hdf5.Object) error {
		if o.Path == "/" {
			meta = versionNote(o.Attributes)
		}
		fn(o, meta)
		return nil
	})
}

func versionNote(attrs []hdf5.Attribute) string {
	var parts []string
	for _, name := range []string{"keras_version", "backend"} {
		for _, at := range attrs {
			if at.Name == name && at.IsString && len(at.Values) == 1 && at.Values[0] != "" {
				v := at.Values[0]
				if len(v) > 40 {
					v = v[:40]
				}
				parts = append(parts, name+" "+v)
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (a *Analyzer) check(ctx context.Context, in *format.Input, cfg []byte, src string, off int64, emit kerascfg.Emit, out format.Emitter) {
	err := kerascfg.Check(ctx, cfg, kerascfg.Options{Rules: in.Rules, Policy: in.Policy, Source: src}, emit)
	if err == nil || ctx.Err() != nil {
		return
	}
	rule := finding.RuleParseError
	if errors.Is(err, limits.ErrLimit) {
		rule = finding.RuleLimit
	}
	f := in.Rules.New(rule, src+" could not be checked: "+err.Error(), "", off)
	f.Analyzer = a.Name()
	out.Finding(f)
}

// externalRefs reports links and storage in other files.
func (a *Analyzer) externalRefs(in *format.Input, o *hdf5.Object, out format.Emitter) {
	report := func(msg, target string, isPath bool) {
		f := in.Rules.New(finding.RuleHDF5ExternalRef, msg, target, finding.NoOffset)
		if why := safepath.Check(target); isPath && why != "" {
			f.Severity = finding.High
			f.Message += "; the path " + why
		}
		f.Analyzer = a.Name()
		out.Finding(f)
	}
	for _, l := range o.ExternalLinks {
		report(fmt.Sprintf("%s/%s is an external link to %s in another file", strings.TrimSuffix(o.Path, "/"), l.Name, l.Path), l.File, true)
	}
	for _, name := range o.ExternalFiles {
		report(fmt.Sprintf("dataset %s stores its data in an external file", o.Path), name, true)
	}
	if o.Virtual {
		report(fmt.Sprintf("dataset %s is a virtual dataset mapped from other datasets or files", o.Path), o.Path, false)
	}
}
