// Package archive reads containers and compressed streams the way lenient
// loaders do, within limits: a zip central-directory reader that ignores
// what PyTorch's miniz reader ignores (CRCs, flag bits, a local header name
// that disagrees with the central directory) and reports it instead, a tar
// walker that hands out members as offsets into the archive, a guarded 7z
// reader, and decompressors that stop at a size or ratio limit and keep
// large output in an unlinked temporary file instead of memory.
//
// It knows nothing about findings or analyzers: anomalies are returned as
// data for the caller to report.
package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/limits"
)

// Zip signatures and fixed sizes (APPNOTE.TXT 4.3).
const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigEnd64Loc   = 0x07064b50
	localLen      = 30
	centralLen    = 46
	endLen        = 22
	end64Len      = 56
	end64LocLen   = 20
	maxCommentLen = 0xffff
)

// Zip compression methods the reader can decompress.
const (
	MethodStore   = 0
	MethodDeflate = 8
	MethodBzip2   = 12
	MethodLZMA    = 14
	MethodZstd    = 93
	MethodXZ      = 95
)

// FlagEncrypted is general-purpose bit 0. PyTorch's reader ignores it.
const FlagEncrypted = 0x1

// MaxDirectoryBytes bounds the names, extras and comments kept from one
// central directory, whatever the entry count says.
const MaxDirectoryBytes = 64 << 20

// ErrNotZip is returned by OpenZip when no end-of-central-directory record
// is found.
var ErrNotZip = errors.New("not a zip archive")

// FormatError is a malformed archive at a byte offset.
type FormatError struct {
	Off int64
	Msg string
}

func (e *FormatError) Error() string { return fmt.Sprintf("offset %d: %s", e.Off, e.Msg) }

func formatErr(off int64, format string, a ...any) error {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, a...)}
}

// Zip is a zip archive's central directory.
type Zip struct {
	r    io.ReaderAt
	size int64
	// Entries lists the central directory in file order.
	Entries []*ZipEntry
	// Base is how many bytes precede the archive when its offsets are
	// relative to its own start (a self-extracting prefix, or a zip
	// appended to another file); offsets in entries are already absolute.
	Base int64
	// Start is the lowest local header offset: bytes before it are not
	// part of any member.
	Start int64
	// DirOffset and DirEnd bound the central directory (absolute).
	DirOffset, DirEnd int64
	// EndOffset is where the end-of-central-directory record starts.
	EndOffset int64
	Zip64     bool
	Comment   string
	// Announced is the entry count the end record claims.
	Announced uint64
}

// ZipEntry is one central directory record.
type ZipEntry struct {
	Name             string
	Method           uint16
	Flags            uint16
	CRC32            uint32
	CompressedSize   int64
	UncompressedSize int64
	// HeaderOffset is the absolute offset of the local header.
	HeaderOffset  int64
	ExternalAttrs uint32
	// CreatorOS is the high byte of "version made by" (3 = Unix).
	CreatorOS byte
	// DirOffset is the absolute offset of the central directory record.
	DirOffset int64
}

// IsDir reports a directory entry (a name ending in a slash).
func (e *ZipEntry) IsDir() bool {
	return strings.HasSuffix(e.Name, "/") || strings.HasSuffix(e.Name, "\\")
}

// IsSymlink reports a Unix symbolic link entry: its content is the target.
func (e *ZipEntry) IsSymlink() bool {
	return e.CreatorOS == 3 && (e.ExternalAttrs>>16)&0o170000 == 0o120000
}

// LocalHeader is what the local header before a member's data says.
type LocalHeader struct {
	Name           string
	Flags, Method  uint16
	CRC32          uint32
	DataOffset     int64
	CompressedSize int64 // as written there (zero with a data descriptor)
}

