// Package torchlegacy reads and analyzes legacy PyTorch checkpoints:
// torch.save with _use_new_zipfile_serialization=False (PyTorch ≤ 1.5's
// default), and the tar format of PyTorch 0.1.x.
//
// A legacy file is five pickles in a row (the magic number, the protocol
// version 1001, system info, the data pickle whose persistent IDs name
// storages, and the sorted list of storage keys) followed by each
// storage's raw bytes: an 8-byte little-endian element count, then the
// elements. Every pickle is scanned; storage bytes are skipped with the
// sizes the headers give and never read.
//
// # Reading a checkpoint
//
//	f, err := torchlegacy.Open(ctx, r, size, lim)
//	f.Streams[3]   // the data pickle's byte range
//	f.Storages     // key, dtype, element count, and data offset/size
//
// Open interprets the pickles with the symbolic machine (nothing runs), so
// a converter can copy storages without reading anything else.
package torchlegacy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"modelgate/internal/format/torchstorage"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
)

// MagicNumber is the first pickle of a legacy checkpoint, in decimal:
// 0x1950a86a20f9469cfc6c.
const MagicNumber = "119547037146038801333356"

// ProtocolVersion is the second pickle.
const ProtocolVersion = 1001

// Stream names, in file order.
var StreamNames = [5]string{"magic number", "protocol version", "system info", "data", "storage keys"}

// Region is a byte range [Start, End).
type Region struct{ Start, End int64 }

// Storage is one storage's raw bytes in the file.
type Storage struct {
	torchstorage.Ref
	DType string
	// Numel is the element count from the storage's own header.
	HeaderNumel int64
	// Offset and Size locate the elements (after the 8-byte header).
	Offset, Size int64
}

// File is a legacy checkpoint's layout.
type File struct {
	Streams  [5]Region
	Storages []Storage
	// End is where the last storage ends; bytes after it are not read by
	// torch.load.
	End int64
	// MagicComputed is set when the first pickle builds its result by a
	// call: torch.load accepts it if the call returns the magic number.
	MagicComputed bool
}

// StreamRunner interprets the pickle stream at off and returns what STOP
// returned (nil if the stream broke) and where the stream ended. The
// analyzer runs streams through the policy judge; Open through a plain
// collector.
type StreamRunner func(ctx context.Context, i int, off int64) (result *pickle.Value, end int64, broke bool, err error)

// ErrStructure is wrapped by errors about the stacked-pickle structure.
var ErrStructure = errors.New("legacy checkpoint structure")

func structErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrStructure, fmt.Sprintf(format, a...))
}

// Walk follows the five pickles and the storages after them. refs returns
// the storages the data pickle named, once stream 3 has run. A structure
// error comes with the layout found before it.
func Walk(ctx context.Context, r io.ReaderAt, size int64, run StreamRunner, refs func() []*torchstorage.Ref) (*File, error) {
	f := &File{}
	pos := int64(0)
	var results [5]*pickle.Value
	for i := range 5 {
		if pos >= size {
			return f, structErr("the file ends before the %s pickle", StreamNames[i])
		}
		res, end, broke, err := run(ctx, i, pos)
		if err != nil {
			return f, err
		}
		f.Streams[i] = Region{pos, end}
		f.End = end
		pos = end
		if broke {
			return f, structErr("the %s pickle breaks", StreamNames[i])
		}
		results[i] = res
		switch i {
		case 0:
			if res != nil && res.Kind == pickle.KindObject {
				f.MagicComputed = true
			} else if !IsMagic(res) {
				return f, structErr("the first pickle is %s, not the magic number", describe(res))
			}
		case 1:
			if res == nil || res.Kind != pickle.KindInt || res.Int != ProtocolVersion {
				return f, structErr("the protocol version is %s, not %d", describe(res), ProtocolVersion)
			}
		}
	}
	keys := results[4]
	if keys == nil || keys.Kind != pickle.KindList || keys.Truncated {
		return f, structErr("the storage keys pickle is %s, not a list", describe(keys))
	}
	byKey := map[string]*torchstorage.Ref{}
	for _, r := range refs() {
		if _, ok := byKey[r.Key]; !ok {
			byKey[r.Key] = r
		}
	}
	var hdr [8]byte
	for _, k := range keys.Items {
		if err := ctx.Err(); err != nil {
			return f, err
		}
		key, ok := keyText(k)
		if !ok {
			return f, structErr("a storage key is %s, not a string", describe(k))
		}
		ref := byKey[key]
		if ref == nil {
			return f, structErr("storage key %q is not referenced by the data pickle (torch.load fails)", key)
		}
		if ref.ElementSize == 0 {
			return f, structErr("storage %q has the unknown type %s.%s", key, ref.Module, ref.Class)
		}
		if size-pos < 8 {
			return f, structErr("the file ends before storage %q", key)
		}
		if _, err := r.ReadAt(hdr[:], pos); err != nil {
			return f, fmt.Errorf("reading storage %q header: %w", key, err)
		}
		numel := int64(binary.LittleEndian.Uint64(hdr[:]))
		if numel < 0 || numel > (size-pos-8)/ref.ElementSize {
			return f, structErr("storage %q claims %d elements of %d bytes; only %d bytes are left", key, uint64(numel), ref.ElementSize, size-pos-8)
		}
		s := Storage{Ref: *ref, DType: torchstorage.DType(ref.Class), HeaderNumel: numel, Offset: pos + 8, Size: numel * ref.ElementSize}
		f.Storages = append(f.Storages, s)
		pos = s.Offset + s.Size
		f.End = pos
	}
	return f, nil
}

// IsMagic reports the literal magic number.
func IsMagic(v *pickle.Value) bool {
	return v != nil && v.Kind == pickle.KindBigInt && v.Str == MagicNumber
}

func keyText(v *pickle.Value) (string, bool) {
	if v.Truncated || (v.Kind != pickle.KindStr && v.Kind != pickle.KindBytes) {
		return "", false
	}
	return v.Str, true
}

func describe(v *pickle.Value) string {
	switch {
	case v == nil:
		return "missing"
	case v.Kind == pickle.KindObject:
		return "the result of a call"
	}
	return "a " + v.Kind.String() + " " + (&pickle.Renderer{Max: 40}).Repr(v)
}

// Open reads a legacy checkpoint's layout, interpreting its pickles with
// the symbolic machine.
func Open(ctx context.Context, r io.ReaderAt, size int64, lim *limits.Limits) (*File, error) {
	col := &torchstorage.Collector{Legacy: true}
	run := func(ctx context.Context, i int, off int64) (*pickle.Value, int64, bool, error) {
		var v pickle.Visitor = nopVisitor{}
		if i == 3 {
			v = col
		}
		m := pickle.NewMachine(r, 0, size, v, pickle.Options{Limits: lim})
		m.SeekTo(off)
		st, err := m.Run(ctx)
		if err != nil {
			return nil, off, true, err
		}
		return st.Result, st.End, st.Err != nil, nil
	}
	return Walk(ctx, r, size, run, func() []*torchstorage.Ref { return col.Refs })
}

type nopVisitor struct{}

func (nopVisitor) Global(*pickle.Global)                  {}
func (nopVisitor) Call(*pickle.Call)                      {}
func (nopVisitor) Build(_, _ *pickle.Value, _ int64)      {}
func (nopVisitor) Persistent(_, _ *pickle.Value, _ int64) {}
func (nopVisitor) Anomaly(int64, pickle.Op, string)       {}
func (nopVisitor) StreamStart(int64)                      {}
func (nopVisitor) StreamEnd(*pickle.Stream)               {}
