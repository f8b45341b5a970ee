package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Codec names a compression format.
type Codec string

// Codecs recognised by magic bytes. LZMA is the legacy "alone" format that
// joblib writes for compress="lzma"; XZ is the container format.
const (
	Gzip  Codec = "gzip"
	Zlib  Codec = "zlib"
	Bzip2 Codec = "bzip2"
	XZ    Codec = "xz"
	LZMA  Codec = "lzma"
	Zstd  Codec = "zstd"
	LZ4   Codec = "lz4"
	// ZFile is joblib's pre-0.10 compressed format: "ZF", the data length
	// in hex padded to 19 bytes, then a zlib stream.
	ZFile Codec = "joblib-zfile"
)

// zfileHeader is the length of ZFile's prefix.
const zfileHeader = 2 + 19

// MaxDictionary bounds the dictionary or window a stream may ask for. The
// largest preset of xz uses 64 MiB and zstd's default limit is 128 MiB; a
// header asking for more is refused rather than allocated.
const MaxDictionary = 256 << 20

// Sniff reports the codec whose magic bytes start head, or "".
func Sniff(head []byte) Codec {
	switch {
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		return Gzip
	case len(head) >= 10 && bytes.HasPrefix(head, []byte("BZh")) && head[3] >= '1' && head[3] <= '9' &&
		(bytes.HasPrefix(head[4:], []byte("1AY&SY")) || bytes.HasPrefix(head[4:], []byte("\x17rE8P\x90"))):
		return Bzip2
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return XZ
	case len(head) >= 4 && binary.LittleEndian.Uint32(head) == 0xfd2fb528:
		return Zstd
	case len(head) >= 4 && binary.LittleEndian.Uint32(head) == 0x184d2204:
		return LZ4
	case len(head) > zfileHeader+2 && bytes.HasPrefix(head, []byte("ZF0x")) && zlibHeader(head[zfileHeader:]):
		return ZFile
	case zlibHeader(head):
		return Zlib
	case lzmaHeader(head):
		return LZMA
	}
	return ""
}

// zlibHeader checks RFC 1950's two header bytes: deflate with a window of
// at most 32 KiB, no preset dictionary, and the check bits.
func zlibHeader(h []byte) bool {
	if len(h) < 2 {
		return false
	}
	cmf, flg := h[0], h[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && flg&0x20 == 0 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// lzmaHeader checks the 13-byte header of an .lzma ("alone") stream:
// properties lc+lp*9+pb*45 below 225 with lc+lp <= 4 as liblzma writes,
// a dictionary size liblzma would write (2^n or 2^n+2^(n-1)), and an
// unpacked size that is either unknown (all ones) or plausible.
func lzmaHeader(h []byte) bool {
	if len(h) < 13 || h[0] >= 225 {
		return false
	}
	props := int(h[0])
	lc, lp := props%9, (props/9)%5
	if lc+lp > 4 {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:])
	if dict < 1<<12 {
		return false
	}
	ok := false
	for n := 12; n < 32; n++ {
		if dict == 1<<n || dict == 1<<n|1<<(n-1) {
			ok = true
			break
		}
	}
	size := binary.LittleEndian.Uint64(h[5:])
	// The range coder's first output byte is always 0, so a real stream's
	// data starts with one (when the head reaches that far).
	if len(h) > 13 && h[13] != 0 {
		return false
	}
	return ok && (size == ^uint64(0) || size < 1<<48)
}

// NewReader returns a decompressing reader for codec over r. Readers that
// can be told a memory bound are: dictionaries and windows beyond
// MaxDictionary are refused.
func NewReader(c Codec, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case Zlib:
		return zlib.NewReader(r)
	case ZFile:
		if _, err := io.CopyN(io.Discard, r, zfileHeader); err != nil {
			return nil, err
		}
		return zlib.NewReader(r)
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case XZ:
		br := bufio.NewReader(r)
		if err := checkXZDictionary(br); err != nil {
			return nil, err
		}
		xr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(br) // the stream's own dictionary size applies
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case LZMA:
		// The library allocates DictCap when it exceeds the header's own
		// size, so ask for exactly what the header asks for, after
		// checking it against the bound.
		br := bufio.NewReader(r)
		h, err := br.Peek(13)
		if err != nil {
			return nil, fmt.Errorf("lzma: header: %w", err)
		}
		dict := int64(binary.LittleEndian.Uint32(h[1:5]))
		if dict > MaxDictionary {
			return nil, fmt.Errorf("lzma: dictionary of %d bytes is over the %d-byte limit", dict, MaxDictionary)
		}
		lr, err := lzma.ReaderConfig{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(lr), nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxDictionary))
		if err != nil {
			return nil, err
		}
		return zstdCloser{zr}, nil
	case LZ4:
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("archive: unknown codec %q", c)
}

// NewDeflateReader returns a raw deflate reader (zip method 8).
func NewDeflateReader(r io.Reader) io.ReadCloser { return flate.NewReader(r) }

type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Read(p []byte) (int, error) { return z.d.Read(p) }
func (z zstdCloser) Close() error               { z.d.Close(); return nil }

// checkXZDictionary peeks at the first block header of an xz stream and
// refuses an LZMA2 dictionary beyond MaxDictionary: the decoder would
// allocate whatever the header asks for.
func checkXZDictionary(br *bufio.Reader) error {
	h, err := br.Peek(12 + 1024)
	if err != nil && len(h) < 13 {
		return nil // too short to hold a block: the decoder reports it
	}
	b := h[12:]
	size := (int(b[0]) + 1) * 4
	if b[0] == 0 || size > len(b) {
		return nil // the index follows at once, or the header is malformed
	}
	b = b[:size]
	flags := b[1]
	i := 2
	varint := func() (uint64, bool) {
		var v uint64
		for s := 0; s < 63 && i < len(b); s += 7 {
			c := b[i]
			i++
			v |= uint64(c&0x7f) << s
			if c < 0x80 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, ok1 := varint()
		n, ok2 := varint()
		if !ok1 || !ok2 || uint64(i)+n > uint64(len(b)) {
			return nil
		}
		if id == 0x21 && n == 1 {
			code := b[i]
			if code > 40 {
				return errors.New("xz: invalid LZMA2 dictionary size")
			}
			dict := uint64(2|code&1) << (code/2 + 11)
			if code == 40 || dict > MaxDictionary {
				return fmt.Errorf("xz: the stream asks for a %d-byte dictionary, over the %d-byte limit", dict, MaxDictionary)
			}
		}
		i += int(n)
	}
	return nil
}
