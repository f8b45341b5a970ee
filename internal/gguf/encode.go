package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Meta is one key/value for Encode. Value is a Go value of a type that
// maps to a GGUF type: uint8, int8, uint16, int16, uint32, int32, float32,
// bool, string, uint64, int64, float64, or a []string, []int32, []float32
// or []uint8 array.
type Meta struct {
	Key   string
	Value any
}

// Tensor describes a tensor for Encode. Data is its bytes, or nil for
// zeros; its length must match the type and dimensions.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	Data []byte
}

// EncodeOptions choose the variant written.
type EncodeOptions struct {
	Version   uint32 // 1 to 3; default 3
	Alignment uint64 // default 32 (general.alignment is not written for it)
	BigEndian bool
}

// EncodeHeader returns the header of a GGUF file (magic to the padded end
// of the tensor index) and the size of the data section that follows:
// tensors in order, each padded to the alignment, as llama.cpp's writer
// lays them out.
func EncodeHeader(kvs []Meta, tensors []Tensor, o EncodeOptions) ([]byte, int64, error) {
	if o.Version == 0 {
		o.Version = 3
	}
	if o.Alignment == 0 {
		o.Alignment = DefaultAlignment
	}
	e := &encoder{v: o.Version, order: binary.AppendByteOrder(binary.LittleEndian)}
	if o.BigEndian {
		e.order = binary.BigEndian
	}
	e.buf.WriteString(Magic)
	e.u32(o.Version)
	e.count(uint64(len(tensors)))
	e.count(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		if err := e.value(kv.Value); err != nil {
			return nil, 0, fmt.Errorf("key %q: %w", kv.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.count(d)
		}
		e.u32(uint32(t.Type))
		e.u64(off)
		n, err := tensorBytes(t)
		if err != nil {
			return nil, 0, err
		}
		off = alignUp(off+n, o.Alignment)
	}
	for uint64(e.buf.Len())%o.Alignment != 0 {
		e.buf.WriteByte(0)
	}
	return e.buf.Bytes(), int64(off), nil
}

// Encode writes a whole GGUF file.
func Encode(w io.Writer, kvs []Meta, tensors []Tensor, o EncodeOptions) error {
	head, _, err := EncodeHeader(kvs, tensors, o)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	align := o.Alignment
	if align == 0 {
		align = DefaultAlignment
	}
	for _, t := range tensors {
		n, _ := tensorBytes(t)
		data := t.Data
		if data == nil {
			data = make([]byte, n)
		}
		if uint64(len(data)) != n {
			return fmt.Errorf("tensor %q: %d bytes of data, type and shape need %d", t.Name, len(data), n)
		}
		pad := alignUp(n, align) - n
		if _, err := w.Write(append(data, make([]byte, pad)...)); err != nil {
			return err
		}
	}
	return nil
}

func tensorBytes(t Tensor) (uint64, error) {
	if !t.Type.Known() {
		return 0, fmt.Errorf("tensor %q: unknown type %d", t.Name, uint32(t.Type))
	}
	ne, ok := elements(t.Dims)
	block, size := t.Type.BlockSize()
	if !ok || ne%uint64(block) != 0 {
		return 0, fmt.Errorf("tensor %q: bad dimensions %v for %s", t.Name, t.Dims, t.Type)
	}
	return ne / uint64(block) * uint64(size), nil
}

type encoder struct {
	buf   bytes.Buffer
	v     uint32
	order binary.AppendByteOrder
}

func (e *encoder) u32(v uint32) { e.buf.Write(e.order.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.buf.Write(e.order.AppendUint64(nil, v)) }

// count writes a count or length: 32 bits in version 1, 64 after.
func (e *encoder) count(n uint64) {
	if e.v == 1 {
		e.u32(uint32(n))
		return
	}
	e.u64(n)
}

func (e *encoder) str(s string) {
	e.count(uint64(len(s)))
	e.buf.WriteString(s)
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case uint8:
		e.u32(uint32(TypeUint8))
		e.buf.WriteByte(x)
	case int8:
		e.u32(uint32(TypeInt8))
		e.buf.WriteByte(byte(x))
	case uint16:
		e.u32(uint32(TypeUint16))
		e.buf.Write(e.order.AppendUint16(nil, x))
	case int16:
		e.u32(uint32(TypeInt16))
		e.buf.Write(e.order.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(uint32(TypeUint32))
		e.u32(x)
	case int32:
		e.u32(uint32(TypeInt32))
		e.u32(uint32(x))
	case float32:
		e.u32(uint32(TypeFloat32))
		e.u32(math.Float32bits(x))
	case bool:
		e.u32(uint32(TypeBool))
		if x {
			e.buf.WriteByte(1)
		} else {
			e.buf.WriteByte(0)
		}
	case string:
		e.u32(uint32(TypeString))
		e.str(x)
	case uint64:
		e.u32(uint32(TypeUint64))
		e.u64(x)
	case int64:
		e.u32(uint32(TypeInt64))
		e.u64(uint64(x))
	case float64:
		e.u32(uint32(TypeFloat64))
		e.u64(math.Float64bits(x))
	case []string:
		e.array(TypeString, len(x))
		for _, s := range x {
			e.str(s)
		}
	case []int32:
		e.array(TypeInt32, len(x))
		for _, n := range x {
			e.u32(uint32(n))
		}
	case []float32:
		e.array(TypeFloat32, len(x))
		for _, f := range x {
			e.u32(math.Float32bits(f))
		}
	case []uint8:
		e.array(TypeUint8, len(x))
		e.buf.Write(x)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

func (e *encoder) array(t ValueType, n int) {
	e.u32(uint32(TypeArray))
	e.u32(uint32(t))
	e.count(uint64(n))
}
