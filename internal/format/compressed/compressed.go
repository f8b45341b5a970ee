// Package compressed analyzes single compressed streams (gzip, bzip2, xz,
// zstd, lz4, zlib and the legacy .lzma format): it decompresses them
// within the size and ratio limits, into memory or an unlinked temporary
// file beyond a threshold, and hands the content back to the scan, which
// detects what it is (a tar, a joblib pickle, a checkpoint…). Bytes after
// a gzip or zlib stream are reported and scanned as well.
package compressed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
)

// ChildName is the member name of decompressed content.
const ChildName = "decompressed"

// Analyzer decompresses one codec.
type Analyzer struct{ codec archive.Codec }

// New returns the analyzer of one codec.
func New(c archive.Codec) *Analyzer { return &Analyzer{codec: c} }

// Name implements format.Analyzer.
func (a *Analyzer) Name() string { return string(a.codec) }

// weak codecs have short magic numbers: Match also decodes a little.
// LZMA is weak too, but its header check (properties, a dictionary size
// of the form 2^n or 2^n+2^(n-1), a plausible length, the range coder's
// leading zero) is strict enough without a trial decode, which would
// allocate the whole dictionary the header asks for.
func (a *Analyzer) weak() bool {
	return a.codec == archive.Zlib || a.codec == archive.ZFile
}

// Match implements format.Analyzer.
func (a *Analyzer) Match(p *format.Probe) bool {
	if archive.Sniff(p.Head) != a.codec {
		return false
	}
	if !a.weak() {
		return true
	}
	rc, err := archive.NewReader(a.codec, bytes.NewReader(p.Head))
	if err != nil {
		return false
	}
	defer rc.Close()
	var b [16]byte
	n, err := io.ReadFull(rc, b[:])
	return n == len(b) || (n > 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && int64(len(p.Head)) == p.Size)
}

// Analyze implements format.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	rep := &container.Reporter{In: in, Out: out, Analyzer: string(a.codec)}
	cr := &countingReader{br: bufio.NewReaderSize(io.NewSectionReader(in.R, 0, in.Size), int(min(256<<10, max(in.Size, 16))))}
	var (
		src  io.ReadCloser
		err  error
		gz   *gzipChain
		zlib = a.codec == archive.Zlib || a.codec == archive.ZFile
	)
	if a.codec == archive.Gzip {
		gz, err = newGzipChain(cr)
		src = gz
	} else {
		src, err = archive.NewReader(a.codec, cr)
	}
	if err != nil {
		return &format.Error{Off: 0, Msg: fmt.Sprintf("%s: %v", a.codec, err)}
	}
	defer src.Close()
	b := container.Budget(in)
	b.Compressed = in.Size
	c, derr := archive.Materialize(ctx, src, b)
	defer c.Close()
	if !rep.Decompressed("", derr) {
		return derr
	}
	if c.Size() > 0 || derr == nil {
		if err := out.Child(ctx, ChildName, c, c.Size()); err != nil {
			return err
		}
	}
	if derr != nil {
		return nil
	}
	// Where the stream ended is exact for gzip and zlib, whose decoders
	// read the input byte by byte.
	end := int64(-1)
	switch {
	case gz != nil:
		end = gz.end
	case zlib:
		end = cr.n
	}
	if end >= 0 && end < in.Size && nonZero(in.R, end, in.Size) {
		n := in.Size - end
		rep.Report(finding.RuleArchiveExtraData, "", fmt.Sprintf("%d bytes follow the %s stream; they were scanned as %s-trailing", n, a.codec, a.codec), "", end)
		return out.Child(ctx, string(a.codec)+"-trailing", io.NewSectionReader(in.R, end, n), n)
	}
	return nil
}

// countingReader counts the bytes its consumers took.
type countingReader struct {
	br *bufio.Reader
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// gzipChain reads concatenated gzip members, as Python's gzip module
// does, and notes where the last member ended; zero padding between
// members is skipped.
type gzipChain struct {
	cr  *countingReader
	zr  *gzip.Reader
	end int64
}

func newGzipChain(cr *countingReader) (*gzipChain, error) {
	zr, err := gzip.NewReader(cr)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return &gzipChain{cr: cr, zr: zr}, nil
}

func (g *gzipChain) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if !errors.Is(err, io.EOF) {
			return n, err
		}
		g.end = g.cr.n
		for {
			b, perr := g.cr.br.Peek(1)
			if perr != nil || b[0] != 0 {
				break
			}
			g.cr.ReadByte()
		}
		if next, _ := g.cr.br.Peek(2); len(next) < 2 || next[0] != 0x1f || next[1] != 0x8b {
			return n, io.EOF
		}
		if err := g.zr.Reset(g.cr); err != nil {
			return n, err
		}
		g.zr.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

func (g *gzipChain) Close() error { return g.zr.Close() }

func nonZero(r io.ReaderAt, from, size int64) bool {
	buf := make([]byte, 32<<10)
	for off := from; off < size; off += int64(len(buf)) {
		n, _ := r.ReadAt(buf, off)
		if n == 0 {
			return false
		}
		if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 0 }) {
			return true
		}
		if off-from > 1<<20 {
			return true // a megabyte of zeros and more: report it
		}
	}
	return false
}