// OpenZip reads the central directory of a zip archive in size bytes of r.
// At most maxEntries entries are read; beyond that it returns the entries
// read and a limits error.
func OpenZip(r io.ReaderAt, size int64, maxEntries int) (*Zip, error) {
	endOff, end, err := findEnd(r, size)
	if err != nil {
		return nil, err
	}
	z := &Zip{r: r, size: size, EndOffset: endOff}
	count := uint64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOff := uint64(binary.LittleEndian.Uint32(end[16:]))
	if n := int(binary.LittleEndian.Uint16(end[20:])); n > 0 {
		c := make([]byte, min(n, int(size-endOff-endLen)))
		if _, err := r.ReadAt(c, endOff+endLen); err == nil {
			z.Comment = string(c)
		}
	}
	dirEndAt := endOff // where the directory would end if contiguous
	if locOff := endOff - end64LocLen; locOff >= 0 {
		var loc [end64LocLen]byte
		if _, err := r.ReadAt(loc[:], locOff); err == nil && binary.LittleEndian.Uint32(loc[:]) == sigEnd64Loc {
			off64 := binary.LittleEndian.Uint64(loc[8:])
			var rec [end64Len]byte
			at, ok := zip64End(r, size, int64(min(off64, uint64(size))), locOff, rec[:])
			if ok {
				z.Zip64 = true
				count = binary.LittleEndian.Uint64(rec[32:])
				dirSize = binary.LittleEndian.Uint64(rec[40:])
				dirOff = binary.LittleEndian.Uint64(rec[48:])
				dirEndAt = at
			}
		}
	}
	z.Announced = count
	if dirSize > uint64(size) || dirOff > uint64(size) {
		return nil, formatErr(endOff, "central directory (%d bytes at %d) lies outside the %d-byte file", dirSize, dirOff, size)
	}
	// Offsets are absolute (as miniz reads them) or relative to the start
	// of an archive appended to other bytes (as Python's zipfile allows).
	base := int64(0)
	if !sigAt(r, int64(dirOff), sigCentral) {
		if concat := dirEndAt - int64(dirSize) - int64(dirOff); concat > 0 && sigAt(r, int64(dirOff)+concat, sigCentral) {
			base = concat
		} else if count > 0 {
			return nil, formatErr(int64(dirOff), "no central directory record where the end record points")
		}
	}
	z.Base = base
	z.DirOffset = int64(dirOff) + base
	z.DirEnd = min(z.DirOffset+int64(dirSize), size)
	if err := z.readDirectory(count, maxEntries); err != nil {
		return z, err
	}
	if len(z.Entries) == 0 {
		z.Start = z.EndOffset // everything before the end record is outside the archive
	}
	return z, nil
}

// zip64End locates the zip64 end record: where the locator says, or just
// before the locator when the archive has a prefix.
func zip64End(r io.ReaderAt, size, off, locOff int64, rec []byte) (int64, bool) {
	for _, at := range []int64{off, locOff - end64Len} {
		if at < 0 || at+end64Len > size {
			continue
		}
		if _, err := r.ReadAt(rec, at); err == nil && binary.LittleEndian.Uint32(rec) == sigEnd64 {
			return at, true
		}
	}
	return 0, false
}

func sigAt(r io.ReaderAt, off int64, sig uint32) bool {
	var b [4]byte
	if off < 0 {
		return false
	}
	if _, err := r.ReadAt(b[:], off); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(b[:]) == sig
}

// findEnd finds the last end-of-central-directory record in the final
// 64 KiB + 22 bytes, as miniz and zipfile both search backwards.
func findEnd(r io.ReaderAt, size int64) (int64, []byte, error) {
	if size < endLen {
		return 0, nil, ErrNotZip
	}
	n := min(size, int64(endLen+maxCommentLen))
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	for i := len(buf) - endLen; i >= 0; i-- {
		if buf[i] != 'P' || buf[i+1] != 'K' || buf[i+2] != 5 || buf[i+3] != 6 {
			continue
		}
		rec := buf[i : i+endLen]
		disk := binary.LittleEndian.Uint16(rec[4:])
		cdDisk := binary.LittleEndian.Uint16(rec[6:])
		if disk != cdDisk && disk != 0xffff {
			continue // a multi-disk archive, or a stray signature
		}
		return size - n + int64(i), bytes.Clone(rec), nil
	}
	return 0, nil, ErrNotZip
}

