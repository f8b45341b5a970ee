package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/bodgit/sevenzip"
	"github.com/ulikunitz/xz/lzma"

	"modelgate/internal/limits"
)

// SevenZipMagic starts every 7z archive.
const SevenZipMagic = "7z\xbc\xaf\x27\x1c"

// Bounds for 7z headers. github.com/bodgit/sevenzip sizes slices from
// header counts of up to 2^32 before reading the items, so a few header
// bytes could make it allocate gigabytes; the preflight below checks every
// count against these bounds first.
const (
	maxHeaderBytes = 64 << 20
	maxFolders     = 1 << 16
	maxCoders      = 32
	maxCoderIO     = 32
)

// SevenZip is an opened 7z archive.
type SevenZip struct {
	r *sevenzip.Reader
	// Files lists the entries in archive order.
	Files []*sevenzip.File
}

// OpenSevenZip validates the archive's headers within bounds and opens it.
// A panic inside the decoding library is turned into an error.
func OpenSevenZip(r io.ReaderAt, size int64, maxEntries int) (sz *SevenZip, err error) {
	if err := preflight7z(r, size, maxEntries); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			sz, err = nil, fmt.Errorf("7z: the decoder failed: %v", p)
		}
	}()
	zr, err := sevenzip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	return &SevenZip{r: zr, Files: zr.File}, nil
}

// Open decompresses one file within the budget (see Materialize).
func (s *SevenZip) Open(ctx context.Context, f *sevenzip.File, b Budget) (c *Content, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("7z: the decoder failed: %v", p)
		}
	}()
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return Materialize(ctx, &recoverReader{r: rc}, b)
}

// recoverReader turns a decoder panic during Read into an error.
type recoverReader struct{ r io.Reader }

func (rr *recoverReader) Read(p []byte) (n int, err error) {
	defer func() {
		if x := recover(); x != nil {
			n, err = 0, fmt.Errorf("7z: the decoder failed: %v", x)
		}
	}()
	return rr.r.Read(p)
}

// hdr7z reads 7z header numbers and bytes from a bounded buffer.
type hdr7z struct {
	b   []byte
	i   int
	err error
}

var errHeaderEnd = errors.New("7z: header ends early")

// fail records the first error; later ones are consequences of it.
func (h *hdr7z) fail(err error) {
	if h.err == nil {
		h.err = err
	}
}

func (h *hdr7z) byte() byte {
	if h.err != nil {
		return 0 // keep the first error
	}
	if h.i >= len(h.b) {
		h.fail(errHeaderEnd)
		return 0
	}
	c := h.b[h.i]
	h.i++
	return c
}

// number reads 7z's variable-length UINT64: the high bits of the first
// byte say how many bytes follow.
func (h *hdr7z) number() uint64 {
	first := h.byte()
	mask := byte(0x80)
	var v uint64
	for i := 0; i < 8; i++ {
		if first&mask == 0 {
			high := uint64(first) & (uint64(mask) - 1)
			return v | high<<(8*i)
		}
		v |= uint64(h.byte()) << (8 * i)
		mask >>= 1
	}
	return v
}

func (h *hdr7z) skip(n uint64) {
	if h.err != nil {
		return
	}
	if n > uint64(len(h.b)-h.i) {
		h.fail(errHeaderEnd)
		h.i = len(h.b)
		return
	}
	h.i += int(n)
}

func (h *hdr7z) count(what string, max uint64) uint64 {
	n := h.number()
	if h.err == nil && n > max {
		h.fail(limits.Exceeded("7z "+what, int64(min(n, 1<<62)), int64(max), -1))
	}
	return n
}

// preflight7z walks the archive's headers, decoding an encoded header
// with LZMA or LZMA2, and checks every count before the library sees it.
func preflight7z(r io.ReaderAt, size int64, maxEntries int) error {
	var sig [32]byte
	if _, err := r.ReadAt(sig[:], 0); err != nil || string(sig[:6]) != SevenZipMagic {
		return errors.New("7z: no signature")
	}
	if crc32.ChecksumIEEE(sig[12:32]) != binary.LittleEndian.Uint32(sig[8:]) {
		return errors.New("7z: start header checksum mismatch")
	}
	off := binary.LittleEndian.Uint64(sig[12:])
	n := binary.LittleEndian.Uint64(sig[20:])
	if off > uint64(size) || n > uint64(size)-32 || off > uint64(size)-32-n {
		return fmt.Errorf("7z: the header (%d bytes at %d) lies outside the %d-byte file", n, off, size)
	}
	if n > maxHeaderBytes {
		return limits.Exceeded("7z header bytes", int64(n), maxHeaderBytes, 32+int64(off))
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 32+int64(off)); err != nil {
		return fmt.Errorf("7z: reading the header: %w", err)
	}
	for range 4 { // an encoded header decodes to a header (7-Zip nests once)
		h := &hdr7z{b: buf}
		switch id := h.byte(); id {
		case 0x01:
			h.header(uint64(maxEntries))
			return h.err
		case 0x17:
			folders := h.streamsInfo(uint64(maxEntries))
			if h.err != nil {
				return h.err
			}
			if len(folders) != 1 || len(folders[0].packSizes) == 0 {
				return errors.New("7z: the encoded header is not one folder")
			}
			dec, err := decodeHeader(r, size, folders[0])
			if err != nil {
				return err
			}
			buf = dec
		default:
			if n == 0 {
				return nil // an empty archive
			}
			return fmt.Errorf("7z: unexpected header id %#x", id)
		}
	}
	return errors.New("7z: headers nested too deeply")
}

