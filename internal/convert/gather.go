package convert

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Sizes that bound the memory a strided copy uses.
const (
	// spanBudgetMin: a view whose storage span is at most
	// max(spanBudgetMin, its own size) is read whole and gathered in
	// output order; its output streams in copyChunk pieces.
	spanBudgetMin = 64 << 20
	// gatherWindow is the source window of a view sparser than that: its
	// output is assembled in memory (its own size) from the storage
	// read in windows, in storage order.
	gatherWindow = 16 << 20
	copyChunk    = 1 << 20
)

// dim is one dimension of a copy: its size and its strides in bytes in
// the source and in the contiguous output.
type dim struct{ size, src, dst int64 }

// dims returns a view's dimensions in output order with size-1
// dimensions dropped and dimensions that run on from the next merged
// (the usual coalescing), innermost last.
func (t *tensorRef) dims() []dim {
	var ds []dim
	dst := t.ElemSize
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] == 1 {
			continue
		}
		d := dim{size: t.Shape[i], src: t.Stride[i] * t.ElemSize, dst: dst}
		dst *= t.Shape[i]
		if n := len(ds); n > 0 && ds[n-1].src*ds[n-1].size == d.src && ds[n-1].dst*ds[n-1].size == d.dst {
			ds[n-1].size *= d.size
			continue
		}
		ds = append(ds, d)
	}
	slices.Reverse(ds)
	return ds
}

// row is the innermost dimension of a copy at one outer index: count
// elements starting at src and dst, srcStep and dstStep bytes apart.
type row struct{ src, dst, srcStep, dstStep, count int64 }

