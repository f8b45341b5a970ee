// Package hdf5 is a minimal, bounded, read-only HDF5 reader: enough of the
// format to walk the group tree of a Keras .h5 file and read its string
// attributes (model_config, training_config, keras_version, backend). It
// never decodes dataset contents.
//
// It supports superblocks v0–v3, object headers v1 and v2 with continuation
// blocks, old-style groups (v1 B-tree, symbol table nodes, local heap),
// new-style groups (link messages, and dense link storage in a fractal heap
// indexed by a v2 B-tree), compact and dense attribute storage (including
// huge and tiny fractal heap objects), fixed-length strings and
// variable-length strings in global heap collections.
//
// Every length read from the file is checked against the file size and the
// Options before anything is allocated; every walk is bounded in depth and
// count and guards against cycles. Checksums are not verified: the reader
// accepts a superset of what libhdf5 accepts, so nothing that libhdf5 would
// load is hidden from a scan by a bad checksum.
package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// Signature starts every HDF5 superblock.
var Signature = []byte("\x89HDF\r\n\x1a\n")

// ErrUnsupported marks valid HDF5 features this reader does not decode
// (shared messages, filtered heaps). Callers treat it as a parse failure.
var ErrUnsupported = errors.New("unsupported HDF5 feature")

// Options bound the work done on one file.
type Options struct {
	// MaxObjects bounds the objects (groups, datasets) visited by Walk.
	MaxObjects int
	// MaxDepth bounds group nesting.
	MaxDepth int
	// MaxMessages bounds the header messages of one object.
	MaxMessages int
	// MaxLinks bounds the links and attributes of one object.
	MaxLinks int
	// MaxAttributeBytes bounds the decoded value of one attribute.
	MaxAttributeBytes int64
	// MaxReadBytes bounds the bytes read in total (metadata and values).
	MaxReadBytes int64
}

// DefaultOptions fit the largest real Keras files with room to spare.
func DefaultOptions() Options {
	return Options{
		MaxObjects:        1_000_000,
		MaxDepth:          128,
		MaxMessages:       100_000,
		MaxLinks:          1_000_000,
		MaxAttributeBytes: 256 << 20,
		MaxReadBytes:      2 << 30,
	}
}

// File is an open HDF5 file.
type File struct {
	r          io.ReaderAt
	size       int64
	base       int64 // absolute offset that addresses are relative to
	sbVersion  int
	sizeofAddr int
	sizeofLen  int
	rootAddr   uint64
	opt        Options
	read       int64 // bytes read so far, against MaxReadBytes
	gcols      map[uint64]*globalHeap
	gcolBytes  int64
}

// Superblock returns the superblock version and its absolute offset.
func (f *File) Superblock() (version int, offset int64) { return f.sbVersion, f.base }

// FindSignature returns the offset of the superblock signature: HDF5 puts
// it at 0, 512, 1024, 2048, … (after a user block). head is the start of
// the content, used before any read.
func FindSignature(r io.ReaderAt, size int64, head []byte) (int64, bool) {
	var b [8]byte
	for off := int64(0); off+8 <= size; off = nextSigOffset(off) {
		var got []byte
		if off+8 <= int64(len(head)) {
			got = head[off : off+8]
		} else {
			if _, err := r.ReadAt(b[:], off); err != nil {
				return 0, false
			}
			got = b[:]
		}
		if bytes.Equal(got, Signature) {
			return off, true
		}
	}
	return 0, false
}

func nextSigOffset(off int64) int64 {
	if off == 0 {
		return 512
	}
	return off * 2
}

