package hdf5

import (
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// symbolEntry is one link of an old-style group.
type symbolEntry struct {
	nameOff uint64
	objAddr uint64
}

// groupSymbols walks a group's v1 B-tree (type 0) and its symbol table
// nodes, calling fn for each entry.
func (f *File) groupSymbols(btreeAddr uint64, fn func(symbolEntry) error) error {
	seen := map[uint64]bool{}
	count := 0
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > 64 {
			return &format.Error{Off: -1, Msg: "group B-tree too deep"}
		}
		if seen[addr] {
			return &format.Error{Off: -1, Msg: fmt.Sprintf("group B-tree cycle at %#x", addr)}
		}
		seen[addr] = true
		hdr, off, err := f.readAt(addr, int64(8+2*f.sizeofAddr))
		if err != nil {
			return err
		}
		d := newDecoder(f, hdr, off)
		if !d.signature("TREE") {
			return d.err
		}
		if typ := d.u8(); typ != 0 {
			return &format.Error{Off: off + 4, Msg: fmt.Sprintf("group B-tree node of type %d", typ)}
		}
		level := d.u8()
		used := int(d.u16())
		if d.err != nil {
			return d.err
		}
		// Keys (heap offsets, sizeofLen) and children (addresses) alternate:
		// key0 child0 key1 … child(used-1) key(used).
		n := int64(used)*int64(f.sizeofLen+f.sizeofAddr) + int64(f.sizeofLen)
		body, boff, err := f.readAt(addr+uint64(len(hdr)), n)
		if err != nil {
			return err
		}
		d = newDecoder(f, body, boff)
		children := make([]uint64, 0, used)
		for range used {
			d.length()
			children = append(children, d.addr())
		}
		if d.err != nil {
			return d.err
		}
		for _, c := range children {
			if level > 0 {
				if err := walk(c, depth+1); err != nil {
					return err
				}
				continue
			}
			if seen[c] {
				return &format.Error{Off: boff, Msg: fmt.Sprintf("symbol table node %#x listed twice", c)}
			}
			seen[c] = true
			if err := f.symbolNode(c, func(e symbolEntry) error {
				if count++; count > f.opt.MaxLinks {
					return limits.Exceeded("HDF5MaxLinks", int64(count), int64(f.opt.MaxLinks), boff)
				}
				return fn(e)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(btreeAddr, 0)
}

func (f *File) symbolNode(addr uint64, fn func(symbolEntry) error) error {
	hdr, off, err := f.readAt(addr, 8)
	if err != nil {
		return err
	}
	d := newDecoder(f, hdr, off)
	if !d.signature("SNOD") {
		return d.err
	}
	d.u8() // version 1
	d.skip(1)
	n := int(d.u16())
	entry := 2*f.sizeofAddr + 24
	body, boff, err := f.readAt(addr+8, int64(n*entry))
	if err != nil {
		return err
	}
	d = newDecoder(f, body, boff)
	for range n {
		e := symbolEntry{nameOff: d.addr(), objAddr: d.addr()}
		d.skip(24) // cache type, reserved, scratch pad
		if d.err != nil {
			return d.err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// btree2 is a v2 B-tree header.
type btree2 struct {
	typ      uint8
	nodeSize int
	recSize  int
	depth    int
	root     uint64
	rootRecs int
	// per-depth sizes of the child-pointer counters
	maxNrecSize int
	cumSize     []int
}

// btree2Records visits every record of the v2 B-tree at addr.
func (f *File) btree2Records(addr uint64, fn func(rec []byte, off int64) error) error {
	hdr, off, err := f.readAt(addr, int64(4+1+1+4+2+2+1+1+f.sizeofAddr+2+f.sizeofLen))
	if err != nil {
		return err
	}
	d := newDecoder(f, hdr, off)
	if !d.signature("BTHD") {
		return d.err
	}
	d.u8() // version 0
	t := &btree2{typ: d.u8()}
	t.nodeSize = int(d.u32())
	t.recSize = int(d.u16())
	t.depth = int(d.u16())
	d.skip(2) // split, merge percent
	t.root = d.addr()
	t.rootRecs = int(d.u16())
	if d.err != nil {
		return d.err
	}
	if t.nodeSize < 16 || t.nodeSize > 1<<24 || t.recSize == 0 || t.recSize > t.nodeSize || t.depth > 32 {
		return &format.Error{Off: off, Msg: fmt.Sprintf("invalid v2 B-tree header (node %d, record %d, depth %d)", t.nodeSize, t.recSize, t.depth)}
	}
	if f.undefined(t.root) || t.rootRecs == 0 {
		return nil
	}
	// Counter widths, as the format derives them from the node geometry.
	const prefix = 10 // signature, version, type, checksum
	maxNrec := make([]uint64, t.depth+1)
	cumMax := make([]uint64, t.depth+1)
	t.cumSize = make([]int, t.depth+1)
	maxNrec[0] = uint64((t.nodeSize - prefix) / t.recSize)
	cumMax[0] = maxNrec[0]
	t.maxNrecSize = limitEncSize(maxNrec[0])
	for u := 1; u <= t.depth; u++ {
		ptr := f.sizeofAddr + t.maxNrecSize + t.cumSize[u-1]
		room := t.nodeSize - (prefix + ptr)
		if room < 0 {
			return &format.Error{Off: off, Msg: "v2 B-tree node too small for its depth"}
		}
		maxNrec[u] = uint64(room / (t.recSize + ptr))
		cumMax[u] = (maxNrec[u]+1)*cumMax[u-1] + maxNrec[u]
		if cumMax[u] < cumMax[u-1] { // overflow
			cumMax[u] = ^uint64(0)
		}
		t.cumSize[u] = limitEncSize(cumMax[u])
	}
	seen := map[uint64]bool{}
	total := 0
	var walk func(addr uint64, nrec, depth int) error
	walk = func(addr uint64, nrec, depth int) error {
		if seen[addr] {
			return &format.Error{Off: off, Msg: fmt.Sprintf("v2 B-tree cycle at %#x", addr)}
		}
		seen[addr] = true
		if total += nrec; total > f.opt.MaxLinks {
			return limits.Exceeded("HDF5MaxLinks", int64(total), int64(f.opt.MaxLinks), off)
		}
		sig := "BTLF"
		if depth > 0 {
			sig = "BTIN"
		}
		ptr := f.sizeofAddr + t.maxNrecSize + t.cumSize[max(depth-1, 0)]
		n := int64(6 + nrec*t.recSize)
		if depth > 0 {
			n += int64((nrec + 1) * ptr)
		}
		if n > int64(t.nodeSize) {
			return &format.Error{Off: off, Msg: fmt.Sprintf("v2 B-tree node with %d records overruns its %d-byte node", nrec, t.nodeSize)}
		}
		body, boff, err := f.readAt(addr, n)
		if err != nil {
			return err
		}
		d := newDecoder(f, body, boff)
		if !d.signature(sig) {
			return d.err
		}
		d.u8()
		if typ := d.u8(); typ != t.typ {
			return &format.Error{Off: boff + 5, Msg: fmt.Sprintf("v2 B-tree node of type %d in a tree of type %d", typ, t.typ)}
		}
		for range nrec {
			rec, roff := d.take(t.recSize), d.pos-int64(t.recSize)
			if d.err != nil {
				return d.err
			}
			if err := fn(rec, roff); err != nil {
				return err
			}
		}
		if depth == 0 {
			return nil
		}
		type child struct {
			addr uint64
			nrec int
		}
		kids := make([]child, 0, nrec+1)
		for range nrec + 1 {
			a := d.addr()
			c := d.uN(t.maxNrecSize)
			if depth > 1 {
				d.uN(t.cumSize[depth-1])
			}
			if c > maxNrec[depth-1] {
				return &format.Error{Off: d.pos, Msg: fmt.Sprintf("v2 B-tree child claims %d records", c)}
			}
			kids = append(kids, child{a, int(c)})
		}
		if d.err != nil {
			return d.err
		}
		for _, k := range kids {
			if err := walk(k.addr, k.nrec, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	if uint64(t.rootRecs) > maxNrec[t.depth] {
		return &format.Error{Off: off, Msg: fmt.Sprintf("v2 B-tree root claims %d records", t.rootRecs)}
	}
	return walk(t.root, t.rootRecs, t.depth)
}
