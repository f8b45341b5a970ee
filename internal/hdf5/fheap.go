package hdf5

import (
	"encoding/binary"
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// fractalHeap is a fractal heap header: where dense links and attributes
// live. Objects are found by heap ID: managed objects through the doubling
// table of direct and indirect blocks, huge objects through their own v2
// B-tree (or directly), tiny objects inside the ID itself.
type fractalHeap struct {
	addr        uint64
	off         int64
	idLen       int
	filterLen   int
	flags       uint8
	maxManSize  uint64
	hugeBTree   uint64
	width       int
	startBlock  uint64
	maxDirect   uint64
	maxHeapBits int
	root        uint64
	rootRows    int
	offSize     int // bytes of a heap offset
	lenSize     int // bytes of a managed object length
	maxDirRows  int
	hugeDirect  bool
	// huge maps huge object IDs to their address and length, read once
	// from the huge-object B-tree on first use.
	huge map[uint64][2]uint64
}

func (f *File) readFractalHeap(addr uint64) (*fractalHeap, error) {
	n := int64(4 + 1 + 2 + 2 + 1 + 4 + 12*f.sizeofLen + 3*f.sizeofAddr + 2 + 2 + 2 + 2 + 4)
	hdr, off, err := f.readAt(addr, n)
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, hdr, off)
	if !d.signature("FRHP") {
		return nil, d.err
	}
	d.u8() // version 0
	h := &fractalHeap{addr: addr, off: off}
	h.idLen = int(d.u16())
	h.filterLen = int(d.u16())
	h.flags = d.u8()
	h.maxManSize = uint64(d.u32())
	d.length() // next huge object ID
	h.hugeBTree = d.addr()
	d.length() // free space in managed blocks
	d.addr()   // free-space manager
	d.length() // managed space
	d.length() // allocated managed space
	d.length() // direct block allocation iterator
	d.length() // managed object count
	d.length() // huge object size
	d.length() // huge object count
	d.length() // tiny object size
	d.length() // tiny object count
	h.width = int(d.u16())
	h.startBlock = d.length()
	h.maxDirect = d.length()
	h.maxHeapBits = int(d.u16())
	d.u16() // starting rows in root indirect block
	h.root = d.addr()
	h.rootRows = int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	bad := func(what string) (*fractalHeap, error) {
		return nil, &format.Error{Off: off, Msg: "invalid fractal heap header: " + what}
	}
	switch {
	case h.idLen < 1 || h.idLen > 4096:
		return bad("heap ID length")
	case h.width < 1 || h.width > 65535 || h.width&(h.width-1) != 0:
		return bad("table width")
	case h.startBlock == 0 || h.startBlock&(h.startBlock-1) != 0 || h.startBlock > 1<<30:
		return bad("starting block size")
	case h.maxDirect < h.startBlock || h.maxDirect&(h.maxDirect-1) != 0 || h.maxDirect > 1<<31:
		return bad("maximum direct block size")
	case h.maxHeapBits < 1 || h.maxHeapBits > 64:
		return bad("maximum heap size")
	case h.rootRows > 64:
		return bad("root indirect block rows")
	}
	h.offSize = (h.maxHeapBits + 7) / 8
	h.lenSize = min((log2floor(h.maxDirect)+7)/8, limitEncSize(h.maxManSize))
	h.maxDirRows = log2floor(h.maxDirect) - log2floor(h.startBlock) + 2
	if h.filterLen > 0 {
		h.hugeDirect = h.idLen-1 >= f.sizeofAddr+f.sizeofLen+4+f.sizeofLen
	} else {
		h.hugeDirect = h.idLen-1 >= f.sizeofAddr+f.sizeofLen
	}
	return h, nil
}

// rowBlockSize is the size of each block in row r of the doubling table.
func (h *fractalHeap) rowBlockSize(r int) uint64 {
	if r == 0 {
		return h.startBlock
	}
	return h.startBlock << (r - 1)
}

// object returns the object a heap ID names.
func (f *File) heapObject(h *fractalHeap, id []byte) ([]byte, error) {
	if len(id) < 1 {
		return nil, &format.Error{Off: h.off, Msg: "empty fractal heap ID"}
	}
	if v := id[0] >> 6; v != 0 {
		return nil, &format.Error{Off: h.off, Msg: fmt.Sprintf("fractal heap ID version %d", v)}
	}
	switch (id[0] >> 4) & 3 {
	case 0:
		d := &decoder{f: f, b: id[1:], pos: h.off}
		o, n := d.uN(h.offSize), d.uN(h.lenSize)
		if d.err != nil {
			return nil, d.err
		}
		return f.managedObject(h, o, n)
	case 1:
		return f.hugeObject(h, id)
	case 2:
		n, data := int(id[0]&0x0f)+1, id[1:]
		if h.idLen > 18 {
			if len(id) < 2 {
				return nil, &format.Error{Off: h.off, Msg: "short tiny object ID"}
			}
			n, data = (int(id[0]&0x0f)<<8|int(id[1]))+1, id[2:]
		}
		if n > len(data) {
			return nil, &format.Error{Off: h.off, Msg: "tiny object longer than its ID"}
		}
		return data[:n], nil
	}
	return nil, &format.Error{Off: h.off, Msg: "unknown fractal heap ID type"}
}