// LooksLikeZip is a cheap test for Match: an end record near the end of
// the content (tail is the probe's last bytes) whose directory offset
// points at a central directory record.
func LooksLikeZip(r io.ReaderAt, size int64, tail []byte) bool {
	if size < endLen {
		return false
	}
	sig := []byte("PK\x05\x06")
	if !bytes.Contains(tail, sig) {
		// The record can start up to 21 bytes before a 64 KiB tail when
		// the comment has the maximum length.
		reach := int64(endLen + maxCommentLen)
		if size <= int64(len(tail)) || int64(len(tail)) >= reach {
			return false
		}
		extra := make([]byte, min(reach, size)-int64(len(tail))+3)
		n, _ := r.ReadAt(extra, size-min(reach, size))
		if !bytes.Contains(extra[:n], sig) {
			return false
		}
	}
	// An archive without entries is not claimed: four signature bytes and
	// zeros appended to a pickle must not turn it into an empty zip.
	z, err := OpenZip(r, size, 1)
	return z != nil && len(z.Entries) > 0 && (err == nil || errors.Is(err, limits.ErrLimit))
}

// dirReader reads the central directory sequentially through a buffer.
type dirReader struct {
	br  *bufio.Reader
	off int64
}

func (d *dirReader) read(b []byte) error {
	n, err := io.ReadFull(d.br, b)
	d.off += int64(n)
	return err
}

func (z *Zip) readDirectory(count uint64, maxEntries int) error {
	n := z.DirEnd - z.DirOffset
	dr := &dirReader{br: bufio.NewReaderSize(io.NewSectionReader(z.r, z.DirOffset, n), int(min(64<<10, max(n, 16)))), off: z.DirOffset}
	var fixed [centralLen]byte
	kept := 0
	z.Start = z.DirOffset
	// Read every record the directory's size covers, as zipfile does;
	// miniz trusts the announced count instead. The caller compares the two.
	for {
		at := dr.off
		if z.DirEnd-at < centralLen {
			if len(z.Entries) == 0 && count > 0 {
				return formatErr(at, "central directory announces %d entries but holds none", count)
			}
			break
		}
		if err := dr.read(fixed[:]); err != nil {
			return fmt.Errorf("reading central directory at %d: %w", at, err)
		}
		if binary.LittleEndian.Uint32(fixed[:]) != sigCentral {
			if len(z.Entries) == 0 {
				return formatErr(at, "bad central directory signature")
			}
			break
		}
		if len(z.Entries) >= maxEntries {
			return limits.Exceeded("MaxMembers", int64(max(count, uint64(len(z.Entries)+1))), int64(maxEntries), at)
		}
		nameLen := int(binary.LittleEndian.Uint16(fixed[28:]))
		extraLen := int(binary.LittleEndian.Uint16(fixed[30:]))
		commentLen := int(binary.LittleEndian.Uint16(fixed[32:]))
		if int64(nameLen+extraLen+commentLen) > z.DirEnd-dr.off {
			return formatErr(at, "central directory record runs past the directory end")
		}
		kept += nameLen + extraLen
		if kept > MaxDirectoryBytes {
			return limits.Exceeded("ZipDirectoryBytes", int64(kept), MaxDirectoryBytes, at)
		}
		varPart := make([]byte, nameLen+extraLen)
		if err := dr.read(varPart); err != nil {
			return fmt.Errorf("reading central directory at %d: %w", at, err)
		}
		if _, err := dr.br.Discard(commentLen); err != nil {
			return fmt.Errorf("reading central directory at %d: %w", at, err)
		}
		dr.off += int64(commentLen)
		e := &ZipEntry{
			Name:             string(varPart[:nameLen]),
			CreatorOS:        fixed[5],
			Flags:            binary.LittleEndian.Uint16(fixed[8:]),
			Method:           binary.LittleEndian.Uint16(fixed[10:]),
			CRC32:            binary.LittleEndian.Uint32(fixed[16:]),
			CompressedSize:   int64(binary.LittleEndian.Uint32(fixed[20:])),
			UncompressedSize: int64(binary.LittleEndian.Uint32(fixed[24:])),
			ExternalAttrs:    binary.LittleEndian.Uint32(fixed[38:]),
			HeaderOffset:     int64(binary.LittleEndian.Uint32(fixed[42:])),
			DirOffset:        at,
		}
		if err := applyZip64(e, varPart[nameLen:]); err != nil {
			return formatErr(at, "%s: %v", e.Name, err)
		}
		e.HeaderOffset += z.Base
		if e.HeaderOffset < 0 || e.HeaderOffset > z.size {
			return formatErr(at, "%q: local header offset %d lies outside the file", e.Name, e.HeaderOffset)
		}
		if e.HeaderOffset < z.Start {
			z.Start = e.HeaderOffset
		}
		z.Entries = append(z.Entries, e)
	}
	return nil
}

