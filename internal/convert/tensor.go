package convert

import (
	"fmt"
	"math/bits"

	"modelgate/internal/safetensors"
)

// storageRef is a storage as the data pickle names it.
type storageRef struct {
	Key string
	// Class is the storage type global, e.g. torch.FloatStorage.
	Class string
	// DType is the dtype the storage holds ("uint8" for untyped).
	DType    string
	ElemSize int64
	// Numel counts ElemSize elements.
	Numel int64
	// ViewKey is set for a legacy storage view: ViewOffset elements into
	// storage Key, Numel elements long.
	ViewKey    string
	ViewOffset int64
}

// Bytes is the storage's size in bytes.
func (s *storageRef) Bytes() int64 { return s.Numel * s.ElemSize }

// tensorRef is a tensor the pickle rebuilds: a strided view of a storage.
type tensorRef struct {
	Storage *storageRef
	// DType is the tensor's torch dtype name, e.g. "float32".
	DType    string
	ElemSize int64
	// Offset, Shape and Stride are in elements of DType, as torch's set_
	// takes them.
	Offset        int64
	Shape, Stride []int64
}

// torchToSafetensors maps torch dtypes to safetensors dtypes, with their
// element sizes. complex128, complex32, quantized and bit types have no
// safetensors dtype.
var torchToSafetensors = map[string]struct {
	DType safetensors.DType
	Size  int64
}{
	"float64": {safetensors.F64, 8}, "float32": {safetensors.F32, 4}, "float16": {safetensors.F16, 2},
	"bfloat16": {safetensors.BF16, 2}, "int64": {safetensors.I64, 8}, "int32": {safetensors.I32, 4},
	"int16": {safetensors.I16, 2}, "int8": {safetensors.I8, 1}, "uint8": {safetensors.U8, 1},
	"bool": {safetensors.BOOL, 1}, "complex64": {safetensors.C64, 8},
	"uint16": {safetensors.U16, 2}, "uint32": {safetensors.U32, 4}, "uint64": {safetensors.U64, 8},
	"float8_e4m3fn": {safetensors.F8E4M3, 1}, "float8_e5m2": {safetensors.F8E5M2, 1},
	"float8_e4m3fnuz": {safetensors.F8E4M3FNUZ, 1}, "float8_e5m2fnuz": {safetensors.F8E5M2FNUZ, 1},
	"float8_e8m0fnu": {safetensors.F8E8M0, 1},
}

// Numel is the element count (shapes are checked not to overflow).
func (t *tensorRef) Numel() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Bytes is the size of the tensor's contiguous copy.
func (t *tensorRef) Bytes() int64 { return t.Numel() * t.ElemSize }

// check validates the view against its storage the way torch's set_ does,
// without overflow, and bounds what the copy may produce.
func (t *tensorRef) check(maxBytes int64) error {
	if len(t.Shape) != len(t.Stride) {
		return fmt.Errorf("%d sizes but %d strides", len(t.Shape), len(t.Stride))
	}
	if t.Offset < 0 {
		return fmt.Errorf("negative storage offset %d", t.Offset)
	}
	numel := uint64(1)
	for i, d := range t.Shape {
		if d < 0 || t.Stride[i] < 0 {
			return fmt.Errorf("size %d or stride %d is negative", d, t.Stride[i])
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > 1<<62 {
			return fmt.Errorf("shape %v overflows", t.Shape)
		}
		numel = lo
	}
	hi, out := bits.Mul64(numel, uint64(t.ElemSize))
	if hi != 0 || out > uint64(maxBytes) {
		return fmt.Errorf("shape %v of %s needs more than the %d-byte limit", t.Shape, t.DType, maxBytes)
	}
	if numel == 0 {
		return nil
	}
	end, ok := t.maxElement()
	if !ok {
		return fmt.Errorf("shape %v with strides %v overflows", t.Shape, t.Stride)
	}
	// The last element's last byte must lie within the storage.
	hi, need := bits.Mul64(uint64(end)+1, uint64(t.ElemSize))
	if hi != 0 || need > uint64(t.Storage.Bytes()) {
		return fmt.Errorf("offset %d, shape %v and strides %v reach past the %d-byte storage %q", t.Offset, t.Shape, t.Stride, t.Storage.Bytes(), t.Storage.Key)
	}
	return nil
}

// maxElement is the storage index of the view's last element: offset plus
// the sum of (size-1)*stride. Only for views with elements.
func (t *tensorRef) maxElement() (int64, bool) {
	sum := uint64(t.Offset)
	for i, d := range t.Shape {
		hi, lo := bits.Mul64(uint64(d-1), uint64(t.Stride[i]))
		if hi != 0 || lo > 1<<62 {
			return 0, false
		}
		sum += lo
		if sum > 1<<62 {
			return 0, false
		}
	}
	return int64(sum), true
}

// span returns the byte range of the storage the view touches, relative
// to the storage's start; empty for a view without elements.
func (t *tensorRef) span() (start, end int64) {
	if t.Numel() == 0 {
		return t.Offset * t.ElemSize, t.Offset * t.ElemSize
	}
	last, _ := t.maxElement()
	return t.Offset * t.ElemSize, (last + 1) * t.ElemSize
}

// contiguous reports a row-major view: its bytes are one run of the
// storage. Dimensions of size 1 have no say, as in torch.
func (t *tensorRef) contiguous() bool {
	want := int64(1)
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] == 1 {
			continue
		}
		if t.Stride[i] != want {
			return t.Numel() == 0
		}
		want *= t.Shape[i]
	}
	return true
}

// viewKey identifies a tensor's exact view of its root storage, for
// grouping aliases.
func viewKey(t *tensorRef) string {
	strides := make([]int64, len(t.Stride))
	for i := range t.Stride {
		if t.Shape[i] > 1 {
			strides[i] = t.Stride[i]
		}
	}
	return fmt.Sprintf("%q %s %d %v %v", t.Storage.Key, t.DType, t.Offset*t.ElemSize+t.Storage.ViewOffset*t.Storage.ElemSize, t.Shape, strides)
}
