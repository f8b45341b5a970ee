package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"modelgate/internal/safetensors"
)

// verifyChunk is the unit of the byte comparison.
const verifyChunk = 1 << 20

// compareAll compares each tensor written with its source, as they come.
func (j *job) compareAll(ctx context.Context, written <-chan safetensors.TensorInfo, dataOff int64) error {
	a := make([]byte, verifyChunk)
	b := make([]byte, verifyChunk)
	for ti := range written {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := io.NewSectionReader(j.tmp, dataOff+int64(ti.Begin), int64(ti.End-ti.Begin))
		if err := j.compare(ctx, ti.Name, out, a, b); err != nil {
			return err
		}
	}
	return nil
}

// checkHeader reads the finished file's header back: it must parse,
// validate cleanly and say exactly what was planned and compared, and
// the file must not double as a zip archive.
func (j *job) checkHeader(ctx context.Context, layout []safetensors.TensorInfo, dataOff int64) error {
	fi, err := j.tmp.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	h, err := safetensors.ReadHeader(ctx, j.tmp, size)
	if err != nil {
		return err
	}
	if ps := h.Validate(); len(ps) > 0 {
		return fmt.Errorf("the safetensors validator reports: %s", ps[0].Msg)
	}
	ps, err := safetensors.CheckPolyglot(j.tmp, size)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return &refusal{"the output would double as another format: " + ps[0].Msg}
	}
	if h.DataOffset != dataOff || len(h.Tensors) != len(layout) {
		return fmt.Errorf("the header holds %d tensors with data at %d; %d at %d were written", len(h.Tensors), h.DataOffset, len(layout), dataOff)
	}
	for i, got := range h.Tensors {
		want := layout[i]
		if got.Name != want.Name || got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || got.Begin != want.Begin || got.End != want.End {
			return fmt.Errorf("header entry %d is %q %s %v [%d,%d); %q %s %v [%d,%d) was planned", i,
				got.Name, got.DType, got.Shape, got.Begin, got.End, want.Name, want.DType, want.Shape, want.Begin, want.End)
		}
	}
	if !maps.Equal(h.Metadata, j.plan.metadata) {
		return fmt.Errorf("the metadata reads back as %v", h.Metadata)
	}
	return nil
}

// compare checks a tensor's written bytes against its source: the
// storage slice of a contiguous view, or the view gathered again.
func (j *job) compare(ctx context.Context, name string, out io.Reader, a, b []byte) error {
	t := j.plan.byName[name]
	reg, err := j.ck.region(ctx, t.Storage)
	if err != nil {
		return err
	}
	defer reg.Close()
	var src io.Reader
	if t.contiguous() {
		off, n := t.contiguousRange()
		src = io.NewSectionReader(reg.r, reg.off+off, n)
	} else {
		j.gatherMu.Lock()
		defer j.gatherMu.Unlock()
		g := gathered(ctx, t, reg, &j.scratch)
		defer g.Close()
		src = g
	}
	var pos int64
	for {
		n, errA := io.ReadFull(src, a)
		m, errB := io.ReadFull(out, b[:n])
		if errB != nil && !(n == 0 && errors.Is(errB, io.EOF)) {
			return fmt.Errorf("tensor %q: reading the output at %d: %w", name, pos, errB)
		}
		if !bytes.Equal(a[:n], b[:m]) {
			i := 0
			for i < n && a[i] == b[i] {
				i++
			}
			return fmt.Errorf("tensor %q differs from its source at byte %d", name, pos+int64(i))
		}
		pos += int64(n)
		switch {
		case errA == nil:
			continue
		case errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF):
			if k, _ := out.Read(b[:1]); k != 0 {
				return fmt.Errorf("tensor %q: the output holds more than the source's %d bytes", name, pos)
			}
			return nil
		default:
			return fmt.Errorf("tensor %q: reading the source at %d: %w", name, pos, errA)
		}
	}
}
