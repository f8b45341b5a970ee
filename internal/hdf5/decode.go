package hdf5

import (
	"encoding/binary"
	"fmt"

	"modelgate/internal/format"
)

// decoder reads little-endian fields from a byte slice that was read from
// the file at absolute offset pos-(bytes consumed). Reads past the end set
// a sticky error and return zeros, so callers check err once.
type decoder struct {
	f   *File
	b   []byte
	i   int
	pos int64 // absolute file offset of b[i]
	err error
}

func newDecoder(f *File, b []byte, off int64) *decoder { return &decoder{f: f, b: b, pos: off} }

func (d *decoder) fail(need int) {
	if d.err == nil {
		d.err = &format.Error{Off: d.pos, Msg: fmt.Sprintf("structure truncated: need %d bytes, %d left", need, len(d.b)-d.i)}
	}
}

func (d *decoder) left() int { return len(d.b) - d.i }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.i {
		d.fail(n)
		return nil
	}
	s := d.b[d.i : d.i+n]
	d.i += n
	d.pos += int64(n)
	return s
}

func (d *decoder) skip(n int) { d.take(n) }

func (d *decoder) u8() uint8 {
	if s := d.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if s := d.take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if s := d.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

// uN reads an n-byte little-endian unsigned integer (n ≤ 8).
func (d *decoder) uN(n int) uint64 {
	if n > 8 {
		d.skip(n - 8)
		n = 8
	}
	s := d.take(n)
	var v uint64
	for i := len(s) - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v
}

func (d *decoder) addr() uint64   { return d.uN(d.f.sizeofAddr) }
func (d *decoder) length() uint64 { return d.uN(d.f.sizeofLen) }

// signature consumes a 4-byte signature and checks it.
func (d *decoder) signature(want string) bool {
	s := d.take(4)
	if d.err != nil {
		return false
	}
	if string(s) != want {
		d.err = &format.Error{Off: d.pos - 4, Msg: fmt.Sprintf("expected %q signature, found %q", want, s)}
		return false
	}
	return true
}

// cstring reads a NUL-terminated string of at most max bytes.
func (d *decoder) cstring(max int) string {
	if d.err != nil {
		return ""
	}
	end := min(len(d.b), d.i+max)
	for j := d.i; j < end; j++ {
		if d.b[j] == 0 {
			s := string(d.b[d.i:j])
			d.pos += int64(j + 1 - d.i)
			d.i = j + 1
			return s
		}
	}
	d.fail(end - d.i + 1)
	return ""
}

// limitEncSize is the number of bytes needed to encode values up to v, as
// the format sizes its variable-width counters.
func limitEncSize(v uint64) int { return log2floor(v)/8 + 1 }

func log2floor(v uint64) int {
	n := 0
	for v > 1 {
		v >>= 1
		n++
	}
	return n
}
