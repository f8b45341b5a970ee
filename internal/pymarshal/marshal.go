// Package pymarshal decodes Python's marshal format (what marshal.dumps
// writes, and what Keras Lambda layers store base64-encoded) into plain Go
// values, without executing anything. It is bounded: every length is
// checked against the bytes left, nesting and object counts are limited,
// and big integers are kept as digit counts rather than computed without
// bound.
//
// Code objects are decoded for every layout CPython has used: Python 2,
// 3.0–3.7, 3.8–3.10 and 3.11+. Marshal data does not say which version
// wrote it, so the decoder tries each layout on the whole input and keeps
// the first that decodes cleanly with well-typed fields.
package pymarshal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Value is a decoded marshal object: nil (None), bool, int64, BigInt,
// float64, complex128, Bytes, string, Tuple, List, Dict, Set, *Code,
// Ellipsis, StopIteration, Slice or Unresolved.
type Value any

type (
	// Bytes is a bytes object (or a Python 2 str).
	Bytes []byte
	// Tuple, List and Set are sequences.
	Tuple []Value
	List  []Value
	Set   []Value
	// Dict is a dict's key/value pairs in order.
	Dict [][2]Value
	// BigInt is an integer too large for int64, in decimal (or a digit
	// count when it is too long to print).
	BigInt string
	// Ellipsis and StopIteration are the singletons.
	Ellipsis      struct{}
	StopIteration struct{}
	// Slice is a slice object (marshal version 5).
	Slice [3]Value
	// Unresolved is a back-reference to an object still being built
	// (only possible in crafted input).
	Unresolved struct{}
)

// Code is a code object.
type Code struct {
	// Layout names the CPython versions whose layout decoded it.
	Layout                      string
	ArgCount, PosOnly, KwOnly   int32
	NLocals, StackSize, Flags   int32
	Bytecode                    []byte
	Consts                      []Value
	Names                       []string // globals and attributes the code uses
	VarNames, FreeVars, CellVar []string
	Filename, Name, QualName    string
	FirstLine                   int32
}

// Options bound decoding.
type Options struct {
	MaxDepth   int
	MaxObjects int
}

// DefaultOptions match CPython's own nesting limit in spirit (it allows
// 2000 levels) while keeping hostile input cheap.
func DefaultOptions() Options { return Options{MaxDepth: 200, MaxObjects: 1_000_000} }

// ErrLimit is returned when input exceeds Options.
var ErrLimit = errors.New("marshal: limit exceeded")

// Error is malformed input at a byte offset.
type Error struct {
	Off int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("marshal: offset %d: %s", e.Off, e.Msg) }

type layout struct {
	name  string
	longs int // raw 32-bit fields before the bytecode
}

// Code object layouts, most recent first.
var layouts = []layout{
	{"3.11+", 5},
	{"3.8-3.10", 6},
	{"3.0-3.7", 5},
	{"2.x", 4},
}

// Decode decodes one marshalled object from b.
func Decode(b []byte, opt Options) (Value, error) {
	var firstErr error
	for i := range layouts {
		d := &decoder{b: b, opt: opt, layout: &layouts[i]}
		v, err := d.object(0)
		if err == nil {
			return v, nil
		}
		if errors.Is(err, ErrLimit) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
		if !d.sawCode {
			break // no code object: the layout made no difference
		}
	}
	return nil, firstErr
}

type decoder struct {
	b        []byte
	i        int
	opt      Options
	layout   *layout
	refs     []Value
	interned []Value // Python 2 string references ('R')
	objects  int
	sawCode  bool
}

func (d *decoder) errf(format string, a ...any) error {
	return &Error{Off: d.i, Msg: fmt.Sprintf(format, a...)}
}

func (d *decoder) need(n int) error {
	if n < 0 || n > len(d.b)-d.i {
		return d.errf("truncated: need %d bytes, %d left", n, len(d.b)-d.i)
	}
	return nil
}

func (d *decoder) byte1() (byte, error) {
	if err := d.need(1); err != nil {
		return 0, err
	}
	d.i++
	return d.b[d.i-1], nil
}

func (d *decoder) int32() (int32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := int32(binary.LittleEndian.Uint32(d.b[d.i:]))
	d.i += 4
	return v, nil
}

func (d *decoder) raw(n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return nil, err
	}
	s := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return s, nil
}

// size reads a 32-bit length, which must fit in what is left given at
// least unit bytes per element.
func (d *decoder) size(unit int) (int, error) {
	n, err := d.int32()
	if err != nil {
		return 0, err
	}
	if n < 0 || int(n) > (len(d.b)-d.i)/max(unit, 1) {
		return 0, d.errf("length %d exceeds the %d bytes left", n, len(d.b)-d.i)
	}
	return int(n), nil
}

const flagRef = 0x80

func (d *decoder) object(depth int) (Value, error) {
	if depth > d.opt.MaxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", ErrLimit, d.opt.MaxDepth)
	}
	if d.objects++; d.objects > d.opt.MaxObjects {
		return nil, fmt.Errorf("%w: more than %d objects", ErrLimit, d.opt.MaxObjects)
	}
	code, err := d.byte1()
	if err != nil {
		return nil, err
	}
	ref := -1
	if code&flagRef != 0 {
		ref = len(d.refs)
		d.refs = append(d.refs, Unresolved{})
		code &^= flagRef
	}
	v, err := d.body(code, depth)
	if err != nil {
		return nil, err
	}
	if ref >= 0 {
		d.refs[ref] = v
	}
	return v, nil
}

