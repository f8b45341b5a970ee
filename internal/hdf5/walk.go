package hdf5

import (
	"context"
	"fmt"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// Link types in link messages.
const (
	linkHard     = 0
	linkSoft     = 1
	linkExternal = 64
)

// Object is one group or dataset in the file, as Walk reports it.
type Object struct {
	// Path from the root, e.g. "/model_weights/dense".
	Path string
	// Addr is the object header's file address.
	Addr       uint64
	IsGroup    bool
	Attributes []Attribute
	// Links lists the names of a group's links, of every type.
	Links []string
	// ExternalLinks are links to objects in other files ("file:/path").
	ExternalLinks []ExternalLink
	// ExternalFiles are raw-data files a dataset's storage lives in.
	ExternalFiles []string
	// Virtual marks a dataset whose data maps to other datasets or files.
	Virtual bool
}

// ExternalLink is a link to an object in another file.
type ExternalLink struct {
	Name, File, Path string
}

type link struct {
	name string
	typ  int
	addr uint64
	ext  ExternalLink
}

// Walk visits every object reachable from the root group, breadth first,
// each once (hard links may share objects or form cycles).
func (f *File) Walk(ctx context.Context, fn func(*Object) error) error {
	type item struct {
		addr  uint64
		path  string
		depth int
	}
	queue := []item{{f.rootAddr, "/", 0}}
	seen := map[uint64]bool{f.rootAddr: true}
	for n := 0; len(queue) > 0; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := queue[0]
		queue = queue[1:]
		if n >= f.opt.MaxObjects {
			return limits.Exceeded("HDF5MaxObjects", int64(n+1), int64(f.opt.MaxObjects), -1)
		}
		obj, links, err := f.readObject(it.addr, it.path)
		if err != nil {
			return fmt.Errorf("object %s: %w", it.path, err)
		}
		if err := fn(obj); err != nil {
			return err
		}
		for _, l := range links {
			if l.typ != linkHard || seen[l.addr] {
				continue
			}
			if it.depth+1 > f.opt.MaxDepth {
				return limits.Exceeded("HDF5MaxDepth", int64(it.depth+1), int64(f.opt.MaxDepth), -1)
			}
			seen[l.addr] = true
			p := it.path + l.name
			queue = append(queue, item{l.addr, p + "/", it.depth + 1})
		}
	}
	return nil
}

func (f *File) readObject(addr uint64, path string) (*Object, []link, error) {
	msgs, err := f.readHeader(addr)
	if err != nil {
		return nil, nil, err
	}
	obj := &Object{Path: trimSlash(path), Addr: addr}
	var links []link
	addLink := func(l link) error {
		if len(links) >= f.opt.MaxLinks {
			return limits.Exceeded("HDF5MaxLinks", int64(len(links)+1), int64(f.opt.MaxLinks), -1)
		}
		links = append(links, l)
		obj.Links = append(obj.Links, l.name)
		if l.typ == linkExternal {
			obj.ExternalLinks = append(obj.ExternalLinks, l.ext)
		}
		return nil
	}
	addAttr := func(b []byte, off int64) error {
		if len(obj.Attributes) >= f.opt.MaxLinks {
			return limits.Exceeded("HDF5MaxLinks", int64(len(obj.Attributes)+1), int64(f.opt.MaxLinks), off)
		}
		a, err := f.parseAttribute(b, off)
		if err != nil {
			return err
		}
		obj.Attributes = append(obj.Attributes, a)
		return nil
	}
	for _, m := range msgs {
		if m.flags&msgFlagShared != 0 && (m.typ == msgAttribute || m.typ == msgLink) {
			return nil, nil, fmt.Errorf("hdf5: shared header message of type %#x: %w", m.typ, ErrUnsupported)
		}
		switch m.typ {
		case msgAttribute:
			if err := addAttr(m.data, m.off); err != nil {
				return nil, nil, err
			}
		case msgAttrInfo:
			heap, index, err := f.denseInfo(m, 2)
			if err != nil {
				return nil, nil, err
			}
			if err := f.denseRecords(heap, index, 8, 0, addAttr); err != nil {
				return nil, nil, fmt.Errorf("dense attributes: %w", err)
			}
		case msgSymbolTable:
			obj.IsGroup = true
			if err := f.oldGroupLinks(m, addLink); err != nil {
				return nil, nil, err
			}
		case msgLink:
			obj.IsGroup = true
			l, err := f.parseLink(m.data, m.off)
			if err != nil {
				return nil, nil, err
			}
			if err := addLink(l); err != nil {
				return nil, nil, err
			}
		case msgLinkInfo:
			obj.IsGroup = true
			heap, index, err := f.denseInfo(m, 8)
			if err != nil {
				return nil, nil, err
			}
			if err := f.denseRecords(heap, index, 5, 4, func(b []byte, off int64) error {
				l, err := f.parseLink(b, off)
				if err != nil {
					return err
				}
				return addLink(l)
			}); err != nil {
				return nil, nil, fmt.Errorf("dense links: %w", err)
			}
		case msgExternalFile:
			names, err := f.externalFiles(m)
			if err != nil {
				return nil, nil, err
			}
			obj.ExternalFiles = append(obj.ExternalFiles, names...)
		case msgLayout:
			// Layout versions 3 and 4 put the class in byte 1; 3 is virtual.
			if len(m.data) >= 2 && m.data[0] >= 3 && m.data[1] == 3 {
				obj.Virtual = true
			}
		}
	}
	return obj, links, nil
}

