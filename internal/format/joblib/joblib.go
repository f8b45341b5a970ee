// Package joblib analyzes joblib.dump files: a pickle in which every NumPy
// array is a joblib.numpy_pickle.NumpyArrayWrapper whose raw data follows
// inline, right after the wrapper's BUILD. joblib's unpickler reads that
// data itself (after a one-byte alignment padding length), and for object
// arrays runs a second, independent pickle.load at that point.
//
// The analyzer runs the pickle through the policy judge with a hook after
// every BUILD that does the same: it sizes the array from its shape and
// dtype and skips the bytes without reading them, or interprets the nested
// object pickle, so the stream continues where joblib continues it and a
// payload after an array is found. Compressed joblib files (zlib, gzip,
// bz2, xz, lzma, lz4) are decompressed by the compressed-stream analyzers
// and their content comes back here.
package joblib

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
)

// searchLimit bounds how far Match looks for the wrapper class name: the
// first array can follow a large dict (a vectorizer's vocabulary).
const searchLimit = 8 << 20

var wrapperNames = [][]byte{[]byte("NumpyArrayWrapper"), []byte("NDArrayWrapper")}

// Analyzer is the joblib analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "joblib" }

// Match implements format.Analyzer: a pickle that names joblib's array
// wrapper in its first 8 MiB.
func (*Analyzer) Match(p *format.Probe) bool {
	if len(p.Head) < 2 || !pickle.LooksLikePickle(p.R, 0, p.Size) {
		return false
	}
	if hasWrapper(p.Head) {
		return true
	}
	if p.Size <= int64(len(p.Head)) {
		return false
	}
	buf := make([]byte, min(1<<20, p.Size-int64(len(p.Head))+32))
	for off := int64(len(p.Head)) - 32; off < min(p.Size, searchLimit); off += int64(len(buf)) - 32 {
		n, _ := p.R.ReadAt(buf, off)
		if n == 0 {
			return false
		}
		if hasWrapper(buf[:n]) {
			return true
		}
	}
	return false
}

func hasWrapper(b []byte) bool {
	for _, w := range wrapperNames {
		if bytes.Contains(b, w) {
			return true
		}
	}
	return false
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	rep := &container.Reporter{In: in, Out: out, Analyzer: "joblib"}
	read := map[*pickle.Value]bool{}
	hook := func(m *pickle.Machine, obj *pickle.Value) error {
		if !isWrapper(obj) || read[obj] {
			return nil
		}
		read[obj] = true // joblib replaces the wrapper with the array
		start := m.Offset()
		object, err := readArray(ctx, m, obj, rep)
		if err != nil || object {
			return err // an object array's nested pickle was scanned as one
		}
		return checkInlineBytes(ctx, in, out, rep, start, m.Offset())
	}
	_, err := pickleaudit.Audit(ctx, in, in.R, in.Size, out, pickleaudit.Options{Analyzer: "joblib", AfterBuild: hook})
	return err
}

// inlineCheck is how much of an array's inline bytes is checked for a
// pickle: a payload needs a few dozen bytes.
const inlineCheck = 4096

// checkInlineBytes looks at the bytes joblib skips after a wrapper (the
// padding length, padding and raw data) the way pickle.load would read
// them: it carries on with opcodes right after the BUILD. A payload hidden
// there is invisible to joblib.load but runs when the file is unpickled
// directly.
func checkInlineBytes(ctx context.Context, in *format.Input, out format.Emitter, rep *container.Reporter, start, end int64) error {
	n := min(end-start, inlineCheck)
	if n < 2 {
		return nil
	}
	r := io.NewSectionReader(in.R, start, n)
	if !container.PickleActs(ctx, r, n) {
		return nil
	}
	rep.Report(finding.RuleArchivePolyglot, "", "the bytes joblib skips after an array wrapper are also pickle opcodes: pickle.load runs them, joblib.load does not; they were scanned", "", start)
	_, err := pickleaudit.Audit(ctx, in, r, n, container.Sub(out, fmt.Sprintf("array-data@%d", start), 0), pickleaudit.Options{Analyzer: "joblib"})
	return err
}

// isWrapper reports an object made by joblib's NumpyArrayWrapper class.
func isWrapper(v *pickle.Value) bool {
	if v == nil || v.Kind != pickle.KindObject || v.Call == nil || v.Call.Callee == nil || v.Call.Callee.Kind != pickle.KindGlobal {
		return false
	}
	g := v.Call.Callee.Global
	return g.Module == "joblib.numpy_pickle" && g.Name == "NumpyArrayWrapper"
}

// Array is what a wrapper says about the data that follows it.
type Array struct {
	Shape    []int64
	Order    string
	ItemSize int64
	Object   bool
	// Aligned is set when joblib wrote an alignment padding byte (joblib
	// ≥ 0.12 sets numpy_array_alignment_bytes).
	Aligned bool
}

// Bytes is the data size, or -1 on overflow.
func (a *Array) Bytes() int64 {
	n := a.ItemSize
	for _, d := range a.Shape {
		if d != 0 && n > (1<<62)/d {
			return -1
		}
		n *= d
	}
	return n
}

// readArray moves the machine past an array's inline data as joblib's
// read_array does, and reports whether it was an object array (a nested
// pickle, interpreted).
func readArray(ctx context.Context, m *pickle.Machine, obj *pickle.Value, rep *container.Reporter) (bool, error) {
	off := m.Offset()
	a, err := ParseWrapper(obj)
	if err != nil {
		rep.Report(finding.RuleJoblibArray, "", err.Error(), "", off)
		return false, &pickle.StreamError{Off: off, Msg: "joblib array: " + err.Error()}
	}
	if a.Object {
		st, err := m.RunNested(ctx)
		if err != nil {
			return true, err
		}
		if st.Err != nil {
			return true, st.Err // joblib's load fails inside the nested pickle
		}
		return true, nil
	}
	return false, skipData(m, a, rep, off)
}

