package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	"modelgate/internal/limits"
)

// TarEntry is one tar member. For a regular file whose data is stored as
// is, DataOffset locates it in the archive; sparse files must be read
// through Reader.
type TarEntry struct {
	Header *tar.Header
	// HeaderOffset is where the member's first header block starts.
	HeaderOffset int64
	// DataOffset is where the data starts, or -1 for sparse files.
	DataOffset int64
	// Reader reads the member's logical content (valid in the callback).
	Reader io.Reader
}

// TarResult summarises a walk.
type TarResult struct {
	Entries int
	// End is the offset after the end-of-archive marker (or after the last
	// member when the marker is missing).
	End int64
	// Trailing reports non-zero bytes after End.
	Trailing bool
}

// LooksLikeTar reports a tar header block: a valid header checksum and a
// POSIX or GNU magic, or a v7 header with a plausible name and mode.
func LooksLikeTar(head []byte) bool {
	if len(head) < 512 {
		return false
	}
	b := head[:512]
	want, ok := octal(b[148:156])
	if !ok {
		return false
	}
	var unsigned, signed int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	if want != unsigned && want != signed {
		return false
	}
	magic := b[257:265]
	if bytes.HasPrefix(magic, []byte("ustar\x00")) || bytes.Equal(magic, []byte("ustar  \x00")) {
		return true
	}
	// v7: no magic; demand a name and an octal mode.
	if b[0] == 0 {
		return false
	}
	_, ok = octal(b[100:108])
	return ok
}

func octal(b []byte) (int64, bool) {
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 8, 64)
	return v, err == nil
}

// posReader is the archive as a seekable stream whose position is known:
// archive/tar seeks over member data, so nothing unread is read.
type posReader struct {
	sr *io.SectionReader
}

func (p *posReader) Read(b []byte) (int, error) { return p.sr.Read(b) }
func (p *posReader) Seek(off int64, whence int) (int64, error) {
	return p.sr.Seek(off, whence)
}
func (p *posReader) pos() int64 { n, _ := p.sr.Seek(0, io.SeekCurrent); return n }

// WalkTar calls fn for each member of the tar archive in size bytes of r,
// in order, reading headers only (data is skipped by seeking unless fn
// reads it). At most maxEntries members are walked.
func WalkTar(ctx context.Context, r io.ReaderAt, size int64, maxEntries int, fn func(*TarEntry) error) (TarResult, error) {
	pr := &posReader{sr: io.NewSectionReader(r, 0, size)}
	tr := tar.NewReader(pr)
	var res TarResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		start := pr.pos()
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			res.End = pr.pos()
			if res.End == start && start < size {
				// archive/tar stops at the first zero block; the marker is
				// two blocks, padding follows.
				res.End = min(start+1024, size)
			}
			res.Trailing = nonZeroAfter(r, res.End, size)
			return res, nil
		}
		if err != nil {
			res.End = start
			return res, &FormatError{Off: start, Msg: "tar: " + err.Error()}
		}
		if res.Entries >= maxEntries {
			return res, limits.Exceeded("MaxMembers", int64(res.Entries)+1, int64(maxEntries), start)
		}
		res.Entries++
		e := &TarEntry{Header: hdr, HeaderOffset: start, DataOffset: pr.pos(), Reader: tr}
		if isSparse(hdr) {
			e.DataOffset = -1
		}
		if err := fn(e); err != nil {
			return res, err
		}
	}
}

func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// nonZeroAfter reports a non-zero byte in [from, size), reading at most
// 1 MiB: tar files end in zero padding, anything else was appended.
func nonZeroAfter(r io.ReaderAt, from, size int64) bool {
	buf := make([]byte, 64<<10)
	for off := from; off < size && off < from+(1<<20); off += int64(len(buf)) {
		n, _ := r.ReadAt(buf, off)
		if n == 0 {
			return false
		}
		for _, c := range buf[:n] {
			if c != 0 {
				return true
			}
		}
	}
	return false
}
