package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ErrUnsupportedMethod is returned for a compression method the reader
// cannot decompress.
var ErrUnsupportedMethod = errors.New("unsupported compression method")

// Member is an opened zip member: its content and what was noticed on the
// way. Close releases decompressed content.
type Member struct {
	io.ReaderAt
	Size   int64
	Header *LocalHeader
	// CRCChecked and CRCMatch report the CRC-32 check, done only where the
	// content was read in full anyway (decompressed members).
	CRCChecked, CRCMatch bool
	// Stored is set when the content is the archive's own bytes.
	Stored  bool
	content *Content
}

// Close releases decompressed content.
func (m *Member) Close() error {
	if m.content != nil {
		return m.content.Close()
	}
	return nil
}

// Open returns an entry's content. Stored members are sections of the
// archive (nothing is read); compressed ones are decompressed within b,
// and when b stops them the member holds what came out before and the
// error is a *BombError. The compression method comes from the central
// directory, as miniz and zipfile take it; flag bits are ignored.
func (z *Zip) Open(ctx context.Context, e *ZipEntry, b Budget) (*Member, error) {
	raw, h, err := z.Raw(e)
	if err != nil {
		return nil, err
	}
	m := &Member{Header: h}
	if e.Method == MethodStore {
		m.ReaderAt, m.Size, m.Stored = raw, e.CompressedSize, true
		return m, nil
	}
	var dec io.ReadCloser
	switch e.Method {
	case MethodDeflate:
		dec = NewDeflateReader(raw)
	case MethodBzip2:
		dec, err = NewReader(Bzip2, raw)
	case MethodZstd:
		dec, err = NewReader(Zstd, raw)
	case MethodXZ:
		dec, err = NewReader(XZ, raw)
	case MethodLZMA:
		dec, err = zipLZMA(raw, e.UncompressedSize, e.Flags)
	default:
		return nil, fmt.Errorf("%w %d", ErrUnsupportedMethod, e.Method)
	}
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	b.Compressed = e.CompressedSize
	crc := crc32.NewIEEE()
	c, err := Materialize(ctx, io.TeeReader(dec, crc), b)
	m.ReaderAt, m.Size, m.content = c, c.Size(), c
	if err == nil {
		m.CRCChecked = true
		m.CRCMatch = crc.Sum32() == e.CRC32
	}
	return m, err
}

// zipLZMA adapts zip method 14 (a 4-byte version and properties-length
// header, then the 5 property bytes) to the .lzma header the decoder
// reads.
func zipLZMA(r io.Reader, usize int64, flags uint16) (io.ReadCloser, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("zip lzma header: %w", err)
	}
	if binary.LittleEndian.Uint16(h[2:]) != 5 {
		return nil, errors.New("zip lzma header: properties are not 5 bytes")
	}
	var alone [13]byte
	copy(alone[:5], h[4:9])
	size := uint64(usize)
	if flags&0x2 != 0 { // an end marker ends the stream
		size = ^uint64(0)
	}
	binary.LittleEndian.PutUint64(alone[5:], size)
	return NewReader(LZMA, io.MultiReader(bytes.NewReader(alone[:]), r))
}