// Open reads the superblock.
func Open(r io.ReaderAt, size int64, opt Options) (*File, error) {
	sig, ok := FindSignature(r, size, nil)
	if !ok {
		return nil, &format.Error{Off: 0, Msg: "no HDF5 superblock signature"}
	}
	f := &File{r: r, size: size, base: sig, opt: opt, gcols: map[uint64]*globalHeap{}}
	hdr, err := f.readAbs(sig, min(size-sig, 128))
	if err != nil {
		return nil, err
	}
	d := &decoder{b: hdr, pos: sig}
	d.skip(8)
	f.sbVersion = int(d.u8())
	switch f.sbVersion {
	case 0, 1:
		d.skip(3) // free-space, root symbol table entry and shared header versions
		d.skip(1)
		f.sizeofAddr, f.sizeofLen = int(d.u8()), int(d.u8())
		if err := f.checkSizes(d.pos); err != nil {
			return nil, err
		}
		d.f = f
		d.skip(1 + 2 + 2 + 4) // reserved, leaf K, internal K, consistency flags
		if f.sbVersion == 1 {
			d.skip(4) // indexed storage K, reserved
		}
		d.addr() // base address: the superblock's own offset is what libhdf5 uses
		d.addr() // free-space info
		d.addr() // end of file
		d.addr() // driver info
		d.addr() // root entry: link name offset
		f.rootAddr = d.addr()
	case 2, 3:
		f.sizeofAddr, f.sizeofLen = int(d.u8()), int(d.u8())
		if err := f.checkSizes(d.pos); err != nil {
			return nil, err
		}
		d.f = f
		d.skip(1) // consistency flags
		d.addr()  // base address
		d.addr()  // superblock extension
		d.addr()  // end of file
		f.rootAddr = d.addr()
	default:
		return nil, &format.Error{Off: sig + 8, Msg: fmt.Sprintf("unknown superblock version %d", f.sbVersion)}
	}
	if d.err != nil {
		return nil, d.err
	}
	if f.undefined(f.rootAddr) {
		return nil, &format.Error{Off: sig, Msg: "superblock has no root group"}
	}
	return f, nil
}

func (f *File) checkSizes(off int64) error {
	for _, n := range []int{f.sizeofAddr, f.sizeofLen} {
		if n != 2 && n != 4 && n != 8 {
			return &format.Error{Off: off, Msg: fmt.Sprintf("invalid size of offsets/lengths %d", n)}
		}
	}
	return nil
}

// undefined reports the "undefined address" value (all bits set).
func (f *File) undefined(a uint64) bool {
	return a == (uint64(1)<<(8*f.sizeofAddr))-1 || (f.sizeofAddr == 8 && a == ^uint64(0))
}

// abs converts a file address to an absolute offset, checking that n bytes
// from it lie in the file.
func (f *File) abs(addr uint64, n int64) (int64, error) {
	if f.undefined(addr) {
		return 0, &format.Error{Off: -1, Msg: "reference to an undefined address"}
	}
	if n < 0 || addr > uint64(f.size) || int64(addr) > f.size-f.base || f.base+int64(addr) > f.size-n {
		return 0, &format.Error{Off: f.base, Msg: fmt.Sprintf("address %#x+%d is beyond the end of the file (%d bytes)", addr, n, f.size)}
	}
	return f.base + int64(addr), nil
}

// readAt reads n bytes at a file address.
func (f *File) readAt(addr uint64, n int64) ([]byte, int64, error) {
	off, err := f.abs(addr, n)
	if err != nil {
		return nil, 0, err
	}
	b, err := f.readAbs(off, n)
	return b, off, err
}

// readAbs reads n bytes at an absolute offset, within the read budget.
func (f *File) readAbs(off, n int64) ([]byte, error) {
	if n < 0 || off < 0 || off > f.size-n {
		return nil, &format.Error{Off: off, Msg: fmt.Sprintf("read of %d bytes beyond the end of the file", n)}
	}
	if n > max(f.opt.MaxAttributeBytes+4096, 64<<20) {
		return nil, limits.Exceeded("HDF5MaxStructureBytes", n, max(f.opt.MaxAttributeBytes+4096, 64<<20), off)
	}
	if f.read+n > f.opt.MaxReadBytes {
		return nil, limits.Exceeded("HDF5MaxReadBytes", f.read+n, f.opt.MaxReadBytes, off)
	}
	f.read += n
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) {
			return nil, &format.Error{Off: off, Msg: "unexpected end of file"}
		}
		return nil, fmt.Errorf("hdf5: read at %d: %w", off, err)
	}
	return b, nil
}

// readUpTo reads at most n bytes at addr, fewer at the end of the file.
func (f *File) readUpTo(addr uint64, n int64) ([]byte, int64, error) {
	off, err := f.abs(addr, 0)
	if err != nil {
		return nil, 0, err
	}
	n = min(n, f.size-off)
	b, err := f.readAbs(off, n)
	return b, off, err
}