func skipData(m *pickle.Machine, a *Array, rep *container.Reporter, off int64) error {
	if a.Aligned {
		b, err := m.ReadSmall(1)
		if err != nil {
			return arrayOverrun(rep, off, err)
		}
		if err := m.Skip(int64(b[0])); err != nil {
			return arrayOverrun(rep, off, err)
		}
	}
	n := a.Bytes()
	if n < 0 {
		rep.Report(finding.RuleJoblibArray, "", fmt.Sprintf("array of shape %v is too large to exist", a.Shape), "", off)
		return &pickle.StreamError{Off: off, Msg: "joblib array size overflows"}
	}
	if err := m.Skip(n); err != nil {
		return arrayOverrun(rep, off, err)
	}
	return nil
}

func arrayOverrun(rep *container.Reporter, off int64, err error) error {
	rep.Report(finding.RuleJoblibArray, "", "the array data runs past the end of the file: "+err.Error(), "", off)
	if se, ok := err.(*pickle.StreamError); ok {
		return se
	}
	return &pickle.StreamError{Off: off, Msg: err.Error()}
}

// ParseWrapper reads a NumpyArrayWrapper's state as joblib's read_array
// uses it: shape, order, dtype and the alignment key.
func ParseWrapper(obj *pickle.Value) (*Array, error) {
	st := lastDict(obj.Call.States)
	if st == nil {
		return nil, fmt.Errorf("the array wrapper has no state dict")
	}
	a := &Array{Order: "C"}
	shape := dictGet(st, "shape")
	if shape == nil || shape.Kind != pickle.KindTuple || shape.Truncated {
		return nil, fmt.Errorf("the array wrapper has no shape tuple")
	}
	for _, d := range shape.Items {
		if d.Kind != pickle.KindInt || d.Int < 0 {
			return nil, fmt.Errorf("the array shape is not a tuple of non-negative ints")
		}
		a.Shape = append(a.Shape, d.Int)
	}
	if o := dictGet(st, "order"); o != nil && o.IsString() {
		a.Order = o.Str
	}
	if al := dictGet(st, "numpy_array_alignment_bytes"); al != nil && al.Kind != pickle.KindNone {
		a.Aligned = true
	}
	dt := dictGet(st, "dtype")
	if dt == nil {
		return nil, fmt.Errorf("the array wrapper has no dtype")
	}
	size, object, err := dtypeSize(dt)
	if err != nil {
		return nil, err
	}
	a.ItemSize, a.Object = size, object
	return a, nil
}

func lastDict(states []*pickle.Value) *pickle.Value {
	for i := len(states) - 1; i >= 0; i-- {
		if s := states[i]; s.Kind == pickle.KindDict {
			return s
		}
		if s := states[i]; s.Kind == pickle.KindTuple && len(s.Items) == 2 && s.Items[0].Kind == pickle.KindDict {
			return s.Items[0]
		}
	}
	return nil
}

// dictGet returns the last value stored under a string key.
func dictGet(d *pickle.Value, key string) *pickle.Value {
	var v *pickle.Value
	for i := 0; i+1 < len(d.Items); i += 2 {
		if k := d.Items[i]; k.IsString() && k.Str == key {
			v = d.Items[i+1]
		}
	}
	return v
}

// dtypeSize reads numpy.dtype(spec, align, copy) and its BUILD state
// (version, byteorder, subarray, names, fields, elsize, alignment, flags):
// elsize gives the size of flexible and structured types, flags bit 0
// (NPY_ITEM_REFCOUNT) marks types holding objects.
func dtypeSize(v *pickle.Value) (int64, bool, error) {
	if v.Kind != pickle.KindObject || v.Call == nil || v.Call.Callee.Kind != pickle.KindGlobal || v.Call.Callee.Global.Name != "dtype" {
		return 0, false, fmt.Errorf("the array dtype is not a numpy.dtype")
	}
	args := v.Call.Args
	if args == nil || len(args.Items) == 0 || !args.Items[0].IsString() {
		return 0, false, fmt.Errorf("the numpy.dtype has no type string")
	}
	spec := args.Items[0].Str
	elsize, flags := int64(-1), int64(0)
	for i := len(v.Call.States) - 1; i >= 0; i-- {
		s := v.Call.States[i]
		if s.Kind == pickle.KindTuple && len(s.Items) >= 8 {
			if e := s.Items[5]; e.Kind == pickle.KindInt {
				elsize = e.Int
			}
			if f := s.Items[7]; f.Kind == pickle.KindInt {
				flags = f.Int
			}
			break
		}
	}
	object := flags&1 != 0 || spec == "O" || spec == "O8" || spec == "O4"
	if object {
		return 8, true, nil
	}
	if elsize > 0 {
		return elsize, false, nil
	}
	if spec == "" {
		return 0, false, fmt.Errorf("empty dtype string")
	}
	kind, digits := spec[0], spec[1:]
	if i := bytes.IndexByte([]byte(digits), '['); i >= 0 {
		digits = digits[:i]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if digits == "" {
		switch kind {
		case '?', 'b', 'B':
			return 1, false, nil
		}
	}
	if err != nil || n < 0 || n > 1<<32 {
		return 0, false, fmt.Errorf("unsupported dtype %q", spec)
	}
	switch kind {
	case 'b', 'B', 'i', 'u', 'f', 'c', 'M', 'm', 'S', 'a', 'V':
		return n, false, nil
	case 'U':
		return 4 * n, false, nil
	case '?':
		return 1, false, nil
	}
	return 0, false, fmt.Errorf("unsupported dtype %q", spec)
}