type folder7z struct {
	methods    [][]byte
	props      [][]byte
	unpack     []uint64
	packPos    uint64
	packSizes  []uint64
	numOut     uint64
	simpleOnly bool
}

func (h *hdr7z) header(maxEntries uint64) {
	id := h.byte()
	if id == 0x02 { // archive properties
		for h.err == nil {
			if h.byte() == 0 {
				break
			}
			h.skip(h.number())
		}
		id = h.byte()
	}
	if id == 0x03 { // additional streams
		h.streamsInfo(maxEntries)
		id = h.byte()
	}
	if id == 0x04 { // main streams
		h.streamsInfo(maxEntries)
		id = h.byte()
	}
	if id == 0x05 { // files
		h.count("files", maxEntries)
		for h.err == nil {
			if h.byte() == 0 {
				break
			}
			h.skip(h.number())
		}
		id = h.byte()
	}
	if h.err == nil && id != 0x00 {
		h.fail(fmt.Errorf("7z: unexpected header property %#x", id))
	}
}

func (h *hdr7z) digests(n uint64) {
	all := h.byte()
	defined := n
	if all == 0 {
		defined = 0
		for i := uint64(0); i < n && h.err == nil; i += 8 {
			b := h.byte()
			for j := uint64(0); j < 8 && i+j < n; j++ {
				if b&(0x80>>j) != 0 {
					defined++
				}
			}
		}
	}
	h.skip(4 * defined)
}

// streamsInfo reads pack, unpack and substream info, returning folders
// with their pack stream sizes (for decoding an encoded header).
func (h *hdr7z) streamsInfo(maxEntries uint64) []folder7z {
	var folders []folder7z
	var packPos uint64
	var packSizes []uint64
	for h.err == nil {
		switch id := h.byte(); id {
		case 0x00:
			assignPacks(folders, packPos, packSizes)
			return folders
		case 0x06: // pack info
			packPos = h.number()
			np := h.count("pack streams", maxFolders)
			for h.err == nil {
				p := h.byte()
				if p == 0 {
					break
				}
				switch p {
				case 0x09:
					for i := uint64(0); i < np && h.err == nil; i++ {
						packSizes = append(packSizes, h.number())
					}
				case 0x0a:
					h.digests(np)
				default:
					h.skip(h.number())
				}
			}
		case 0x07: // unpack info
			if h.byte() != 0x0b {
				h.fail(errors.New("7z: unpack info without folders"))
				return nil
			}
			nf := h.count("folders", maxFolders)
			if h.byte() != 0 {
				h.fail(errors.New("7z: external folders are not supported"))
				return nil
			}
			for i := uint64(0); i < nf && h.err == nil; i++ {
				folders = append(folders, h.folder())
			}
			if h.byte() != 0x0c {
				h.fail(errors.New("7z: folders without unpack sizes"))
				return nil
			}
			for i := range folders {
				for j := uint64(0); j < folders[i].numOut && h.err == nil; j++ {
					folders[i].unpack = append(folders[i].unpack, h.number())
				}
			}
			for h.err == nil {
				p := h.byte()
				if p == 0 {
					break
				}
				if p == 0x0a {
					h.digests(nf)
				} else {
					h.skip(h.number())
				}
			}
		case 0x08: // substreams
			streams := uint64(len(folders))
			perFolder := make([]uint64, len(folders))
			for i := range perFolder {
				perFolder[i] = 1
			}
			p := h.byte()
			if p == 0x0d {
				streams = 0
				for i := range perFolder {
					perFolder[i] = h.count("streams per folder", maxEntries)
					streams += perFolder[i]
					if streams > maxEntries && h.err == nil {
						h.fail(limits.Exceeded("7z streams", int64(streams), int64(maxEntries), -1))
					}
				}
				p = h.byte()
			}
			if p == 0x09 {
				for _, k := range perFolder {
					for j := uint64(1); j < k && h.err == nil; j++ {
						h.number()
					}
				}
				p = h.byte()
			}
			for h.err == nil && p != 0 {
				if p == 0x0a {
					h.digests(streams)
				} else {
					h.skip(h.number())
				}
				p = h.byte()
			}
		default:
			h.fail(fmt.Errorf("7z: unexpected streams property %#x", id))
		}
	}
	return nil
}