func (d *decoder) body(code byte, depth int) (Value, error) {
	switch code {
	case 'N':
		return nil, nil
	case 'F':
		return false, nil
	case 'T':
		return true, nil
	case 'S':
		return StopIteration{}, nil
	case '.':
		return Ellipsis{}, nil
	case '0':
		return nil, d.errf("unexpected NULL object")
	case 'i':
		v, err := d.int32()
		return int64(v), err
	case 'I': // Python 2 64-bit int
		b, err := d.raw(8)
		if err != nil {
			return nil, err
		}
		return int64(binary.LittleEndian.Uint64(b)), nil
	case 'l':
		return d.long()
	case 'f':
		return d.textFloat()
	case 'g':
		b, err := d.raw(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case 'x':
		re, err := d.textFloat()
		if err != nil {
			return nil, err
		}
		im, err := d.textFloat()
		if err != nil {
			return nil, err
		}
		return complex(re.(float64), im.(float64)), nil
	case 'y':
		b, err := d.raw(16)
		if err != nil {
			return nil, err
		}
		re := math.Float64frombits(binary.LittleEndian.Uint64(b))
		im := math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
		return complex(re, im), nil
	case 's':
		n, err := d.size(1)
		if err != nil {
			return nil, err
		}
		b, err := d.raw(n)
		return Bytes(b), err
	case 't', 'u', 'a', 'A':
		n, err := d.size(1)
		if err != nil {
			return nil, err
		}
		b, err := d.raw(n)
		if err != nil {
			return nil, err
		}
		s := text(b)
		if code == 't' {
			d.interned = append(d.interned, s)
		}
		return s, nil
	case 'z', 'Z':
		n, err := d.byte1()
		if err != nil {
			return nil, err
		}
		b, err := d.raw(int(n))
		return text(b), err
	case 'R':
		n, err := d.int32()
		if err != nil {
			return nil, err
		}
		if n < 0 || int(n) >= len(d.interned) {
			return nil, d.errf("string reference %d out of range", n)
		}
		return d.interned[n], nil
	case 'r':
		n, err := d.int32()
		if err != nil {
			return nil, err
		}
		if n < 0 || int(n) >= len(d.refs) {
			return nil, d.errf("reference %d out of range", n)
		}
		return d.refs[n], nil
	case '(', '[', '<', '>':
		n, err := d.size(1)
		if err != nil {
			return nil, err
		}
		items, err := d.items(n, depth)
		switch code {
		case '(':
			return Tuple(items), err
		case '[':
			return List(items), err
		}
		return Set(items), err
	case ')':
		n, err := d.byte1()
		if err != nil {
			return nil, err
		}
		items, err := d.items(int(n), depth)
		return Tuple(items), err
	case '{':
		var dict Dict
		for {
			if err := d.need(1); err != nil {
				return nil, err
			}
			if d.b[d.i] == '0' {
				d.i++
				return dict, nil
			}
			k, err := d.object(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.object(depth + 1)
			if err != nil {
				return nil, err
			}
			dict = append(dict, [2]Value{k, v})
		}
	case ':':
		var s Slice
		for i := range s {
			v, err := d.object(depth + 1)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case 'c':
		return d.code(depth)
	}
	return nil, d.errf("unknown type code %q", code)
}

func (d *decoder) items(n, depth int) ([]Value, error) {
	if n > len(d.b)-d.i {
		return nil, d.errf("%d items exceed the %d bytes left", n, len(d.b)-d.i)
	}
	items := make([]Value, 0, n)
	for range n {
		v, err := d.object(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

// long decodes a Python long: a signed digit count and 15-bit digits.
func (d *decoder) long() (Value, error) {
	n, err := d.int32()
	if err != nil {
		return nil, err
	}
	neg := n < 0
	cnt := int(n)
	if neg {
		if n == math.MinInt32 {
			return nil, d.errf("invalid long size")
		}
		cnt = -cnt
	}
	b, err := d.raw(2 * min(cnt, (len(d.b)-d.i)/2+1))
	if err != nil || len(b) != 2*cnt {
		return nil, d.errf("long of %d digits is truncated", cnt)
	}
	if cnt > 64 { // over ~290 decimal digits: say how big rather than compute
		return BigInt(fmt.Sprintf("<integer of %d bits>", 15*cnt)), nil
	}
	v := new(big.Int)
	for i := cnt - 1; i >= 0; i-- {
		digit := binary.LittleEndian.Uint16(b[2*i:])
		if digit >= 1<<15 {
			return nil, d.errf("invalid long digit")
		}
		v.Lsh(v, 15).Or(v, big.NewInt(int64(digit)))
	}
	if neg {
		v.Neg(v)
	}
	if v.IsInt64() {
		return v.Int64(), nil
	}
	return BigInt(v.String()), nil
}

func (d *decoder) textFloat() (Value, error) {
	n, err := d.byte1()
	if err != nil {
		return nil, err
	}
	b, err := d.raw(int(n))
	if err != nil {
		return nil, err
	}
	f, perr := strconv.ParseFloat(string(b), 64)
	if perr != nil {
		return nil, d.errf("invalid float %q", b)
	}
	return f, nil
}

// text decodes UTF-8 as Python would accept it; invalid bytes are kept
// visible as replacement characters (surrogate escapes are legal in
// marshal but never needed to tell what code does).
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string([]rune(string(b)))
}
