package convert

import (
	"bufio"
	"context"
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

// runs calls fn for every run of bytes of a copy, in the order of ds
// (outermost first): src and dst are byte offsets, n the run's length.
// An innermost dimension that is contiguous on both sides is one run.
func runs(ctx context.Context, ds []dim, el int64, fn func(src, dst, n int64) error) error {
	if len(ds) == 0 {
		return fn(0, 0, el)
	}
	inner := ds[len(ds)-1]
	outer := ds[:len(ds)-1]
	runLen, runs := el, inner.size
	if inner.src == el && inner.dst == el {
		runLen, runs = el*inner.size, 1
	}
	idx := make([]int64, len(outer))
	var src, dst int64
	for step := 0; ; step++ {
		if step&0xFFF == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		s, d := src, dst
		for k := int64(0); k < runs; k++ {
			if err := fn(s, d, runLen); err != nil {
				return err
			}
			s += inner.src
			d += inner.dst
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

// contiguousRange is where a contiguous view's bytes are in its storage.
func (t *tensorRef) contiguousRange() (off, n int64) {
	return t.Offset * t.ElemSize, t.Bytes()
}

// gathered returns a reader of a strided view's bytes in output order.
// Closing it stops the work.
func gathered(ctx context.Context, t *tensorRef, reg *region) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, copyChunk)
		err := gather(ctx, t, reg, bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// gather writes a strided view's bytes in output order to w.
func gather(ctx context.Context, t *tensorRef, reg *region, w io.Writer) error {
	return gatherWithin(ctx, t, reg, w, spanBudgetMin, gatherWindow)
}

// gatherWithin is gather with its memory budgets as parameters (tests
// make them small).
func gatherWithin(ctx context.Context, t *tensorRef, reg *region, w io.Writer, spanBudget, window int64) error {
	if t.Numel() == 0 {
		return nil
	}
	start, end := t.span()
	if end > reg.size {
		return fmt.Errorf("the view reaches byte %d of a %d-byte storage", end, reg.size)
	}
	ds := t.dims()
	base := t.Offset * t.ElemSize
	if end-start <= max(spanBudget, t.Bytes()) {
		span := make([]byte, end-start)
		if err := readFull(ctx, reg.r, span, reg.off+start); err != nil {
			return err
		}
		return runs(ctx, ds, t.ElemSize, func(src, _, n int64) error {
			at := base - start + src
			_, err := w.Write(span[at : at+n])
			return err
		})
	}
	// Sparse in a large storage: walk the storage in order through a
	// window, placing each element where the output wants it.
	out := make([]byte, t.Bytes())
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
	win := make([]byte, min(window, end-start))
	winStart, winEnd := int64(-1), int64(-1)
	err := runs(ctx, order, t.ElemSize, func(src, dst, n int64) error {
		at := base + src
		if n > int64(len(win)) {
			return readFull(ctx, reg.r, out[dst:dst+n], reg.off+at)
		}
		if at < winStart || at+n > winEnd {
			winStart = at
			winEnd = min(at+int64(len(win)), end)
			if err := readFull(ctx, reg.r, win[:winEnd-winStart], reg.off+winStart); err != nil {
				return err
			}
		}
		copy(out[dst:dst+n], win[at-winStart:at-winStart+n])
		return nil
	})
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
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
