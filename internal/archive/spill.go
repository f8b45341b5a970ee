package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Budget bounds one decompression.
type Budget struct {
	// MaxSize is the most bytes produced; beyond it the output stops.
	MaxSize int64
	// MaxRatio bounds output/Compressed once the output passes
	// RatioFloor (0: no ratio limit).
	MaxRatio int64
	// Compressed is the size of the compressed input, for the ratio.
	Compressed int64
	// RatioFloor is the output size below which the ratio is not judged:
	// small members of zeros compress far beyond any sane ratio.
	RatioFloor int64
	// InMemory is the output size kept in memory; beyond it the output
	// spills to an unlinked temporary file. Default DefaultInMemory.
	InMemory int64
	// TempDir is where spill files go ("" for the system default).
	TempDir string
}

// DefaultInMemory is how much decompressed output is kept in memory before
// it spills to a temporary file.
const DefaultInMemory = 32 << 20

// DefaultRatioFloor is the output size from which the ratio is judged.
const DefaultRatioFloor = 16 << 20

// BombError reports output stopped at a size or ratio limit. The content
// decompressed up to that point is still returned.
type BombError struct {
	Limit      string // "MaxMemberSize" or "MaxRatio"
	Produced   int64  // bytes produced when it stopped
	Compressed int64
	Max        int64
}

func (e *BombError) Error() string {
	if e.Limit == "MaxRatio" {
		return fmt.Sprintf("decompression stopped at %d bytes from %d compressed: the ratio passed %d:1", e.Produced, e.Compressed, e.Max)
	}
	return fmt.Sprintf("decompression stopped at the %d-byte limit (%d compressed bytes)", e.Max, e.Compressed)
}

// Content is decompressed output: in memory, or in an unlinked temporary
// file. Close releases it.
type Content struct {
	chunks [][]byte
	file   *os.File
	size   int64
}

const chunkSize = 1 << 20

// Size is the number of bytes held.
func (c *Content) Size() int64 { return c.size }

// ReadAt implements io.ReaderAt.
func (c *Content) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("archive: negative offset")
	}
	if off >= c.size {
		return 0, io.EOF
	}
	if c.file != nil {
		want := p
		if int64(len(p)) > c.size-off {
			want = p[:c.size-off]
		}
		n, err := c.file.ReadAt(want, off)
		if err == nil && n < len(p) {
			err = io.EOF
		}
		return n, err
	}
	n := 0
	for n < len(p) && off < c.size {
		ch := c.chunks[off/chunkSize]
		i := int(off % chunkSize)
		k := copy(p[n:], ch[i:i+int(min(int64(len(ch)-i), c.size-off))])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the memory or the temporary file.
func (c *Content) Close() error {
	c.chunks = nil
	if c.file != nil {
		err := c.file.Close()
		c.file = nil
		return err
	}
	return nil
}

// Materialize reads r to its end into a Content within the budget. When a
// limit stops it, it returns the content so far and a *BombError; other
// errors (corrupt data, I/O, cancellation) also come with the content read
// before them. The caller closes the content.
func Materialize(ctx context.Context, r io.Reader, b Budget) (*Content, error) {
	if b.InMemory <= 0 {
		b.InMemory = DefaultInMemory
	}
	if b.RatioFloor <= 0 {
		b.RatioFloor = DefaultRatioFloor
	}
	limit := max(b.MaxSize, 0)
	var ratioMax int64 = -1
	if b.MaxRatio > 0 && b.Compressed > 0 && b.Compressed <= (1<<62)/b.MaxRatio {
		ratioMax = max(b.Compressed*b.MaxRatio, b.RatioFloor)
		if ratioMax < limit {
			limit = ratioMax
		}
	}
	c := &Content{}
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		want := int64(len(buf))
		if room := limit - c.size + 1; room < want { // one byte more shows there is more
			want = room
		}
		if want <= 0 {
			want = 1
		}
		n, err := io.ReadFull(r, buf[:want])
		if n > 0 {
			keep := n
			if c.size+int64(n) > limit {
				keep = int(limit - c.size)
			}
			if werr := c.write(buf[:keep], b); werr != nil {
				return c, werr
			}
			if keep < n {
				be := &BombError{Limit: "MaxMemberSize", Produced: c.size, Compressed: b.Compressed, Max: b.MaxSize}
				if ratioMax >= 0 && limit == ratioMax {
					be.Limit, be.Max = "MaxRatio", b.MaxRatio
				}
				return c, be
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return c, nil
			}
			return c, err
		}
	}
}

func (c *Content) write(p []byte, b Budget) error {
	if c.file == nil && c.size+int64(len(p)) > b.InMemory {
		if err := c.spill(b.TempDir); err != nil {
			return err
		}
	}
	if c.file != nil {
		if _, err := c.file.WriteAt(p, c.size); err != nil {
			return fmt.Errorf("writing spill file: %w", err)
		}
		c.size += int64(len(p))
		return nil
	}
	// Chunk i holds bytes [i*chunkSize, (i+1)*chunkSize); the last one
	// grows as needed, so small members cost little.
	for len(p) > 0 {
		if c.size%chunkSize == 0 {
			c.chunks = append(c.chunks, make([]byte, 0, min(chunkSize, max(len(p), 4096))))
		}
		last := &c.chunks[len(c.chunks)-1]
		k := min(len(p), chunkSize-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		c.size += int64(k)
	}
	return nil
}

// spill moves the in-memory output to a temporary file, unlinked at once so
// that nothing is left behind whatever happens to the process.
func (c *Content) spill(dir string) error {
	f, err := os.CreateTemp(dir, "modelgate-spill-*")
	if err != nil {
		return fmt.Errorf("creating spill file: %w", err)
	}
	_ = os.Remove(f.Name())
	var off int64
	for _, ch := range c.chunks {
		n := min(int64(len(ch)), c.size-off)
		if _, err := f.WriteAt(ch[:n], off); err != nil {
			f.Close()
			return fmt.Errorf("writing spill file: %w", err)
		}
		off += n
	}
	c.chunks = nil
	c.file = f
	return nil
}
