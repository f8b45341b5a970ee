// Package safetensors reads, validates and writes safetensors files.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes
// of JSON (an object mapping tensor names to {"dtype", "shape",
// "data_offsets": [begin, end]}, and an optional "__metadata__" object of
// strings), then the data section. The format holds no code; what can go
// wrong is a header that readers disagree about (duplicate keys, ranges
// that overlap or leave bytes unaccounted for, a file that is also a zip
// archive that torch.load would open), so this package checks it strictly.
//
// Reading (for scanners and converters):
//
//	h, err := safetensors.ReadHeader(ctx, r, size)   // the header only
//	problems := h.Validate()                         // empty: well-formed
//	for _, t := range h.Tensors { … h.DataOffset+int64(t.Begin) … }
//
// ReadHeader fails with a *HeaderError when the header cannot be read as
// safetensors at all (length out of bounds, invalid UTF-8 or JSON, fields
// of the wrong type). Validate reports everything else as Problems.
//
// Writing (for converters; the output matches the reference writer byte
// for byte: tensors laid out by descending dtype alignment then name, the
// JSON compact with "__metadata__" first, the header padded with spaces to
// a multiple of 8 bytes):
//
//	w, err := safetensors.NewWriter(out, descs, metadata) // writes the header
//	for _, t := range w.Layout() {                         // data order
//		err = w.WriteTensor(t.Name, src(t))            // exactly t.End-t.Begin bytes
//	}
//	err = w.Close()                                        // all written?
package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header the reference implementation reads.
const MaxHeaderSize = 100_000_000

// MetadataKey is the header key of the free-form string metadata.
const MetadataKey = "__metadata__"

// TensorInfo is one tensor of a header.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []uint64
	// Begin and End are byte offsets in the data section.
	Begin, End uint64
	// At is the offset in the file of the tensor's header entry.
	At int64
}

// Header is a parsed safetensors header.
type Header struct {
	// Len is the JSON length from the first 8 bytes; DataOffset = 8+Len.
	Len        uint64
	DataOffset int64
	Size       int64
	// Tensors in header order.
	Tensors []TensorInfo
	// Metadata is __metadata__ (nil if absent), with its keys in order.
	Metadata     map[string]string
	MetadataKeys []string
	// problems found while parsing (duplicates, odd metadata), reported
	// by Validate with the layout problems.
	problems []Problem
}

// HeaderError is a header that cannot be read as safetensors.
type HeaderError struct {
	Off int64
	Msg string
}

func (e *HeaderError) Error() string { return fmt.Sprintf("offset %d: %s", e.Off, e.Msg) }

// maxDims bounds a shape; more is reported, not stored.
const maxDims = 64

// Match reports whether head starts like a safetensors file of size
// bytes: a header length within bounds followed by a JSON object.
func Match(head []byte, size int64) bool {
	if len(head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 || n > MaxHeaderSize || int64(n) > size-8 {
		return false
	}
	for _, c := range head[8:min(len(head), 8+int(n))] {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// ReadHeader reads and parses the header of a file of size bytes. It
// reads 8+N bytes and nothing of the data section.
func ReadHeader(ctx context.Context, r io.ReaderAt, size int64) (*Header, error) {
	h := &Header{Size: size}
	if size < 8 {
		return h, &HeaderError{0, fmt.Sprintf("file of %d bytes is too short for a header", size)}
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return h, fmt.Errorf("reading the header length: %w", err)
	}
	h.Len = binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case h.Len > MaxHeaderSize:
		return h, &HeaderError{0, fmt.Sprintf("header length %d is over the %d-byte limit of safetensors readers", h.Len, MaxHeaderSize)}
	case int64(h.Len) > size-8:
		return h, &HeaderError{0, fmt.Sprintf("header length %d runs past the end of the %d-byte file", h.Len, size)}
	}
	h.DataOffset = 8 + int64(h.Len)
	buf := make([]byte, h.Len)
	if _, err := r.ReadAt(buf, 8); err != nil && !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("reading the header: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return h, err
	}
	if !utf8.Valid(buf) {
		return h, &HeaderError{8, "header is not valid UTF-8"}
	}
	p := &parser{h: h, buf: buf, dec: json.NewDecoder(bytes.NewReader(buf))}
	p.dec.UseNumber()
	if err := p.top(); err != nil {
		return h, err
	}
	return h, nil
}

type parser struct {
	h   *Header
	buf []byte
	dec *json.Decoder
}

// at returns the file offset of the decoder's position.
func (p *parser) at() int64 { return 8 + p.dec.InputOffset() }

func (p *parser) fail(format string, args ...any) error {
	return &HeaderError{p.at(), fmt.Sprintf(format, args...)}
}

func (p *parser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &HeaderError{8 + se.Offset, "header is not valid JSON: " + se.Error()}
		}
		return nil, p.fail("header is not valid JSON: %v", err)
	}
	return t, nil
}

func (p *parser) delim(want json.Delim, what string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return p.fail("%s must be a JSON %s, got %v", what, map[json.Delim]string{'{': "object", '[': "array"}[want], t)
	}
	return nil
}

