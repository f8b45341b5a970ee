// Package protoscan walks protobuf wire format straight from an
// io.ReaderAt, without a schema and without reading a message into memory:
// fields are decoded one at a time through a small window, length-delimited
// payloads are returned as byte ranges, and what a caller does not need
// (tensor data, raw weights) is skipped by offset. It is the base of the
// ONNX and TensorFlow walkers, whose files routinely exceed memory.
package protoscan

import (
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/format"
)

// Field is one decoded field.
type Field struct {
	Num  protowire.Number
	Type protowire.Type
	// Val holds varint, fixed32 and fixed64 values.
	Val uint64
	// Off and Len locate a length-delimited payload (BytesType).
	Off, Len int64
	// Start is the offset of the field's tag.
	Start int64
}

// Source reads fields from content through a window.
type Source struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
	bufLen int
	reads  int64
}

const window = 64 << 10

// NewSource returns a Source over size bytes of r.
func NewSource(r io.ReaderAt, size int64) *Source {
	return &Source{r: r, size: size, buf: make([]byte, max(0, min(window, size)))}
}

// Size is the content size.
func (s *Source) Size() int64 { return s.size }

// Message is a range of content holding one message's fields.
type Message struct {
	s        *Source
	pos, end int64
}

// Root is the whole content as one message.
func (s *Source) Root() Message { return Message{s, 0, s.size} }

// Sub is the message held by a length-delimited field.
func (s *Source) Sub(f Field) Message { return Message{s, f.Off, f.Off + f.Len} }

// Pos is where the next field starts.
func (m *Message) Pos() int64 { return m.pos }

// Done reports whether every field has been read.
func (m *Message) Done() bool { return m.pos >= m.end }

// view returns up to n bytes at off without copying, refilling the window.
func (s *Source) view(off int64, n int) ([]byte, error) {
	if off < s.bufOff || off+int64(n) > s.bufOff+int64(s.bufLen) {
		if off >= s.size {
			return nil, nil
		}
		m := int(min(int64(len(s.buf)), s.size-off))
		got, err := s.r.ReadAt(s.buf[:m], off)
		if got < m {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("protoscan: read at %d: %w", off, err)
		}
		s.reads++
		s.bufOff, s.bufLen = off, m
	}
	start := int(off - s.bufOff)
	return s.buf[start:min(start+n, s.bufLen)], nil
}

func malformed(off int64, msg string) error { return &format.Error{Off: off, Msg: msg} }

// Next decodes the next field; ok is false at the end of the message.
// Groups (a deprecated encoding) are skipped whole.
func (m *Message) Next() (f Field, ok bool, err error) {
	if m.pos >= m.end {
		return Field{}, false, nil
	}
	b, err := m.s.view(m.pos, 20)
	if err != nil {
		return Field{}, false, err
	}
	b = b[:min(int64(len(b)), m.end-m.pos)]
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return Field{}, false, malformed(m.pos, "invalid protobuf tag")
	}
	f = Field{Num: num, Type: typ, Start: m.pos}
	b = b[n:]
	m.pos += int64(n)
	switch typ {
	case protowire.VarintType:
		v, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return Field{}, false, malformed(m.pos, "invalid varint")
		}
		f.Val, m.pos = v, m.pos+int64(k)
	case protowire.Fixed32Type:
		v, k := protowire.ConsumeFixed32(b)
		if k < 0 {
			return Field{}, false, malformed(m.pos, "truncated fixed32")
		}
		f.Val, m.pos = uint64(v), m.pos+int64(k)
	case protowire.Fixed64Type:
		v, k := protowire.ConsumeFixed64(b)
		if k < 0 {
			return Field{}, false, malformed(m.pos, "truncated fixed64")
		}
		f.Val, m.pos = v, m.pos+int64(k)
	case protowire.BytesType:
		v, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return Field{}, false, malformed(m.pos, "invalid length")
		}
		m.pos += int64(k)
		if v > uint64(m.end-m.pos) {
			return Field{}, false, malformed(f.Start, fmt.Sprintf("field %d claims %d bytes, %d left in its message", num, v, m.end-m.pos))
		}
		f.Off, f.Len = m.pos, int64(v)
		m.pos += int64(v)
	case protowire.StartGroupType:
		if err := m.skipGroup(num); err != nil {
			return Field{}, false, err
		}
	default:
		return Field{}, false, malformed(f.Start, fmt.Sprintf("unexpected wire type %d", typ))
	}
	return f, true, nil
}

// skipGroup skips to the end-group tag matching num, nesting bounded.
func (m *Message) skipGroup(num protowire.Number) error {
	stack := []protowire.Number{num}
	for len(stack) > 0 {
		if len(stack) > 100 {
			return malformed(m.pos, "protobuf groups nested too deep")
		}
		start := m.pos
		b, err := m.s.view(m.pos, 20)
		if err != nil {
			return err
		}
		b = b[:min(int64(len(b)), m.end-m.pos)]
		n2, t2, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed(start, "invalid tag in group")
		}
		switch t2 {
		case protowire.EndGroupType:
			if n2 != stack[len(stack)-1] {
				return malformed(start, "mismatched end group")
			}
			stack = stack[:len(stack)-1]
			m.pos += int64(n)
		case protowire.StartGroupType:
			stack = append(stack, n2)
			m.pos += int64(n)
		default:
			m.pos = start
			if _, _, err := m.Next(); err != nil {
				return err
			}
		}
		if m.pos > m.end {
			return malformed(start, "group overruns its message")
		}
	}
	return nil
}

// Bytes reads a length-delimited payload of at most max bytes.
func (s *Source) Bytes(f Field, max int64) ([]byte, error) {
	if f.Type != protowire.BytesType {
		return nil, malformed(f.Start, fmt.Sprintf("field %d is not length-delimited", f.Num))
	}
	if f.Len > max {
		return nil, malformed(f.Off, fmt.Sprintf("field %d of %d bytes is longer than %d", f.Num, f.Len, max))
	}
	if f.Len <= window {
		v, err := s.view(f.Off, int(f.Len))
		if err != nil {
			return nil, err
		}
		if int64(len(v)) == f.Len {
			return append([]byte(nil), v...), nil
		}
	}
	b := make([]byte, f.Len)
	if _, err := s.r.ReadAt(b, f.Off); err != nil && !(err == io.EOF && f.Len == 0) {
		return nil, fmt.Errorf("protoscan: read at %d: %w", f.Off, err)
	}
	return b, nil
}

// String reads a payload as a string, cut at max bytes (for names and
// evidence, where a cut is acceptable).
func (s *Source) String(f Field, max int64) (string, error) {
	if f.Type != protowire.BytesType {
		return "", malformed(f.Start, fmt.Sprintf("field %d is not a string", f.Num))
	}
	g := f
	g.Len = min(f.Len, max)
	b, err := s.Bytes(g, max)
	return string(b), err
}