// rows calls fn for every innermost row of a copy, the outer dimensions
// in the order of ds (outermost first). A view without dimensions is one
// row of one element.
func rows(ctx context.Context, ds []dim, el int64, fn func(row) error) error {
	if len(ds) == 0 {
		return fn(row{count: 1, srcStep: el, dstStep: el})
	}
	inner := ds[len(ds)-1]
	outer := ds[:len(ds)-1]
	idx := make([]int64, len(outer))
	var src, dst int64
	for step := 0; ; step++ {
		if step&0xFF == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(row{src, dst, inner.src, inner.dst, inner.size}); err != nil {
			return err
		}
		// Advance the outer index like an odometer.
		i := len(outer) - 1
		for ; i >= 0; i-- {
			idx[i]++
			src += outer[i].src
			dst += outer[i].dst
			if idx[i] < outer[i].size {
				break
			}
			src -= outer[i].src * outer[i].size
			dst -= outer[i].dst * outer[i].size
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// gatherRow copies a row's elements from src (the bytes the row's source
// offsets index) into dst, which the row's destination offsets index.
// The common shapes get tight loops: a contiguous run is one copy, a
// repeated element (stride 0) doubles what is already copied.
func gatherRow(dst, src []byte, r row, el int64) {
	switch {
	case r.srcStep == el && r.dstStep == el:
		n := r.count * el
		copy(dst[r.dst:r.dst+n], src[r.src:r.src+n])
	case r.srcStep == 0 && r.dstStep == el:
		n := r.count * el
		out := dst[r.dst : r.dst+n]
		done := copy(out, src[r.src:r.src+el])
		for done < len(out) {
			done += copy(out[done:], out[:done])
		}
	case el == 1:
		s, d := r.src, r.dst
		for k := int64(0); k < r.count; k++ {
			dst[d] = src[s]
			s += r.srcStep
			d += r.dstStep
		}
	case el == 2:
		s, d := r.src, r.dst
		for k := int64(0); k < r.count; k++ {
			binary.LittleEndian.PutUint16(dst[d:], binary.LittleEndian.Uint16(src[s:]))
			s += r.srcStep
			d += r.dstStep
		}
	case el == 4:
		s, d := r.src, r.dst
		for k := int64(0); k < r.count; k++ {
			binary.LittleEndian.PutUint32(dst[d:], binary.LittleEndian.Uint32(src[s:]))
			s += r.srcStep
			d += r.dstStep
		}
	case el == 8:
		s, d := r.src, r.dst
		for k := int64(0); k < r.count; k++ {
			binary.LittleEndian.PutUint64(dst[d:], binary.LittleEndian.Uint64(src[s:]))
			s += r.srcStep
			d += r.dstStep
		}
	default:
		s, d := r.src, r.dst
		for k := int64(0); k < r.count; k++ {
			copy(dst[d:d+el], src[s:s+el])
			s += r.srcStep
			d += r.dstStep
		}
	}
}

// contiguousRange is where a contiguous view's bytes are in its storage.
func (t *tensorRef) contiguousRange() (off, n int64) {
	return t.Offset * t.ElemSize, t.Bytes()
}

// scratch is the memory of one gather at a time, reused from one view
// to the next so that a run of large strided views does not leave a trail
// of garbage for the collector to catch up with. A nil *scratch
// allocates afresh.
type scratch struct {
	span, block, chunk []byte
	bw                 *bufio.Writer
}

// take returns n bytes of *b, growing it if needed (contents not cleared).
func take(b *[]byte, n int64) []byte {
	if int64(cap(*b)) < n {
		*b = nil // let the old one go before the new one is made
		*b = make([]byte, n)
	}
	return (*b)[:n]
}

func (s *scratch) get(which func(*scratch) *[]byte, n int64) []byte {
	if s == nil {
		return make([]byte, n)
	}
	return take(which(s), n)
}

func spanBuf(s *scratch) *[]byte  { return &s.span }
func blockBuf(s *scratch) *[]byte { return &s.block }
func chunkBuf(s *scratch) *[]byte { return &s.chunk }

// writer returns a buffered writer to w.
func (s *scratch) writer(w io.Writer) *bufio.Writer {
	if s == nil {
		return bufio.NewWriterSize(w, copyChunk)
	}
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(w, copyChunk)
	}
	s.bw.Reset(w)
	return s.bw
}

// gathered returns a reader of a strided view's bytes in output order.
// Close stops the work and returns once sc is no longer in use.
func gathered(ctx context.Context, t *tensorRef, reg *region, sc *scratch) io.ReadCloser {
	pr, pw := io.Pipe()
	g := &gatherReader{PipeReader: pr, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		bw := sc.writer(pw)
		err := gatherWithin(ctx, t, reg, bw, spanBudgetMin, gatherWindow, sc)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return g
}

type gatherReader struct {
	*io.PipeReader
	done chan struct{}
}

func (g *gatherReader) Close() error {
	err := g.PipeReader.Close()
	<-g.done
	return err
}

// gather writes a strided view's bytes in output order to w.
func gather(ctx context.Context, t *tensorRef, reg *region, w io.Writer) error {
	return gatherWithin(ctx, t, reg, w, spanBudgetMin, gatherWindow, nil)
}

// gatherWithin is gather with its memory budgets as parameters (tests
// make them small).
func gatherWithin(ctx context.Context, t *tensorRef, reg *region, w io.Writer, spanBudget, window int64, sc *scratch) error {
	if t.Numel() == 0 {
		return nil
	}
	start, end := t.span()
	if end > reg.size {
		return fmt.Errorf("the view reaches byte %d of a %d-byte storage", end, reg.size)
	}
	ds := t.dims()
	base := t.Offset * t.ElemSize
	el := t.ElemSize
	if end-start <= max(spanBudget, t.Bytes()) {
		span := sc.get(spanBuf, end-start)
		if err := readFull(ctx, reg.r, span, reg.off+start); err != nil {
			return err
		}
		if n := len(ds); n >= 2 && ds[n-2].src < ds[n-1].src && ds[n-1].size >= 16 {
			return gatherBlocked(ctx, ds, el, span, base-start, w, sc)
		}
		// Output order: rows come out contiguous; gather them into a
		// chunk and write it when full (a row longer than the chunk is
		// split).
		chunk := sc.get(chunkBuf, max(copyChunk, el))
		fill := int64(0)
		flush := func() error {
			_, err := w.Write(chunk[:fill])
			fill = 0
			return err
		}
		err := rows(ctx, ds, el, func(r row) error {
			r.src += base - start
			for r.count > 0 {
				if fill+el > int64(len(chunk)) {
					if err := flush(); err != nil {
						return err
					}
				}
				part := r
				part.count = min(r.count, (int64(len(chunk))-fill)/el)
				part.dst = fill
				gatherRow(chunk, span, part, el)
				fill += part.count * el
				r.count -= part.count
				r.src += part.count * r.srcStep
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	}
	// Sparse in a large storage: walk the storage in order through a
	// window, placing each element where the output wants it.
	out := sc.get(spanBuf, t.Bytes())
	order := slices.Clone(ds)
	slices.SortStableFunc(order, func(a, b dim) int {
		switch {
		case a.src > b.src:
			return -1
		case a.src < b.src:
			return 1
		}
		return 0
	})
	win := sc.get(blockBuf, max(min(window, end-start), el))
	winStart, winEnd := int64(-1), int64(-1)
	load := func(at int64) error {
		winStart = at
		winEnd = min(at+int64(len(win)), end)
		return readFull(ctx, reg.r, win[:winEnd-winStart], reg.off+winStart)
	}
	err := rows(ctx, order, el, func(r row) error {
		for r.count > 0 {
			at := base + r.src
			if at < winStart || at+el > winEnd {
				if err := load(at); err != nil {
					return err
				}
			}
			// The elements of the row that lie in the window.
			part := r
			part.src = at - winStart
			if r.srcStep > 0 {
				part.count = min(r.count, (winEnd-at-el)/r.srcStep+1)
			}
			gatherRow(out, win, part, el)
			r.count -= part.count
			r.src += part.count * r.srcStep
			r.dst += part.count * r.dstStep
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// blockRows is how many output rows gatherBlocked fills together, at
// most; blockBytes bounds their buffer.
const (
	blockRows  = 64
	blockBytes = 4 << 20
)

// gatherBlocked gathers a view whose innermost output dimension strides
// further through the source than the one outside it (a transposed
// matrix): output rows are filled blockRows at a time, column by column,
// so that each source cache line is read once for all the rows it
// serves instead of once per row.
func gatherBlocked(ctx context.Context, ds []dim, el int64, span []byte, base int64, w io.Writer, sc *scratch) error {
	n := len(ds)
	outer, o, inner := ds[:n-2], ds[n-2], ds[n-1]
	rowBytes := inner.size * el
	// Rows sit a little more than a row apart in the buffer: at a
	// power-of-two distance they would compete for the same cache sets.
	pitch := rowBytes + 64
	nb := max(1, min(blockRows, blockBytes/pitch))
	buf := sc.get(blockBuf, nb*pitch)
	return rows(ctx, append(slices.Clone(outer), dim{size: 1}), el, func(r row) error {
		for i0 := int64(0); i0 < o.size; i0 += nb {
			if err := ctx.Err(); err != nil {
				return err
			}
			nr := min(nb, o.size-i0)
			first := base + r.src + i0*o.src
			for k := int64(0); k < inner.size; k++ {
				col := row{src: first + k*inner.src, dst: k * el, srcStep: o.src, dstStep: pitch, count: nr}
				gatherRow(buf, span, col, el)
			}
			for i := range nr {
				if _, err := w.Write(buf[i*pitch : i*pitch+rowBytes]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// readFull reads len(p) bytes at off, in pieces so that a cancelled
// context stops a long read.
func readFull(ctx context.Context, r io.ReaderAt, p []byte, off int64) error {
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(p), 64<<20)
		got, err := r.ReadAt(p[:n], off)
		if got == n {
			err = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}
