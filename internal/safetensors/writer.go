package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TensorDesc describes a tensor to write.
type TensorDesc struct {
	Name  string
	DType DType
	Shape []uint64
}

// Writer writes a safetensors file as a stream: the header first, from
// the descriptors alone, then each tensor's bytes in layout order, so a
// converter copies tensors one at a time without holding them.
type Writer struct {
	w      io.Writer
	layout []TensorInfo
	next   int
	err    error
}

// NewWriter lays out the tensors as the reference writer does and writes
// the header. metadata may be nil (no __metadata__ entry).
func NewWriter(w io.Writer, tensors []TensorDesc, metadata map[string]string) (*Writer, error) {
	layout, err := PlanLayout(tensors)
	if err != nil {
		return nil, err
	}
	head, err := encodeHeader(layout, metadata)
	if err != nil {
		return nil, err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(head)))
	if _, err := w.Write(n[:]); err != nil {
		return nil, err
	}
	if _, err := w.Write(head); err != nil {
		return nil, err
	}
	return &Writer{w: w, layout: layout}, nil
}

// PlanLayout orders tensors as the reference writer does (descending dtype
// alignment, then name) and gives each its byte range.
func PlanLayout(tensors []TensorDesc) ([]TensorInfo, error) {
	seen := map[string]bool{}
	out := make([]TensorInfo, 0, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == MetadataKey:
			return nil, fmt.Errorf("a tensor cannot be named %s", MetadataKey)
		case seen[t.Name]:
			return nil, fmt.Errorf("tensor %q given twice", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("tensor name %q is not UTF-8", t.Name)
		case !t.DType.Known():
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		seen[t.Name] = true
		out = append(out, TensorInfo{Name: t.Name, DType: t.DType, Shape: slices.Clone(t.Shape)})
	}
	slices.SortFunc(out, func(a, b TensorInfo) int {
		if ra, rb := dtypeRank[a.DType], dtypeRank[b.DType]; ra != rb {
			return rb - ra
		}
		return strings.Compare(a.Name, b.Name)
	})
	var off uint64
	for i := range out {
		n, ok := byteSize(out[i].DType, out[i].Shape)
		if !ok {
			return nil, fmt.Errorf("tensor %q: shape %v of %s overflows or ends mid-byte", out[i].Name, out[i].Shape, out[i].DType)
		}
		out[i].Begin, out[i].End = off, off+n
		off += n
	}
	return out, nil
}

// Layout returns the tensors in the order their bytes are written.
func (w *Writer) Layout() []TensorInfo { return slices.Clone(w.layout) }

// errOrder is WriteTensor called out of layout order.
var errOrder = errors.New("tensors must be written in layout order")

// WriteTensor copies the named tensor's bytes from r: exactly its size.
func (w *Writer) WriteTensor(name string, r io.Reader) error {
	if w.err != nil {
		return w.err
	}
	if w.next >= len(w.layout) || w.layout[w.next].Name != name {
		return fmt.Errorf("tensor %q: %w", name, errOrder)
	}
	t := w.layout[w.next]
	n, err := io.CopyN(w.w, r, int64(t.End-t.Begin))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("tensor %q: %d of %d bytes given: %w", name, n, t.End-t.Begin, io.ErrUnexpectedEOF)
		}
		w.err = err
		return err
	}
	w.next++
	return nil
}

// Close reports whether every tensor was written. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.next != len(w.layout) {
		return fmt.Errorf("%d of %d tensors written", w.next, len(w.layout))
	}
	return nil
}

// Tensor is a descriptor with its bytes, for Write.
type Tensor struct {
	TensorDesc
	Data []byte
}

// Write writes a whole file from tensors held in memory.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	descs := make([]TensorDesc, len(tensors))
	data := map[string][]byte{}
	for i, t := range tensors {
		descs[i] = t.TensorDesc
		data[t.Name] = t.Data
	}
	sw, err := NewWriter(w, descs, metadata)
	if err != nil {
		return err
	}
	for _, t := range sw.layout {
		if uint64(len(data[t.Name])) != t.End-t.Begin {
			return fmt.Errorf("tensor %q: %d bytes of data, dtype and shape need %d", t.Name, len(data[t.Name]), t.End-t.Begin)
		}
		if err := sw.WriteTensor(t.Name, strings.NewReader(string(data[t.Name]))); err != nil {
			return err
		}
	}
	return sw.Close()
}

// encodeHeader writes the JSON as serde_json does (compact, UTF-8 as is,
// "__metadata__" first with its keys sorted), padded with spaces to a
// multiple of 8 bytes so the data section starts aligned.
func encodeHeader(layout []TensorInfo, metadata map[string]string) ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if metadata != nil {
		sep()
		writeJSONString(&b, MetadataKey)
		b.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, fmt.Errorf("metadata %q is not UTF-8", k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	for _, t := range layout {
		sep()
		writeJSONString(&b, t.Name)
		b.WriteString(`:{"dtype":`)
		writeJSONString(&b, string(t.DType))
		b.WriteString(`,"shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(d, 10))
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, t.Begin, t.End)
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes is over the %d-byte limit", b.Len(), MaxHeaderSize)
	}
	return []byte(b.String()), nil
}

// writeJSONString escapes like serde_json: quote, backslash and control
// characters only (\b \f \n \r \t, else \u00xx in lower-case hex).
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
