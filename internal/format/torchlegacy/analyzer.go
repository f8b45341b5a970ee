package torchlegacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/format/torchstorage"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
)

// magicProto2 is how torch.save writes the magic number with its default
// pickle protocol 2.
var magicProto2 = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")

// Analyzer is the legacy PyTorch checkpoint analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "pytorch-legacy" }

// Match implements format.Analyzer: the first pickle is the magic number,
// or the second is the protocol version (then the first computed the
// magic number, the known bypass, and must be claimed too).
func (*Analyzer) Match(p *format.Probe) bool {
	if bytes.HasPrefix(p.Head, magicProto2) {
		return true
	}
	if len(p.Head) < 4 || !pickle.LooksLikePickle(p.R, 0, p.Size) {
		return false
	}
	lim := *limits.Default()
	lim.MaxPickleOps = 20_000
	lim.MaxPickleStringBytes = 1 << 20
	m := pickle.NewMachine(p.R, 0, p.Size, nopVisitor{}, pickle.Options{Limits: &lim, InlineMax: 4096})
	st, err := m.Run(context.Background())
	if err != nil || st.Err != nil {
		return false
	}
	if IsMagic(st.Result) {
		return true
	}
	st2, err := m.Run(context.Background())
	return err == nil && st2.Err == nil && st2.Result != nil && st2.Result.Kind == pickle.KindInt && st2.Result.Int == ProtocolVersion
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	const name = "pytorch-legacy"
	rep := container.Reporter{In: in, Out: out, Analyzer: name}
	var refs []*torchstorage.Ref
	validator := func(pid *pickle.Value, off int64, o format.Emitter) {
		ref, _, err := torchstorage.Parse(pid, true)
		if err != nil {
			f := container.Rules(in).New(finding.RuleTorchPersistentID, err.Error(), pickle.Repr(pid), off)
			f.Analyzer = name
			o.Finding(f)
			return
		}
		if ref != nil {
			ref.Off = off
			refs = append(refs, ref)
		}
	}
	run := func(ctx context.Context, i int, off int64) (*pickle.Value, int64, bool, error) {
		n := in.Size - off
		opts := pickleaudit.Options{Analyzer: name, SingleStream: true}
		if i == 3 {
			opts.PersistentID = validator
		}
		res, err := pickleaudit.Audit(ctx, in, io.NewSectionReader(in.R, off, n), n, container.Sub(out, "", off), opts)
		if err != nil {
			return nil, off, true, err
		}
		if res == nil || len(res.Streams) == 0 {
			return nil, off, true, nil
		}
		st := res.Streams[0]
		return st.Result, off + st.End, st.Err != nil, nil
	}
	f, err := Walk(ctx, in.R, in.Size, run, func() []*torchstorage.Ref { return refs })
	if f.MagicComputed {
		rep.Report(finding.RuleTorchMagicCall, "", "the first pickle computes the magic number with a call instead of writing it as a literal", "", f.Streams[0].Start)
	}
	switch {
	case errors.Is(err, ErrStructure):
		rep.Report(finding.RuleTorchLegacyFormat, "", err.Error()+"; the rest of the file was searched for pickles", "", f.End)
		return scanRest(ctx, in, out, f.End, name)
	case err != nil:
		return err
	}
	checkStorages(&rep, f, refs)
	if f.End < in.Size {
		rep.Report(finding.RuleTorchTrailing, "", fmt.Sprintf("%d bytes follow the last storage", in.Size-f.End), "", f.End)
		return scanRest(ctx, in, out, f.End, name)
	}
	return nil
}

// scanRest audits the bytes from off as pickles, as a raw pickle scan
// would: a loader that reads on runs whatever is there.
func scanRest(ctx context.Context, in *format.Input, out format.Emitter, off int64, name string) error {
	n := in.Size - off
	if n <= 0 {
		return nil
	}
	_, err := pickleaudit.Audit(ctx, in, io.NewSectionReader(in.R, off, n), n, container.Sub(out, "", off), pickleaudit.Options{Analyzer: name})
	return err
}

func checkStorages(rep *container.Reporter, f *File, refs []*torchstorage.Ref) {
	stored := map[string]bool{}
	for _, s := range f.Storages {
		stored[s.Key] = true
		if s.HeaderNumel != s.Numel {
			rep.Report(finding.RuleTorchStorageSize, "", fmt.Sprintf("storage %q holds %d elements; the data pickle says %d (torch.load fails)", s.Key, s.HeaderNumel, s.Numel), s.Key, s.Offset-8)
		}
	}
	reported := map[string]bool{}
	for _, r := range refs {
		if !stored[r.Key] && !reported[r.Key] {
			reported[r.Key] = true
			rep.Report(finding.RuleTorchMissingStorage, "", fmt.Sprintf("storage %q is referenced by the data pickle but not stored", r.Key), r.Key, f.Streams[3].Start+0)
		}
		if v := r.View; v != nil && (v.Offset < 0 || v.Size < 0 || v.Offset > r.Numel || v.Size > r.Numel-v.Offset) {
			rep.Report(finding.RuleTorchStorageSize, "", fmt.Sprintf("view %q of storage %q (offset %d, size %d) lies outside its %d elements", v.Key, r.Key, v.Offset, v.Size, r.Numel), v.Key, r.Off)
		}
	}
}