func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

// denseInfo decodes a link info or attribute info message: the fractal
// heap and name index B-tree of dense storage (undefined when compact).
// maxIdx is the width of the "maximum creation index" field.
func (f *File) denseInfo(m message, maxIdx int) (heap, index uint64, err error) {
	d := newDecoder(f, m.data, m.off)
	d.u8() // version 0
	flags := d.u8()
	if flags&1 != 0 {
		d.skip(maxIdx)
	}
	heap, index = d.addr(), d.addr()
	return heap, index, d.err
}

// denseRecords visits the heap objects a dense-storage name index lists.
// recType is the expected v2 B-tree record type; idAt is where the heap ID
// starts in a record.
func (f *File) denseRecords(heapAddr, indexAddr uint64, recType uint8, idAt int, fn func([]byte, int64) error) error {
	if f.undefined(heapAddr) || f.undefined(indexAddr) {
		return nil
	}
	h, err := f.readFractalHeap(heapAddr)
	if err != nil {
		return err
	}
	return f.btree2Records(indexAddr, func(rec []byte, off int64) error {
		if idAt+h.idLen > len(rec) {
			return &format.Error{Off: off, Msg: "B-tree record shorter than a heap ID"}
		}
		if recType == 8 && idAt+h.idLen < len(rec) && rec[idAt+h.idLen]&msgFlagShared != 0 {
			return fmt.Errorf("hdf5: shared dense attribute: %w", ErrUnsupported)
		}
		obj, err := f.heapObject(h, rec[idAt:idAt+h.idLen])
		if err != nil {
			return err
		}
		return fn(obj, off)
	})
}

func (f *File) oldGroupLinks(m message, add func(link) error) error {
	d := newDecoder(f, m.data, m.off)
	btree, heapAddr := d.addr(), d.addr()
	if d.err != nil {
		return d.err
	}
	heap, err := f.readLocalHeap(heapAddr)
	if err != nil {
		return err
	}
	return f.groupSymbols(btree, func(e symbolEntry) error {
		name, err := heap.name(e.nameOff)
		if err != nil {
			return err
		}
		return add(link{name: name, typ: linkHard, addr: e.objAddr})
	})
}

// parseLink decodes a link message.
func (f *File) parseLink(b []byte, off int64) (link, error) {
	d := newDecoder(f, b, off)
	if v := d.u8(); v != 1 {
		return link{}, &format.Error{Off: off, Msg: fmt.Sprintf("unknown link message version %d", v)}
	}
	flags := d.u8()
	l := link{typ: linkHard}
	if flags&0x08 != 0 {
		l.typ = int(d.u8())
	}
	if flags&0x04 != 0 {
		d.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		d.u8() // name character set
	}
	n := d.uN(1 << (flags & 3))
	if n > uint64(d.left()) {
		return link{}, &format.Error{Off: d.pos, Msg: fmt.Sprintf("link name of %d bytes overruns its message", n)}
	}
	l.name = string(d.take(int(n)))
	switch l.typ {
	case linkHard:
		l.addr = d.addr()
	case linkExternal:
		n := int(d.u16())
		body := d.take(n)
		if d.err == nil && len(body) >= 1 {
			bd := &decoder{b: body[1:], pos: d.pos - int64(n) + 1}
			file := bd.cstring(n)
			path := bd.cstring(n)
			l.ext = ExternalLink{Name: l.name, File: file, Path: path}
			if bd.err != nil {
				return link{}, bd.err
			}
		}
	default: // soft and user-defined links: a length and a value
		d.take(int(d.u16()))
	}
	return l, d.err
}

// externalFiles reads the file names of an external data files message.
func (f *File) externalFiles(m message) ([]string, error) {
	d := newDecoder(f, m.data, m.off)
	d.u8() // version
	d.skip(3)
	d.u16() // allocated slots
	used := int(d.u16())
	heapAddr := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	heap, err := f.readLocalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var names []string
	for range used {
		nameOff := d.length()
		d.length() // offset in the file
		d.length() // size
		if d.err != nil {
			return nil, d.err
		}
		name, err := heap.name(nameOff)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}