func (p *parser) top() error {
	if err := p.delim('{', "the header"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		at := p.at()
		t, err := p.token()
		if err != nil {
			return err
		}
		name := t.(string)
		if seen[name] {
			p.h.problems = append(p.h.problems, Problem{Kind: Duplicate, Offset: at, Msg: fmt.Sprintf("key %q appears more than once; readers disagree about which entry counts", name)})
		}
		seen[name] = true
		if name == MetadataKey {
			if err := p.metadata(); err != nil {
				return err
			}
			continue
		}
		ti, err := p.tensor(name, at)
		if err != nil {
			return err
		}
		p.h.Tensors = append(p.h.Tensors, ti)
	}
	if _, err := p.token(); err != nil { // '}'
		return err
	}
	// Only spaces may follow (the writer pads with them); serde_json
	// accepts any whitespace.
	rest := p.buf[p.dec.InputOffset():]
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return &HeaderError{p.at(), "data after the header's JSON object"}
	}
	return nil
}

// metadata reads __metadata__: an object of strings (or null).
func (p *parser) metadata() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		p.h.problems = append(p.h.problems, Problem{Kind: Metadata, Offset: p.at(), Msg: fmt.Sprintf("%s must be an object of strings, got %v", MetadataKey, t)})
		return p.skipRest(t)
	}
	p.h.Metadata = map[string]string{}
	for p.dec.More() {
		kt, err := p.token()
		if err != nil {
			return err
		}
		k := kt.(string)
		at := p.at()
		vt, err := p.token()
		if err != nil {
			return err
		}
		s, ok := vt.(string)
		if !ok {
			p.h.problems = append(p.h.problems, Problem{Kind: Metadata, Offset: at, Msg: fmt.Sprintf("%s[%q] is not a string (%v); loaders refuse the file", MetadataKey, k, vt)})
			if err := p.skipRest(vt); err != nil {
				return err
			}
			continue
		}
		if _, dup := p.h.Metadata[k]; dup {
			p.h.problems = append(p.h.problems, Problem{Kind: Duplicate, Offset: at, Msg: fmt.Sprintf("%s key %q appears more than once", MetadataKey, k)})
		} else {
			p.h.MetadataKeys = append(p.h.MetadataKeys, k)
		}
		p.h.Metadata[k] = s
	}
	_, err = p.token()
	return err
}

// skipRest skips the rest of a value whose first token was t.
func (p *parser) skipRest(t json.Token) error {
	d, ok := t.(json.Delim)
	if !ok || d == '}' || d == ']' {
		return nil
	}
	depth := 1
	for depth > 0 {
		t, err := p.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// tensor reads one {"dtype", "shape", "data_offsets"} entry. Unknown
// fields are skipped (serde ignores them) but reported.
func (p *parser) tensor(name string, at int64) (TensorInfo, error) {
	ti := TensorInfo{Name: name, At: at}
	if err := p.delim('{', fmt.Sprintf("tensor %q", name)); err != nil {
		return ti, err
	}
	got := map[string]bool{}
	for p.dec.More() {
		kt, err := p.token()
		if err != nil {
			return ti, err
		}
		k := kt.(string)
		if got[k] {
			return ti, p.fail("tensor %q has field %q twice", name, k)
		}
		got[k] = true
		switch k {
		case "dtype":
			t, err := p.token()
			if err != nil {
				return ti, err
			}
			s, ok := t.(string)
			if !ok {
				return ti, p.fail("tensor %q: dtype must be a string, got %v", name, t)
			}
			ti.DType = DType(s)
		case "shape":
			dims, err := p.uints(fmt.Sprintf("tensor %q shape", name), -1)
			if err != nil {
				return ti, err
			}
			ti.Shape = dims
		case "data_offsets":
			offs, err := p.uints(fmt.Sprintf("tensor %q data_offsets", name), 2)
			if err != nil {
				return ti, err
			}
			ti.Begin, ti.End = offs[0], offs[1]
		default:
			p.h.problems = append(p.h.problems, Problem{Kind: Layout, Offset: p.at(), Msg: fmt.Sprintf("tensor %q has an unknown field %q", name, k)})
			t, err := p.token()
			if err != nil {
				return ti, err
			}
			if err := p.skipRest(t); err != nil {
				return ti, err
			}
		}
	}
	if _, err := p.token(); err != nil {
		return ti, err
	}
	for _, f := range []string{"dtype", "shape", "data_offsets"} {
		if !got[f] {
			return ti, p.fail("tensor %q has no %s", name, f)
		}
	}
	return ti, nil
}

// uints reads an array of non-negative integers (n items, or any if -1).
func (p *parser) uints(what string, n int) ([]uint64, error) {
	if err := p.delim('[', what); err != nil {
		return nil, err
	}
	var out []uint64
	count := 0
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, p.fail("%s must hold integers, got %v", what, t)
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, p.fail("%s: %s is not a non-negative 64-bit integer", what, num)
		}
		count++
		if count > maxDims && n < 0 {
			return nil, p.fail("%s has more than %d dimensions", what, maxDims)
		}
		out = append(out, v)
	}
	if _, err := p.token(); err != nil {
		return nil, err
	}
	if n >= 0 && len(out) != n {
		return nil, p.fail("%s must hold %d integers, got %d", what, n, len(out))
	}
	if out == nil {
		out = []uint64{}
	}
	return out, nil
}
