package gguf

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// ProblemKind classifies what Validate found.
type ProblemKind int

const (
	// TensorIndex: an entry llama.cpp would refuse: bad dimensions, a
	// removed type, a size that overflows, a misaligned or out-of-range
	// offset, overlapping tensors, or a layout other than the contiguous
	// one llama.cpp expects; or a bad general.alignment.
	TensorIndex ProblemKind = iota
	// Duplicate: a metadata key or tensor name that appears twice; which
	// one a reader uses differs between readers.
	Duplicate
	// UnknownType: a tensor type newer than this reader; its size could
	// not be checked.
	UnknownType
	// TrailingData: bytes after the last tensor that no reader loads.
	TrailingData
)

// Problem is one thing wrong with a header.
type Problem struct {
	Kind   ProblemKind
	Msg    string
	Offset int64
}

// maxProblems bounds the list; the last one says how many were dropped.
const maxProblems = 100

// ggmlMaxDims is the most dimensions a ggml tensor has.
const ggmlMaxDims = 4

// Validate checks the metadata keys and the tensor index.
func (f *File) Validate() []Problem {
	v := &validator{}
	seen := map[string]bool{}
	for _, kv := range f.KVs {
		if seen[kv.Key] {
			v.add(Duplicate, kv.Offset, "metadata key %q appears more than once; llama.cpp refuses the file and other readers keep one or the other", shorten(kv.Key))
		}
		seen[kv.Key] = true
	}
	if kv, ok := f.Lookup("general.alignment"); ok {
		a, isUint := kv.Uint()
		if kv.Type != TypeUint32 || !isUint || a == 0 || a&(a-1) != 0 {
			v.add(TensorIndex, kv.Offset, "general.alignment must be a power of two stored as uint32, got %v (%s)", kv.Value, kv.Type)
		}
	}
	var dataSize uint64
	if f.DataOffset <= f.Size {
		dataSize = uint64(f.Size - f.DataOffset)
	}
	type span struct {
		start, end uint64
		name       string
	}
	var spans []span
	names := map[string]bool{}
	expected := uint64(0) // where llama.cpp expects the next tensor
	known := true
	for i := range f.Tensors {
		t := &f.Tensors[i]
		at := t.InfoOffset
		name := shorten(t.Name)
		if names[t.Name] {
			v.add(Duplicate, at, "tensor name %q appears more than once", name)
		}
		names[t.Name] = true
		if len(t.Dims) > ggmlMaxDims {
			v.add(TensorIndex, at, "tensor %q has %d dimensions; ggml has at most %d", name, len(t.Dims), ggmlMaxDims)
		}
		ne, ok := elements(t.Dims)
		if !ok {
			v.add(TensorIndex, at, "tensor %q: dimensions %v overflow a 64-bit element count", name, t.Dims)
			known = false
			continue
		}
		if t.Offset%f.Alignment != 0 {
			v.add(TensorIndex, at, "tensor %q: offset %d is not a multiple of the alignment %d", name, t.Offset, f.Alignment)
		}
		if !t.Type.Known() {
			known = false
			if n, removed := removedTypes[t.Type]; removed {
				v.add(TensorIndex, at, "tensor %q has type %s, removed from ggml; loaders refuse it", name, n)
			} else {
				v.add(UnknownType, at, "tensor %q has unknown type %d; its size was not checked", name, uint32(t.Type))
			}
			if t.Offset > dataSize {
				v.add(TensorIndex, at, "tensor %q starts at data offset %d, past the end of the file", name, t.Offset)
			}
			continue
		}
		block, size := t.Type.BlockSize()
		if len(t.Dims) > 0 && t.Dims[0]%uint64(block) != 0 {
			v.add(TensorIndex, at, "tensor %q: first dimension %d is not a multiple of the %s block size %d", name, t.Dims[0], t.Type, block)
		}
		hi, nbytes := bits.Mul64(ne/uint64(block), uint64(size))
		end, carry := bits.Add64(t.Offset, nbytes, 0)
		if hi != 0 || carry != 0 || nbytes > math.MaxInt64 {
			v.add(TensorIndex, at, "tensor %q: size overflows", name)
			known = false
			continue
		}
		if end > dataSize {
			v.add(TensorIndex, at, "tensor %q: bytes %d to %d of the data section run past the end of the file (%d bytes of data)", name, t.Offset, end, dataSize)
		}
		if known && t.Offset != expected {
			v.add(TensorIndex, at, "tensor %q is at data offset %d; llama.cpp expects %d (tensors follow each other in index order, padded to the alignment)", name, t.Offset, expected)
		}
		expected = alignUp(end, f.Alignment)
		if nbytes > 0 {
			spans = append(spans, span{t.Offset, end, name})
		}
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return cmpU(a.start, b.start)
		}
		return cmpU(a.end, b.end)
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			v.add(TensorIndex, -1, "tensors %q and %q overlap (data bytes %d to %d and %d to %d)", spans[i-1].name, spans[i].name, spans[i-1].start, spans[i-1].end, spans[i].start, spans[i].end)
		}
	}
	if known && dataSize > 0 {
		var last uint64
		for _, s := range spans {
			last = max(last, alignUp(s.end, f.Alignment))
		}
		if dataSize > last {
			v.add(TrailingData, f.DataOffset+int64(last), "%d bytes follow the last tensor; no loader reads them", dataSize-last)
		}
	}
	return v.done()
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// elements multiplies dimensions; ggml counts elements in an int64.
func elements(dims []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt64 || d > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

type validator struct {
	problems []Problem
	dropped  int
}

func (v *validator) add(k ProblemKind, off int64, format string, args ...any) {
	if len(v.problems) >= maxProblems {
		v.dropped++
		return
	}
	v.problems = append(v.problems, Problem{Kind: k, Offset: off, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) done() []Problem {
	if v.dropped > 0 {
		v.problems = append(v.problems, Problem{Kind: TensorIndex, Offset: -1, Msg: fmt.Sprintf("%d more problems not listed", v.dropped)})
	}
	return v.problems
}
