// Package numpy analyzes NumPy .npy files and .npz archives. An .npy
// header is parsed strictly, as numpy.lib.format does; an object dtype
// means the data is a pickle that numpy.load runs with allow_pickle=True,
// and it is scanned. An .npz is a zip (stored or deflated) whose members
// are handed back to the scan, so each .npy member is analyzed here.
package numpy

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/format/torchzip"
	"modelgate/internal/format/ziparchive"
	"modelgate/internal/limits"
	"modelgate/internal/pickleaudit"
)

// NPY is the .npy analyzer.
type NPY struct{}

// NewNPY returns the .npy analyzer.
func NewNPY() *NPY { return &NPY{} }

// Name implements format.Analyzer.
func (*NPY) Name() string { return "npy" }

// Match implements format.Analyzer.
func (*NPY) Match(p *format.Probe) bool { return bytes.HasPrefix(p.Head, []byte(Magic)) }

// Analyze implements format.Analyzer.
func (*NPY) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	h, err := ParseHeader(in.R, in.Size)
	if err != nil {
		return err
	}
	rep := container.Reporter{In: in, Out: out, Analyzer: "npy"}
	body := in.Size - h.DataOffset
	if h.HasObject {
		rep.Report(finding.RuleNumpyObject, "", fmt.Sprintf("dtype %s holds Python objects: the %d bytes after the header are a pickle (scanned)", h.Descr, body), h.Descr, h.DataOffset)
		sub := container.Sub(out, "", h.DataOffset)
		_, err := pickleaudit.Audit(ctx, in, io.NewSectionReader(in.R, h.DataOffset, body), body, sub, pickleaudit.Options{Analyzer: "npy"})
		return err
	}
	want := h.DataSize()
	switch {
	case want < 0:
		rep.Report(finding.RuleNumpySize, "", fmt.Sprintf("the size of shape %v of %s cannot be computed", h.Shape, h.Descr), "", finding.NoOffset)
	case body < want:
		rep.Report(finding.RuleNumpySize, "", fmt.Sprintf("shape %v of %s needs %d bytes; only %d follow the header (numpy.load fails)", h.Shape, h.Descr, want, body), "", h.DataOffset)
	case body > want:
		extra := body - want
		rep.Report(finding.RuleNumpySize, "", fmt.Sprintf("%d bytes follow the array data; numpy.load ignores them (scanned as npy-trailing)", extra), "", h.DataOffset+want)
		return out.Child(ctx, "npy-trailing", io.NewSectionReader(in.R, h.DataOffset+want, extra), extra)
	}
	return nil
}

// NPZ is the .npz analyzer.
type NPZ struct{}

// NewNPZ returns the .npz analyzer.
func NewNPZ() *NPZ { return &NPZ{} }

// Name implements format.Analyzer.
func (*NPZ) Name() string { return "npz" }

// Match implements format.Analyzer: a zip (not a PyTorch checkpoint) one
// of whose first members starts with the .npy magic, which is what
// numpy.load reads as an array whatever the member is called.
func (*NPZ) Match(p *format.Probe) bool {
	if !archive.LooksLikeZip(p.R, p.Size, p.Tail) {
		return false
	}
	z, err := archive.OpenZip(p.R, p.Size, limits.Default().MaxMembers)
	if z == nil || (err != nil && len(z.Entries) == 0) {
		return false
	}
	if _, err := torchzip.FromZip(z); err == nil {
		return false
	}
	checked := 0
	for _, e := range z.Entries {
		if e.IsDir() || checked >= 16 {
			continue
		}
		checked++
		if startsWithMagic(z, e) {
			return true
		}
	}
	return false
}

func startsWithMagic(z *archive.Zip, e *archive.ZipEntry) bool {
	raw, _, err := z.Raw(e)
	if err != nil {
		return false
	}
	var r io.Reader = raw
	switch e.Method {
	case archive.MethodStore:
	case archive.MethodDeflate:
		dec := archive.NewDeflateReader(raw)
		defer dec.Close()
		r = dec
	default:
		return false
	}
	var b [len(Magic)]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return false
	}
	return string(b[:]) == Magic
}

// Analyze implements format.Analyzer.
func (*NPZ) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	return ziparchive.Walk(ctx, in, out, "npz", nil)
}