// applyZip64 reads the zip64 extended information extra field: 64-bit
// values for the 32-bit fields that are all ones, in a fixed order.
func applyZip64(e *ZipEntry, extra []byte) error {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return nil // a truncated extra field: miniz ignores the rest
		}
		field := extra[:n]
		extra = extra[n:]
		if id != 0x0001 {
			continue
		}
		next := func(v *int64) error {
			if len(field) < 8 {
				return errors.New("zip64 extra field is too short")
			}
			u := binary.LittleEndian.Uint64(field)
			if u > 1<<62 {
				return fmt.Errorf("zip64 size %d is impossible", u)
			}
			*v = int64(u)
			field = field[8:]
			return nil
		}
		if e.UncompressedSize == 0xffffffff {
			if err := next(&e.UncompressedSize); err != nil {
				return err
			}
		}
		if e.CompressedSize == 0xffffffff {
			if err := next(&e.CompressedSize); err != nil {
				return err
			}
		}
		if e.HeaderOffset == 0xffffffff {
			if err := next(&e.HeaderOffset); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// LocalHeader reads the local header of an entry. The data starts after the
// local header's own name and extra field, whose lengths may differ from
// the central directory's (PyTorch's reader computes the offset this way).
func (z *Zip) LocalHeader(e *ZipEntry) (*LocalHeader, error) {
	var b [localLen]byte
	if e.HeaderOffset+localLen > z.size {
		return nil, formatErr(e.HeaderOffset, "%q: local header lies past the end of the file", e.Name)
	}
	if _, err := z.r.ReadAt(b[:], e.HeaderOffset); err != nil {
		return nil, fmt.Errorf("reading local header of %q: %w", e.Name, err)
	}
	if binary.LittleEndian.Uint32(b[:]) != sigLocal {
		return nil, formatErr(e.HeaderOffset, "%q: no local header signature where the central directory points", e.Name)
	}
	nameLen := int64(binary.LittleEndian.Uint16(b[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(b[28:]))
	h := &LocalHeader{
		Flags:          binary.LittleEndian.Uint16(b[6:]),
		Method:         binary.LittleEndian.Uint16(b[8:]),
		CRC32:          binary.LittleEndian.Uint32(b[14:]),
		CompressedSize: int64(binary.LittleEndian.Uint32(b[18:])),
		DataOffset:     e.HeaderOffset + localLen + nameLen + extraLen,
	}
	name := make([]byte, min(nameLen, z.size-e.HeaderOffset-localLen))
	if _, err := z.r.ReadAt(name, e.HeaderOffset+localLen); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading local header of %q: %w", e.Name, err)
	}
	h.Name = string(name)
	if h.DataOffset > z.size || e.CompressedSize > z.size-h.DataOffset {
		return h, formatErr(e.HeaderOffset, "%q: %d bytes of data at %d run past the end of the file", e.Name, e.CompressedSize, h.DataOffset)
	}
	return h, nil
}

// Raw returns the stored (possibly compressed) bytes of an entry.
func (z *Zip) Raw(e *ZipEntry) (*io.SectionReader, *LocalHeader, error) {
	h, err := z.LocalHeader(e)
	if err != nil {
		return nil, h, err
	}
	return io.NewSectionReader(z.r, h.DataOffset, e.CompressedSize), h, nil
}
