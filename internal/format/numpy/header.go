package numpy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"modelgate/internal/format"
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// maxHeader is numpy.load's default max_header_size: longer headers are
// refused unless the caller allows them.
const maxHeader = 10000

// Header is a parsed .npy header.
type Header struct {
	Major, Minor int
	Descr        string // the dtype as written, for messages
	Fortran      bool
	Shape        []int64
	// DataOffset is where the array data (or the object pickle) starts.
	DataOffset int64
	// HasObject is set when the dtype holds Python objects: a pickle follows.
	HasObject bool
	// ItemSize is the bytes per element; -1 when it cannot be known.
	ItemSize int64
}

// Count is the number of elements, or -1 on overflow.
func (h *Header) Count() int64 {
	n := int64(1)
	for _, d := range h.Shape {
		if d != 0 && n > (1<<62)/d {
			return -1
		}
		n *= d
	}
	return n
}

// DataSize is the bytes of array data the header announces, or -1.
func (h *Header) DataSize() int64 {
	n := h.Count()
	if n < 0 || h.ItemSize < 0 || (h.ItemSize > 0 && n > (1<<62)/h.ItemSize) {
		return -1
	}
	return n * h.ItemSize
}

// ParseHeader reads the header of an .npy file as numpy.lib.format does:
// version 1.0 (2-byte length, latin-1), 2.0 (4-byte length, latin-1) or
// 3.0 (4-byte length, UTF-8), a dict literal with exactly the keys descr,
// fortran_order and shape.
func ParseHeader(r io.ReaderAt, size int64) (*Header, error) {
	var pre [12]byte
	n, _ := r.ReadAt(pre[:], 0)
	if n < 10 || string(pre[:6]) != Magic {
		return nil, &format.Error{Off: 0, Msg: "npy: no magic string"}
	}
	h := &Header{Major: int(pre[6]), Minor: int(pre[7])}
	var hlen, start int64
	switch h.Major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if n < 12 {
			return nil, &format.Error{Off: 8, Msg: "npy: truncated header length"}
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, &format.Error{Off: 6, Msg: fmt.Sprintf("npy: unknown format version %d.%d", h.Major, h.Minor)}
	}
	if h.Minor != 0 {
		return nil, &format.Error{Off: 7, Msg: fmt.Sprintf("npy: unknown format version %d.%d", h.Major, h.Minor)}
	}
	if hlen > size-start {
		return nil, &format.Error{Off: 8, Msg: fmt.Sprintf("npy: header length %d runs past the end of the file", hlen)}
	}
	if hlen > maxHeader {
		return nil, &format.Error{Off: 8, Msg: fmt.Sprintf("npy: header of %d bytes is over numpy.load's %d-byte limit", hlen, maxHeader)}
	}
	raw := make([]byte, hlen)
	if _, err := r.ReadAt(raw, start); err != nil && err != io.EOF {
		return nil, err
	}
	h.DataOffset = start + hlen
	text := string(raw)
	if h.Major == 3 {
		if !utf8.Valid(raw) {
			return nil, &format.Error{Off: start, Msg: "npy: version 3 header is not UTF-8"}
		}
	} else {
		text = latin1(raw)
	}
	v, err := parseLiteral(text)
	if err != nil {
		return nil, &format.Error{Off: start, Msg: "npy: header is not a Python literal: " + err.Error()}
	}
	if err := h.fill(v); err != nil {
		return nil, &format.Error{Off: start, Msg: "npy: " + err.Error()}
	}
	return h, nil
}