func assignPacks(folders []folder7z, pos uint64, sizes []uint64) {
	for i := range folders {
		folders[i].packPos = pos
		if i < len(sizes) {
			folders[i].packSizes = sizes[i : i+1]
			pos += sizes[i]
		}
	}
}

func (h *hdr7z) folder() folder7z {
	var f folder7z
	nc := h.count("coders", maxCoders)
	var totalIn uint64
	for i := uint64(0); i < nc && h.err == nil; i++ {
		flag := h.byte()
		idLen := uint64(flag & 0x0f)
		start := h.i
		h.skip(idLen)
		if h.err != nil {
			return f
		}
		f.methods = append(f.methods, h.b[start:h.i])
		in, out := uint64(1), uint64(1)
		if flag&0x10 != 0 {
			in = h.count("coder inputs", maxCoderIO)
			out = h.count("coder outputs", maxCoderIO)
		}
		totalIn += in
		f.numOut += out
		var props []byte
		if flag&0x20 != 0 {
			n := h.number()
			start := h.i
			h.skip(n)
			if h.err == nil {
				props = h.b[start:h.i]
			}
		}
		f.props = append(f.props, props)
		if d := coderDictionary(f.methods[len(f.methods)-1], props); d > MaxDictionary {
			h.fail(limits.Exceeded("7z coder dictionary", int64(min(d, 1<<62)), MaxDictionary, -1))
		}
	}
	if f.numOut == 0 && h.err == nil {
		h.fail(errors.New("7z: a folder without coders"))
		return f
	}
	bind := f.numOut - 1
	for i := uint64(0); i < bind && h.err == nil; i++ {
		h.number()
		h.number()
	}
	if totalIn < bind && h.err == nil {
		h.fail(errors.New("7z: more bind pairs than coder inputs"))
		return f
	}
	if packed := totalIn - bind; packed > 1 {
		for i := uint64(0); i < packed && h.err == nil; i++ {
			h.number()
		}
	}
	f.simpleOnly = nc == 1
	return f
}

// coderDictionary returns the dictionary an LZMA or LZMA2 coder asks for
// (the decoder allocates it), or 0 for other coders.
func coderDictionary(method, props []byte) uint64 {
	switch {
	case bytes.Equal(method, []byte{0x03, 0x01, 0x01}) && len(props) == 5:
		return uint64(binary.LittleEndian.Uint32(props[1:]))
	case bytes.Equal(method, []byte{0x21}) && len(props) == 1:
		if props[0] > 40 {
			return 1 << 62
		}
		return uint64(2|props[0]&1) << (props[0]/2 + 11)
	}
	return 0
}

// decodeHeader decodes an encoded header folder: one LZMA, LZMA2 or Copy
// coder (what 7-Zip writes unless the header is encrypted).
func decodeHeader(r io.ReaderAt, size int64, f folder7z) ([]byte, error) {
	if !f.simpleOnly || len(f.unpack) != 1 {
		return nil, errors.New("7z: the encoded header uses a coder chain this reader does not decode (an encrypted header?)")
	}
	unpack := f.unpack[0]
	if unpack > maxHeaderBytes {
		return nil, limits.Exceeded("7z header bytes", int64(min(unpack, 1<<62)), maxHeaderBytes, -1)
	}
	pos, n := 32+f.packPos, f.packSizes[0]
	if pos > uint64(size) || n > uint64(size)-pos {
		return nil, errors.New("7z: the encoded header's data lies outside the file")
	}
	src := io.NewSectionReader(r, int64(pos), int64(n))
	var dec io.Reader
	switch m := f.methods[0]; {
	case bytes.Equal(m, []byte{0x00}):
		dec = src
	case bytes.Equal(m, []byte{0x03, 0x01, 0x01}):
		p := f.props[0]
		if len(p) != 5 {
			return nil, errors.New("7z: bad LZMA properties")
		}
		var hdr [13]byte
		copy(hdr[:], p)
		binary.LittleEndian.PutUint64(hdr[5:], unpack)
		lr, err := lzma.ReaderConfig{DictCap: MaxDictionary}.NewReader(io.MultiReader(bytes.NewReader(hdr[:]), src))
		if err != nil {
			return nil, fmt.Errorf("7z header: %w", err)
		}
		dec = lr
	case bytes.Equal(m, []byte{0x21}):
		p := f.props[0]
		if len(p) != 1 || p[0] > 40 {
			return nil, errors.New("7z: bad LZMA2 properties")
		}
		dict := uint64(2|p[0]&1) << (p[0]/2 + 11)
		if dict > MaxDictionary {
			return nil, fmt.Errorf("7z: the header asks for a %d-byte dictionary", dict)
		}
		lr, err := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader2(src)
		if err != nil {
			return nil, fmt.Errorf("7z header: %w", err)
		}
		dec = lr
	default:
		return nil, fmt.Errorf("7z: the header is encoded with method %x, which this reader does not decode (an encrypted header?)", m)
	}
	out := make([]byte, unpack)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, fmt.Errorf("7z: decoding the header: %w", err)
	}
	return out, nil
}
