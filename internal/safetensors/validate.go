package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
)

// ProblemKind classifies what Validate found.
type ProblemKind int

const (
	// Layout: a byte range that does not match its dtype and shape, that
	// overflows, leaves the file, overlaps or leaves a gap, or a data
	// section the ranges do not cover exactly; an unknown field.
	Layout ProblemKind = iota
	// Duplicate: a tensor name (or metadata key) that appears twice.
	Duplicate
	// UnknownDType: a dtype safetensors does not define.
	UnknownDType
	// Metadata: __metadata__ holding something other than strings.
	Metadata
	// Polyglot: the file is also another format (a zip archive that
	// torch.load would open).
	Polyglot
)

// Problem is one thing wrong with a file.
type Problem struct {
	Kind   ProblemKind
	Msg    string
	Offset int64 // in the file, or -1
}

const maxProblems = 100

// Validate checks the header against the file the way the reference
// reader does, and more strictly: every tensor's range must match its
// dtype and shape, ranges must follow each other without gaps or
// overlaps, and together cover the data section exactly.
func (h *Header) Validate() []Problem {
	ps := slices.Clone(h.problems)
	add := func(k ProblemKind, off int64, format string, args ...any) {
		if len(ps) < maxProblems {
			ps = append(ps, Problem{Kind: k, Offset: off, Msg: fmt.Sprintf(format, args...)})
		}
	}
	dataSize := uint64(h.Size - h.DataOffset)
	sorted := slices.Clone(h.Tensors)
	slices.SortStableFunc(sorted, func(a, b TensorInfo) int {
		if a.Begin != b.Begin {
			return cmpU(a.Begin, b.Begin)
		}
		return cmpU(a.End, b.End)
	})
	var next uint64 // where the next range must start
	for i, t := range sorted {
		if t.End < t.Begin {
			add(Layout, t.At, "tensor %q: data_offsets [%d, %d] end before they begin", t.Name, t.Begin, t.End)
			continue
		}
		switch {
		case t.Begin > next:
			add(Layout, t.At, "%d bytes of the data section before tensor %q belong to no tensor", t.Begin-next, t.Name)
		case t.Begin < next && i > 0:
			add(Layout, t.At, "tensor %q (bytes %d to %d) overlaps %q", t.Name, t.Begin, t.End, sorted[i-1].Name)
		}
		next = max(next, t.End)
		if t.End > dataSize {
			add(Layout, t.At, "tensor %q: bytes %d to %d run past the end of the %d-byte data section", t.Name, t.Begin, t.End, dataSize)
		}
		if !t.DType.Known() {
			add(UnknownDType, t.At, "tensor %q has unknown dtype %q", t.Name, t.DType)
			continue
		}
		n, ok := byteSize(t.DType, t.Shape)
		switch {
		case !ok:
			add(Layout, t.At, "tensor %q: shape %v of %s overflows or is not a whole number of bytes", t.Name, t.Shape, t.DType)
		case n != t.End-t.Begin:
			add(Layout, t.At, "tensor %q: shape %v of %s is %d bytes, its range holds %d", t.Name, t.Shape, t.DType, n, t.End-t.Begin)
		}
	}
	if next < dataSize {
		add(Layout, h.DataOffset+int64(next), "%d bytes after the last tensor belong to no tensor; loaders refuse the file", dataSize-next)
	}
	return ps
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

// byteSize returns the bytes a tensor of dtype d and shape takes, if it
// neither overflows nor ends mid-byte.
func byteSize(d DType, shape []uint64) (uint64, bool) {
	n := uint64(1)
	for _, s := range shape {
		hi, lo := bits.Mul64(n, s)
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	hi, nbits := bits.Mul64(n, uint64(d.Bits()))
	if hi != 0 || nbits%8 != 0 || nbits/8 > math.MaxInt64 {
		return 0, false
	}
	return nbits / 8, true
}

// CheckPolyglot looks for a zip archive sharing the file: a header length
// whose bytes spell a zip local header ("PK\x03\x04", which torch.load
// takes for a checkpoint archive), or a zip end-of-central-directory
// record near the end whose directory lies inside the file. It reads at
// most the last 64 KiB.
func CheckPolyglot(r io.ReaderAt, size int64) ([]Problem, error) {
	var ps []Problem
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, err
	}
	if string(head) == "PK\x03\x04" {
		ps = append(ps, Problem{Kind: Polyglot, Offset: 0, Msg: "the header length spells a zip local file header (PK\\x03\\x04): torch.load opens this file as a checkpoint archive"})
	}
	const tailMax = 64<<10 + 22
	n := min(size, tailMax)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return ps, err
	}
	for i := len(tail) - 22; i >= 0; i-- {
		if string(tail[i:i+4]) != "PK\x05\x06" {
			continue
		}
		cdSize := int64(binary.LittleEndian.Uint32(tail[i+12:]))
		cdOff := int64(binary.LittleEndian.Uint32(tail[i+16:]))
		eocd := size - n + int64(i)
		if cdOff+cdSize > eocd || cdSize == 0 {
			continue
		}
		sig := make([]byte, 4)
		if _, err := r.ReadAt(sig, cdOff); err != nil || string(sig) != "PK\x01\x02" {
			continue
		}
		ps = append(ps, Problem{Kind: Polyglot, Offset: eocd, Msg: fmt.Sprintf("a zip archive's central directory (%d bytes at offset %d) hides in the file: zip readers and torch.load see an archive", cdSize, cdOff)})
		break
	}
	return ps, nil
}