func (f *File) managedObject(h *fractalHeap, objOff, n uint64) ([]byte, error) {
	if h.filterLen > 0 {
		return nil, fmt.Errorf("hdf5: filtered fractal heap blocks: %w", ErrUnsupported)
	}
	if n == 0 || n > h.maxDirect {
		return nil, &format.Error{Off: h.off, Msg: fmt.Sprintf("managed heap object of %d bytes", n)}
	}
	if f.undefined(h.root) {
		return nil, &format.Error{Off: h.off, Msg: "fractal heap has no root block"}
	}
	blockAddr, blockOff := h.root, uint64(0)
	if h.rootRows > 0 {
		var err error
		if blockAddr, blockOff, err = f.findDirectBlock(h, h.root, 0, h.rootRows, objOff, 0); err != nil {
			return nil, err
		}
	}
	if objOff < blockOff {
		return nil, &format.Error{Off: h.off, Msg: "heap object before its block"}
	}
	data, _, err := f.readAt(blockAddr+(objOff-blockOff), int64(n))
	return data, err
}

// findDirectBlock descends indirect blocks to the direct block holding the
// heap offset target, returning its address and starting heap offset.
func (f *File) findDirectBlock(h *fractalHeap, addr, iblockOff uint64, rows int, target uint64, depth int) (uint64, uint64, error) {
	if depth > 16 {
		return 0, 0, &format.Error{Off: h.off, Msg: "fractal heap indirect blocks nested too deep"}
	}
	dirRows := min(rows, h.maxDirRows)
	entry := f.sizeofAddr
	if h.filterLen > 0 {
		entry += f.sizeofLen + 4
	}
	n := 4 + 1 + f.sizeofAddr + h.offSize + dirRows*h.width*entry + (rows-dirRows)*h.width*f.sizeofAddr
	body, off, err := f.readAt(addr, int64(n))
	if err != nil {
		return 0, 0, err
	}
	d := newDecoder(f, body, off)
	if !d.signature("FHIB") {
		return 0, 0, d.err
	}
	d.u8()
	d.addr()
	d.uN(h.offSize)
	if d.err != nil {
		return 0, 0, d.err
	}
	if target < iblockOff {
		return 0, 0, &format.Error{Off: off, Msg: "heap offset before its indirect block"}
	}
	rel := target - iblockOff
	start := uint64(0)
	for r := range rows {
		bs := h.rowBlockSize(r)
		rowSize := bs * uint64(h.width)
		if rel >= start+rowSize {
			start += rowSize
			continue
		}
		col := (rel - start) / bs
		idx := r*h.width + int(col)
		var pos int
		if r < dirRows {
			pos = 4 + 1 + f.sizeofAddr + h.offSize + idx*entry
		} else {
			pos = 4 + 1 + f.sizeofAddr + h.offSize + dirRows*h.width*entry + (idx-dirRows*h.width)*f.sizeofAddr
		}
		cd := newDecoder(f, body[pos:], off+int64(pos))
		child := cd.addr()
		if cd.err != nil {
			return 0, 0, cd.err
		}
		childOff := iblockOff + start + col*bs
		if r < dirRows {
			return child, childOff, nil
		}
		childRows := log2floor(bs) - log2floor(h.startBlock*uint64(h.width)) + 1
		if childRows < 1 || childRows > 64 {
			return 0, 0, &format.Error{Off: off, Msg: "invalid fractal heap indirect block geometry"}
		}
		return f.findDirectBlock(h, child, childOff, childRows, target, depth+1)
	}
	return 0, 0, &format.Error{Off: off, Msg: fmt.Sprintf("heap offset %d outside the heap", target)}
}

func (f *File) hugeObject(h *fractalHeap, id []byte) ([]byte, error) {
	if h.filterLen > 0 {
		return nil, fmt.Errorf("hdf5: filtered huge heap objects: %w", ErrUnsupported)
	}
	var addr, n uint64
	if h.hugeDirect {
		d := &decoder{f: f, b: id[1:], pos: h.off}
		addr, n = d.addr(), d.length()
		if d.err != nil {
			return nil, d.err
		}
	} else {
		var b [8]byte
		copy(b[:], id[1:min(len(id), 9)])
		key := binary.LittleEndian.Uint64(b[:])
		if h.huge == nil {
			h.huge = map[uint64][2]uint64{}
			err := f.btree2Records(h.hugeBTree, func(rec []byte, roff int64) error {
				d := &decoder{f: f, b: rec, pos: roff}
				a, l, recID := d.addr(), d.length(), d.length()
				if _, dup := h.huge[recID]; d.err == nil && !dup {
					h.huge[recID] = [2]uint64{a, l}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		loc, found := h.huge[key]
		if !found {
			return nil, &format.Error{Off: h.off, Msg: fmt.Sprintf("huge heap object %d not in its B-tree", key)}
		}
		addr, n = loc[0], loc[1]
	}
	if int64(n) < 0 || int64(n) > f.opt.MaxAttributeBytes {
		return nil, limits.Exceeded("HDF5MaxAttributeBytes", int64(n), f.opt.MaxAttributeBytes, h.off)
	}
	data, _, err := f.readAt(addr, int64(n))
	return data, err
}
