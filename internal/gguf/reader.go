package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"modelgate/internal/format"
)

// breader reads a file front to back through a small buffer, and skips
// by moving its offset: array payloads and tensor data are never read.
type breader struct {
	r      io.ReaderAt
	size   int64
	off    int64 // next byte to return
	buf    []byte
	bufOff int64 // file offset of buf[0]
	order  binary.ByteOrder
}

const bufSize = 64 << 10

func newReader(r io.ReaderAt, size int64) *breader {
	return &breader{r: r, size: size, buf: make([]byte, 0, bufSize), order: binary.LittleEndian}
}

func malformed(off int64, format_ string, args ...any) error {
	return &format.Error{Off: off, Msg: fmt.Sprintf(format_, args...)}
}

// left is how many bytes remain after the current offset.
func (b *breader) left() int64 { return b.size - b.off }

// bytes returns the next n bytes (n ≤ bufSize), valid until the next call.
func (b *breader) bytes(n int, what string) ([]byte, error) {
	if int64(n) > b.left() {
		return nil, malformed(b.off, "%s: needs %d bytes, %d left", what, n, b.left())
	}
	start := b.off - b.bufOff
	if b.off < b.bufOff || start+int64(n) > int64(len(b.buf)) {
		want := min(int64(bufSize), b.size-b.off)
		b.buf = b.buf[:want]
		got, err := b.r.ReadAt(b.buf, b.off)
		if got < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading %s at offset %d: %w", what, b.off, err)
		}
		b.buf = b.buf[:got]
		b.bufOff = b.off
		start = 0
	}
	b.off += int64(n)
	return b.buf[start : start+int64(n)], nil
}

func (b *breader) u32(what string) (uint32, error) {
	p, err := b.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return b.order.Uint32(p), nil
}

func (b *breader) u64(what string) (uint64, error) {
	p, err := b.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return b.order.Uint64(p), nil
}

// skip moves past n bytes, which must exist.
func (b *breader) skip(n uint64, what string) error {
	if n > uint64(b.left()) {
		return malformed(b.off, "%s: %d bytes, only %d left in the file", what, n, b.left())
	}
	b.off += int64(n)
	return nil
}

// readString reads n bytes that are known to exist into a new string.
func (b *breader) readString(n int64, what string) (string, error) {
	if n > b.left() {
		return "", malformed(b.off, "%s: %d bytes, only %d left in the file", what, n, b.left())
	}
	if n <= bufSize {
		p, err := b.bytes(int(n), what)
		return string(p), err
	}
	out := make([]byte, n)
	if got, err := b.r.ReadAt(out, b.off); int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("reading %s at offset %d: %w", what, b.off, err)
	}
	b.off += n
	return string(out), nil
}
