package hdf5

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"modelgate/internal/format"
)

// image builds a small HDF5 file by hand: superblock v0 with 8-byte
// offsets whose root object header is at rootAt.
type image struct{ b []byte }

func newImage(size, rootAt int) *image {
	im := &image{b: make([]byte, size)}
	copy(im.b, Signature)
	im.b[13], im.b[14] = 8, 8                    // sizes of offsets and lengths
	binary.LittleEndian.PutUint16(im.b[16:], 4)  // leaf K
	binary.LittleEndian.PutUint16(im.b[18:], 16) // internal K
	im.u64(24, 0)                                // base address
	im.u64(32, ^uint64(0))                       // free space
	im.u64(40, uint64(size))                     // end of file
	im.u64(48, ^uint64(0))                       // driver info
	im.u64(56, 0)                                // root link name offset
	im.u64(64, uint64(rootAt))                   // root object header
	return im
}

func (im *image) u64(off int, v uint64) { binary.LittleEndian.PutUint64(im.b[off:], v) }
func (im *image) u16(off int, v uint16) { binary.LittleEndian.PutUint16(im.b[off:], v) }

// header writes a v1 object header at off holding one message.
func (im *image) header(off int, typ uint16, data []byte) {
	im.b[off] = 1
	im.u16(off+2, 1)
	binary.LittleEndian.PutUint32(im.b[off+4:], 1)
	binary.LittleEndian.PutUint32(im.b[off+8:], uint32(8+len(data)))
	im.u16(off+16, typ)
	im.u16(off+18, uint16(len(data)))
	copy(im.b[off+24:], data)
}

func addrs(v ...uint64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

func walkImage(b []byte) error {
	f, err := Open(bytesReader(b), int64(len(b)), DefaultOptions())
	if err != nil {
		return err
	}
	return f.Walk(context.Background(), func(*Object) error { return nil })
}

func TestGroupBTreeCycle(t *testing.T) {
	im := newImage(512, 200)
	im.header(200, msgSymbolTable, addrs(400, 300))
	copy(im.b[300:], "HEAP")
	im.u64(308, 16)         // data segment size
	im.u64(316, ^uint64(0)) // free list
	im.u64(324, 340)        // data segment
	copy(im.b[400:], "TREE")
	im.b[405] = 1                      // level 1: children are nodes
	im.u16(406, 1)                     // one child
	im.u64(408, ^uint64(0))            // left sibling
	im.u64(416, ^uint64(0))            // right sibling
	copy(im.b[424:], addrs(0, 400, 0)) // key, child (itself), key
	err := walkImage(im.b)
	var fe *format.Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("got %v", err)
	}
}

func TestContinuationCycle(t *testing.T) {
	im := newImage(512, 200)
	// The root's only message continues at 300, whose continuation points
	// back at 300.
	im.header(200, msgContinuation, addrs(300, 24))
	im.u16(300, msgContinuation)
	im.u16(302, 16)
	copy(im.b[308:], addrs(300, 24))
	err := walkImage(im.b)
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("got %v", err)
	}
}

func TestHardLinkLoopVisitedOnce(t *testing.T) {
	// external.h5 links model_weights/loop back to model_weights: Walk
	// must visit each object once and end.
	_, objs, err := walkFile(t, "testdata/external.h5", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, o := range objs {
		if seen[o.Addr] {
			t.Errorf("object %s at %#x visited twice", o.Path, o.Addr)
		}
		seen[o.Addr] = true
	}
}
