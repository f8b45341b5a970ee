package hdf5

import (
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// Header message types this reader uses.
const (
	msgNil          = 0x0000
	msgDataspace    = 0x0001
	msgLinkInfo     = 0x0002
	msgDatatype     = 0x0003
	msgExternalFile = 0x0007
	msgLayout       = 0x0008
	msgLink         = 0x0006
	msgAttribute    = 0x000C
	msgContinuation = 0x0010
	msgSymbolTable  = 0x0011
	msgAttrInfo     = 0x0015
)

// Header message flag: the message body is a reference to a shared message.
const msgFlagShared = 0x02

// message is one object header message, its body read into memory.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
	off   int64 // absolute offset of data
}

// readHeader reads an object header (v1 or v2) and every continuation
// block it chains to, returning its messages.
func (f *File) readHeader(addr uint64) ([]message, error) {
	start, _, err := f.readUpTo(addr, 16)
	if err != nil {
		return nil, err
	}
	if len(start) >= 4 && string(start[:4]) == "OHDR" {
		return f.readHeaderV2(addr)
	}
	return f.readHeaderV1(addr)
}

type block struct{ addr, size uint64 }

func (f *File) readHeaderV1(addr uint64) ([]message, error) {
	pre, off, err := f.readAt(addr, 16)
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, pre, off)
	if v := d.u8(); v != 1 {
		return nil, &format.Error{Off: off, Msg: fmt.Sprintf("unknown object header version %d", v)}
	}
	d.skip(1)
	d.u16() // message count: the blocks' extents are what matter
	d.u32() // reference count
	size := d.u32()
	// The v1 prefix is 12 bytes padded to 16, so messages start 8-aligned.
	var msgs []message
	queue := []block{{addr + 16, uint64(size)}}
	seen := map[uint64]bool{}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		if seen[b.addr] {
			return nil, &format.Error{Off: off, Msg: "object header continuation cycle"}
		}
		seen[b.addr] = true
		body, boff, err := f.readAt(b.addr, int64(b.size))
		if err != nil {
			return nil, err
		}
		d := newDecoder(f, body, boff)
		for d.left() >= 8 {
			typ, sz, flags := d.u16(), d.u16(), d.u8()
			d.skip(3)
			data, doff := d.take(int(sz)), d.pos-int64(sz)
			if d.err != nil {
				return nil, d.err
			}
			if msgs, err = f.addMessage(msgs, message{typ, flags, data, doff}, &queue); err != nil {
				return nil, err
			}
		}
	}
	return msgs, nil
}

func (f *File) readHeaderV2(addr uint64) ([]message, error) {
	pre, off, err := f.readUpTo(addr, 4+1+1+16+4+8)
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, pre, off)
	d.signature("OHDR")
	if v := d.u8(); d.err == nil && v != 2 {
		return nil, &format.Error{Off: off + 4, Msg: fmt.Sprintf("unknown object header version %d", v)}
	}
	flags := d.u8()
	if flags&0x20 != 0 {
		d.skip(16) // access, modification, change and birth times
	}
	if flags&0x10 != 0 {
		d.skip(4) // attribute phase change values
	}
	chunk0 := d.uN(1 << (flags & 3))
	if d.err != nil {
		return nil, d.err
	}
	hasOrder := flags&0x04 != 0
	first := addr + uint64(d.pos-off)
	var msgs []message
	queue := []block{{first, chunk0}}
	seen := map[uint64]bool{}
	for i := 0; len(queue) > 0; i++ {
		b := queue[0]
		queue = queue[1:]
		if seen[b.addr] {
			return nil, &format.Error{Off: off, Msg: "object header continuation cycle"}
		}
		seen[b.addr] = true
		n := int64(b.size)
		if i > 0 {
			n -= 4 // continuation blocks end with a checksum; the first chunk's size excludes it
		}
		if n < 0 {
			return nil, &format.Error{Off: off, Msg: "object header continuation block too small"}
		}
		body, boff, err := f.readAt(b.addr, n)
		if err != nil {
			return nil, err
		}
		d := newDecoder(f, body, boff)
		if i > 0 && !d.signature("OCHK") {
			return nil, d.err
		}
		hdrLen := 4
		if hasOrder {
			hdrLen = 6
		}
		for d.left() >= hdrLen {
			typ, sz, mflags := d.u8(), d.u16(), d.u8()
			if hasOrder {
				d.u16()
			}
			data, doff := d.take(int(sz)), d.pos-int64(sz)
			if d.err != nil {
				return nil, d.err
			}
			if msgs, err = f.addMessage(msgs, message{uint16(typ), mflags, data, doff}, &queue); err != nil {
				return nil, err
			}
		}
	}
	return msgs, nil
}

// addMessage records a message, or queues the block a continuation names.
func (f *File) addMessage(msgs []message, m message, queue *[]block) ([]message, error) {
	if len(msgs) >= f.opt.MaxMessages {
		return nil, limits.Exceeded("HDF5MaxMessages", int64(len(msgs)+1), int64(f.opt.MaxMessages), m.off)
	}
	switch m.typ {
	case msgNil:
		return msgs, nil
	case msgContinuation:
		d := newDecoder(f, m.data, m.off)
		a, n := d.addr(), d.length()
		if d.err != nil {
			return nil, d.err
		}
		if len(*queue) >= f.opt.MaxMessages {
			return nil, limits.Exceeded("HDF5MaxMessages", int64(len(*queue)+1), int64(f.opt.MaxMessages), m.off)
		}
		*queue = append(*queue, block{a, n})
		return msgs, nil
	}
	return append(msgs, m), nil
}