func latin1(b []byte) string {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x80 }) {
		return string(b)
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

func (h *Header) fill(v lit) error {
	if v.kind != litDict {
		return fmt.Errorf("header is not a dictionary")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.items); i += 2 {
		k, val := v.items[i], v.items[i+1]
		if k.kind != litStr {
			return fmt.Errorf("header has a non-string key")
		}
		seen[k.str] = true
		switch k.str {
		case "descr":
			dt, err := parseDescr(val, 0)
			if err != nil {
				return fmt.Errorf("descr: %w", err)
			}
			h.Descr, h.HasObject, h.ItemSize = dt.text, dt.object, dt.size
		case "fortran_order":
			if val.kind != litBool {
				return fmt.Errorf("fortran_order is not a bool")
			}
			h.Fortran = val.num == 1
		case "shape":
			if val.kind != litTuple {
				return fmt.Errorf("shape is not a tuple")
			}
			for _, d := range val.items {
				if d.kind != litInt || d.num < 0 {
					return fmt.Errorf("shape is not a tuple of non-negative ints")
				}
				h.Shape = append(h.Shape, d.num)
			}
		default:
			return fmt.Errorf("unexpected header key %q", k.str)
		}
	}
	if len(seen) != 3 || !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return fmt.Errorf("header keys are not exactly descr, fortran_order and shape")
	}
	return nil
}

type dtype struct {
	text   string
	object bool
	size   int64 // -1 unknown
}

// parseDescr reads a dtype description: a type string such as '<f4',
// '|O' or '<U10', or a list of (name, descr[, shape]) fields.
func parseDescr(v lit, depth int) (dtype, error) {
	if depth > 8 {
		return dtype{}, fmt.Errorf("dtype nested too deeply")
	}
	switch v.kind {
	case litStr:
		return typeString(v.str)
	case litList:
		d := dtype{text: "[structured]"}
		for _, f := range v.items {
			if f.kind != litTuple || len(f.items) < 2 || len(f.items) > 3 {
				return dtype{}, fmt.Errorf("a field is not (name, dtype[, shape])")
			}
			if n := f.items[0]; n.kind != litStr && n.kind != litTuple {
				return dtype{}, fmt.Errorf("a field name is not a string")
			}
			sub, err := parseDescr(f.items[1], depth+1)
			if err != nil {
				return dtype{}, err
			}
			count := int64(1)
			if len(f.items) == 3 {
				shape := f.items[2]
				dims := []lit{shape}
				if shape.kind == litTuple {
					dims = shape.items
				}
				for _, dim := range dims {
					if dim.kind != litInt || dim.num < 0 || (dim.num > 0 && count > (1<<40)/dim.num) {
						return dtype{}, fmt.Errorf("a field shape is not a tuple of small non-negative ints")
					}
					count *= dim.num
				}
			}
			d.object = d.object || sub.object
			if d.size >= 0 && sub.size >= 0 {
				d.size += sub.size * count
			} else {
				d.size = -1
			}
		}
		return d, nil
	}
	return dtype{}, fmt.Errorf("not a type string or a field list")
}

// typeString sizes a numpy type string: byte order, kind, size, and for
// datetimes a unit in brackets.
func typeString(s string) (dtype, error) {
	d := dtype{text: s}
	t := s
	if t != "" && strings.IndexByte("<>|=", t[0]) >= 0 {
		t = t[1:]
	}
	if i := strings.IndexByte(t, '['); i >= 0 && strings.HasSuffix(t, "]") {
		t = t[:i]
	}
	if t == "" {
		return d, fmt.Errorf("empty type string")
	}
	kind, digits := t[0], t[1:]
	n := int64(-1)
	if digits != "" {
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || v < 0 || v > 1<<40 {
			return d, fmt.Errorf("bad type string %q", s)
		}
		n = v
	}
	switch kind {
	case 'O':
		d.object, d.size = true, 8
	case '?':
		d.size = 1
	case 'b', 'B', 'i', 'u', 'f', 'c', 'M', 'm':
		if n < 0 {
			switch kind {
			case 'b', 'B':
				n = 1
			case 'M', 'm':
				n = 8
			default:
				return d, fmt.Errorf("type string %q has no size", s)
			}
		}
		d.size = n
	case 'S', 'a', 'V':
		d.size = max(n, 0)
	case 'U':
		d.size = max(n, 0) * 4
	default:
		return d, fmt.Errorf("unknown type string %q", s)
	}
	return d, nil
}
