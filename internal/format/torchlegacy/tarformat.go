package torchlegacy

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/format/torchstorage"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
)

// Tar is the analyzer of PyTorch 0.1.x checkpoints: a tar archive whose
// members are "sys_info", "pickle" (the data pickle), "storages" (a count
// pickle, then per storage a (key, location, storage_type) pickle and the
// raw elements, then a views pickle) and "tensors" (a count pickle, then
// per tensor a (key, storage_id, tensor_type) pickle and its sizes).
// torch.load still tries this format first for every file.
type Tar struct{}

// NewTar returns the analyzer.
func NewTar() *Tar { return &Tar{} }

// Name implements format.Analyzer.
func (*Tar) Name() string { return "pytorch-legacy-tar" }

var tarMembers = []string{"pickle", "storages", "tensors"}

// Match implements format.Analyzer: a tar holding the pickle, storages
// and tensors members among its first entries.
func (*Tar) Match(p *format.Probe) bool {
	if !archive.LooksLikeTar(p.Head) {
		return false
	}
	found := map[string]bool{}
	_, _ = archive.WalkTar(context.Background(), p.R, p.Size, 16, func(e *archive.TarEntry) error {
		found[archive.CleanName(e.Header.Name)] = true
		return nil
	})
	for _, m := range tarMembers {
		if !found[m] {
			return false
		}
	}
	return true
}

// Analyze implements format.Analyzer.
func (*Tar) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	const name = "pytorch-legacy-tar"
	rep := &container.Reporter{In: in, Out: out, Analyzer: name}
	t := &container.Tar{Reporter: *rep}
	t.Handle = func(ctx context.Context, e *archive.TarEntry, r io.ReaderAt, size int64) (bool, error) {
		member := e.Header.Name
		sub := container.Sub(out, member, 0)
		switch archive.CleanName(member) {
		case "sys_info":
			_, err := pickleaudit.Audit(ctx, in, r, size, sub, pickleaudit.Options{Analyzer: name})
			return true, err
		case "pickle":
			opts := pickleaudit.Options{Analyzer: name, PersistentID: func(pid *pickle.Value, off int64, o format.Emitter) {
				if !tarPersistentID(pid) {
					f := container.Rules(in).New(finding.RuleTorchPersistentID, "a 0.1.x persistent ID is a storage or tensor number, or a (class, source file, source) record", pickle.Repr(pid), off)
					f.Analyzer = name
					o.Finding(f)
				}
			}}
			_, err := pickleaudit.Audit(ctx, in, r, size, sub, opts)
			return true, err
		case "storages":
			return true, walkRecords(ctx, in, out, member, r, size, true)
		case "tensors":
			return true, walkRecords(ctx, in, out, member, r, size, false)
		}
		return false, nil
	}
	return t.Walk(ctx)
}

// tarPersistentID accepts what 0.1.x's persistent_load accepts: a key
// (an int, or a str of one) or a tuple whose first item it returns.
func tarPersistentID(pid *pickle.Value) bool {
	switch pid.Kind {
	case pickle.KindInt:
		return true
	case pickle.KindStr, pickle.KindBytes:
		for _, c := range pid.Str {
			if c < '0' || c > '9' {
				return false
			}
		}
		return pid.Str != ""
	case pickle.KindTuple:
		return len(pid.Items) == 3 && pid.Items[0].Kind == pickle.KindGlobal
	}
	return false
}

// walkRecords walks the storages or tensors member: pickles interleaved
// with raw data whose size the pickles and headers give.
func walkRecords(ctx context.Context, in *format.Input, out format.Emitter, member string, r io.ReaderAt, size int64, storages bool) error {
	const name = "pytorch-legacy-tar"
	rep := &container.Reporter{In: in, Out: out, Analyzer: name}
	pos := int64(0)
	stream := func() (*pickle.Value, bool, error) {
		n := size - pos
		if n <= 0 {
			return nil, false, nil
		}
		res, err := pickleaudit.Audit(ctx, in, io.NewSectionReader(r, pos, n), n, container.Sub(out, member, pos), pickleaudit.Options{Analyzer: name, SingleStream: true})
		if err != nil || res == nil || len(res.Streams) == 0 {
			return nil, false, err
		}
		st := res.Streams[0]
		pos += st.End
		return st.Result, st.Err == nil, nil
	}
	bad := func(format string, a ...any) error {
		rep.Report(finding.RuleTorchLegacyFormat, member, fmt.Sprintf(format, a...)+"; the rest was searched for pickles", "", pos)
		return scanRegion(ctx, in, out, member, r, pos, size, name)
	}
	count, ok, err := stream()
	if err != nil {
		return err
	}
	if !ok || count == nil || count.Kind != pickle.KindInt || count.Int < 0 {
		return bad("the record count is not an int")
	}
	var word [8]byte
	for i := int64(0); i < count.Int; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, ok, err := stream()
		if err != nil {
			return err
		}
		if !ok || rec == nil || rec.Kind != pickle.KindTuple || len(rec.Items) != 3 {
			return bad("record %d is not a 3-tuple", i)
		}
		if storages {
			st := rec.Items[2]
			if st.Kind != pickle.KindGlobal {
				return bad("storage %d has no storage type", i)
			}
			es, known := torchstorage.ElementSize(st.Global.Name)
			if !known {
				return bad("storage %d has the unknown type %s", i, pickle.GlobalExpr(st.Global))
			}
			if size-pos < 8 {
				return bad("storage %d has no size header", i)
			}
			if _, err := r.ReadAt(word[:], pos); err != nil {
				return err
			}
			numel := int64(binary.LittleEndian.Uint64(word[:]))
			if numel < 0 || numel > (size-pos-8)/es {
				return bad("storage %d claims %d elements; only %d bytes are left", i, uint64(numel), size-pos-8)
			}
			pos += 8 + numel*es
			continue
		}
		if size-pos < 8 {
			return bad("tensor %d has no dimensions", i)
		}
		if _, err := r.ReadAt(word[:4], pos); err != nil {
			return err
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(word[:4])))
		if ndim < 0 || ndim > 64 || 8+16*ndim+8 > size-pos {
			return bad("tensor %d has %d dimensions", i, ndim)
		}
		pos += 8 + 16*ndim + 8
	}
	if storages {
		views, ok, err := stream()
		if err != nil {
			return err
		}
		if !ok || views == nil || views.Kind != pickle.KindList {
			return bad("the storage views pickle is not a list")
		}
	}
	if pos < size {
		rep.Report(finding.RuleTorchTrailing, member, fmt.Sprintf("%d bytes follow the last record", size-pos), "", pos)
		return scanRegion(ctx, in, out, member, r, pos, size, name)
	}
	return nil
}

func scanRegion(ctx context.Context, in *format.Input, out format.Emitter, member string, r io.ReaderAt, pos, size int64, name string) error {
	if pos >= size {
		return nil
	}
	_, err := pickleaudit.Audit(ctx, in, io.NewSectionReader(r, pos, size-pos), size-pos, container.Sub(out, member, pos), pickleaudit.Options{Analyzer: name})
	return err
}
