package hdf5

import (
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// Datatype classes this reader tells apart.
const (
	classString   = 3
	classVariable = 9
)

// Attribute is one attribute of an object. Values holds the decoded
// strings for string-typed attributes (fixed-length or variable-length, one
// per element); other types are listed by name only.
type Attribute struct {
	Name string
	// IsString reports a string type; Values is then filled.
	IsString bool
	Values   []string
	// Offset is the absolute offset of the attribute message.
	Offset int64
}

// datatype is the part of a datatype message this reader needs.
type datatype struct {
	class   int
	size    uint64
	vlenStr bool // variable-length string
}

func parseDatatype(b []byte, off int64) (datatype, error) {
	if len(b) < 8 {
		return datatype{}, &format.Error{Off: off, Msg: "datatype message truncated"}
	}
	t := datatype{class: int(b[0] & 0x0f)}
	t.size = uint64(b[4]) | uint64(b[5])<<8 | uint64(b[6])<<16 | uint64(b[7])<<24
	if t.class == classVariable {
		t.vlenStr = b[1]&0x0f == 1
	}
	return t, nil
}

// elements returns the number of elements a dataspace message describes.
func parseDataspace(f *File, b []byte, off int64) (uint64, error) {
	d := newDecoder(f, b, off)
	version := d.u8()
	rank := int(d.u8())
	d.u8() // flags
	switch version {
	case 1:
		d.skip(5)
	case 2:
		if typ := d.u8(); typ == 2 {
			return 0, d.err // null dataspace
		}
	default:
		return 0, &format.Error{Off: off, Msg: fmt.Sprintf("unknown dataspace version %d", version)}
	}
	if rank > 32 {
		return 0, &format.Error{Off: off, Msg: fmt.Sprintf("dataspace of rank %d", rank)}
	}
	n := uint64(1)
	for range rank {
		dim := d.length()
		if dim != 0 && n > (1<<62)/dim {
			return 0, &format.Error{Off: off, Msg: "dataspace size overflows"}
		}
		n *= dim
	}
	return n, d.err
}

// parseAttribute decodes an attribute message (versions 1–3).
func (f *File) parseAttribute(b []byte, off int64) (Attribute, error) {
	d := newDecoder(f, b, off)
	version := d.u8()
	flags := d.u8()
	nameLen, dtLen, dsLen := int(d.u16()), int(d.u16()), int(d.u16())
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		d.u8() // name character set
	default:
		return Attribute{}, &format.Error{Off: off, Msg: fmt.Sprintf("unknown attribute message version %d", version)}
	}
	nameRaw := d.take(pad(nameLen))
	dtRaw, dtOff := d.take(pad(dtLen)), d.pos-int64(pad(dtLen))
	dsRaw, dsOff := d.take(pad(dsLen)), d.pos-int64(pad(dsLen))
	if d.err != nil {
		return Attribute{}, d.err
	}
	a := Attribute{Name: cstr(nameRaw[:min(nameLen, len(nameRaw))]), Offset: off}
	if version > 1 && flags&0x03 != 0 {
		return a, fmt.Errorf("hdf5: attribute %q with a shared datatype or dataspace: %w", a.Name, ErrUnsupported)
	}
	t, err := parseDatatype(dtRaw, dtOff)
	if err != nil {
		return a, err
	}
	if t.class != classString && !(t.class == classVariable && t.vlenStr) {
		return a, nil
	}
	a.IsString = true
	n, err := parseDataspace(f, dsRaw, dsOff)
	if err != nil {
		return a, err
	}
	if t.size == 0 || n > uint64(d.left())/t.size {
		return a, &format.Error{Off: d.pos, Msg: fmt.Sprintf("attribute %q: %d elements of %d bytes overrun the message", a.Name, n, t.size)}
	}
	var total int64
	for range n {
		elem := d.take(int(t.size))
		var s []byte
		if t.class == classString {
			s = trimFixed(elem)
		} else {
			ed := newDecoder(f, elem, d.pos-int64(t.size))
			ln, col, idx := ed.u32(), ed.addr(), ed.u32()
			if ed.err != nil {
				return a, ed.err
			}
			if ln == 0 || f.undefined(col) || col == 0 {
				a.Values = append(a.Values, "")
				continue
			}
			if s, err = f.globalObject(col, idx); err != nil {
				return a, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			if uint64(ln) < uint64(len(s)) {
				s = s[:ln]
			}
			s = trimFixed(s)
		}
		if total += int64(len(s)); total > f.opt.MaxAttributeBytes {
			return a, limits.Exceeded("HDF5MaxAttributeBytes", total, f.opt.MaxAttributeBytes, off)
		}
		a.Values = append(a.Values, string(s))
	}
	return a, d.err
}

// trimFixed cuts a fixed-length string at its first NUL (null-terminated
// and null-padded strings), as h5py returns it.
func trimFixed(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func cstr(b []byte) string { return string(trimFixed(b)) }
