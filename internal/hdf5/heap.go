package hdf5

import (
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// localHeap is a group's name heap: the data segment holding link names.
type localHeap struct {
	data []byte
	off  int64
}

func (f *File) readLocalHeap(addr uint64) (*localHeap, error) {
	hdr, off, err := f.readAt(addr, int64(8+2*f.sizeofLen+f.sizeofAddr))
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, hdr, off)
	if !d.signature("HEAP") {
		return nil, d.err
	}
	d.u8() // version 0
	d.skip(3)
	size := d.length()
	d.length() // free list head
	dataAddr := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	if size > uint64(f.size) {
		return nil, &format.Error{Off: off, Msg: fmt.Sprintf("local heap of %d bytes is larger than the file", size)}
	}
	data, doff, err := f.readAt(dataAddr, int64(size))
	if err != nil {
		return nil, err
	}
	return &localHeap{data: data, off: doff}, nil
}

// name returns the NUL-terminated string at offset o in the heap.
func (h *localHeap) name(o uint64) (string, error) {
	if o >= uint64(len(h.data)) {
		return "", &format.Error{Off: h.off, Msg: fmt.Sprintf("name offset %d outside the local heap (%d bytes)", o, len(h.data))}
	}
	d := &decoder{b: h.data[o:], pos: h.off + int64(o)}
	s := d.cstring(len(h.data))
	return s, d.err
}

// globalHeap is a parsed global heap collection: object index → bytes.
type globalHeap struct {
	objects map[uint16][]byte
	off     int64
	size    int64
}

// maxCachedHeaps bounds the memory held by cached global heap collections.
const maxCachedHeaps = 64 << 20

// globalObject returns object idx of the collection at addr.
func (f *File) globalObject(addr uint64, idx uint32) ([]byte, error) {
	c, ok := f.gcols[addr]
	if !ok {
		var err error
		if c, err = f.readGlobalHeap(addr); err != nil {
			return nil, err
		}
		// Cached within a memory budget: attributes of one file usually
		// share a few collections.
		if len(f.gcols) < 4096 && f.gcolBytes+c.size <= maxCachedHeaps {
			f.gcols[addr] = c
			f.gcolBytes += c.size
		}
	}
	if idx > 0xffff {
		return nil, &format.Error{Off: c.off, Msg: fmt.Sprintf("global heap object index %d out of range", idx)}
	}
	b, ok := c.objects[uint16(idx)]
	if !ok {
		return nil, &format.Error{Off: c.off, Msg: fmt.Sprintf("global heap collection has no object %d", idx)}
	}
	return b, nil
}

func (f *File) readGlobalHeap(addr uint64) (*globalHeap, error) {
	hdr, off, err := f.readAt(addr, int64(8+f.sizeofLen))
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, hdr, off)
	if !d.signature("GCOL") {
		return nil, d.err
	}
	d.u8() // version 1
	d.skip(3)
	size := d.length()
	if d.err != nil {
		return nil, d.err
	}
	if size < uint64(len(hdr)) || size > uint64(f.size) {
		return nil, &format.Error{Off: off, Msg: fmt.Sprintf("global heap collection size %d is invalid", size)}
	}
	if int64(size) > f.opt.MaxAttributeBytes+4096 {
		return nil, limits.Exceeded("HDF5MaxAttributeBytes", int64(size), f.opt.MaxAttributeBytes, off)
	}
	body, boff, err := f.readAt(addr, int64(size))
	if err != nil {
		return nil, err
	}
	d = newDecoder(f, body, boff)
	d.skip((len(hdr) + 7) &^ 7) // the header is padded to 8 bytes
	c := &globalHeap{objects: map[uint16][]byte{}, off: off, size: int64(size)}
	objHdr := (8 + f.sizeofLen + 7) &^ 7 // object headers are padded to 8 bytes too
	for d.left() >= objHdr {
		begin := d.i
		idx := d.u16()
		d.u16() // reference count
		d.skip(4)
		n := d.length()
		d.skip(objHdr - (8 + f.sizeofLen))
		if idx == 0 {
			// Free space; its size counts from its header. libhdf5 reads on
			// after it, so objects placed beyond it are read here too.
			if n < uint64(objHdr) || n > uint64(len(body)-begin) {
				break
			}
			d.skip(begin + int(n) - d.i)
			continue
		}
		if n > uint64(d.left()) {
			return nil, &format.Error{Off: d.pos, Msg: fmt.Sprintf("global heap object of %d bytes overruns its collection", n)}
		}
		c.objects[idx] = d.take(int(n))
		d.skip(min((8-int(n)%8)%8, d.left()))
	}
	return c, d.err
}
