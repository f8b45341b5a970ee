// Package convert turns PyTorch pickle checkpoints into safetensors files
// without executing them.
//
// The usual converters torch.load the checkpoint first, which runs
// whatever its pickle says. Here the data pickle is interpreted by the
// symbolic machine of internal/pickle under a strict allowlist: the only
// calls it may make are collections.OrderedDict and torch's tensor
// constructors (_rebuild_tensor, _v2, _v3, _rebuild_parameter,
// _rebuild_from_type_v2), the only other globals storage types, dtypes and
// torch's tensor classes, and every persistent ID must name a storage.
// Anything else refuses the conversion with the reason. Tensors are then
// views (storage, offset, shape, strides) whose bytes are copied from the
// checkpoint's storage records into the output:
//
//	res, err := convert.File(ctx, "pytorch_model.bin", "model.safetensors", opts)
//	res, err := convert.Dir(ctx, "./repo", "./repo", opts) // single or sharded
//
// Before anything is read for conversion, every input is scanned with
// opts.Scanner; an input that fails the scan at opts.Threshold is refused
// with a *ScanRefusal carrying the scan's results, so the caller reports
// it exactly as a scan would.
//
// The output is written as the reference safetensors writer writes it
// (tensors by dtype alignment then name, an 8-byte aligned header,
// __metadata__ {"format": "pt"}) to a temporary file beside the
// destination, then read back: the header is validated and every
// tensor's bytes are compared with the source, and only then is the file
// renamed into place. Contiguous tensors are copied file to file without
// passing through memory; strided views are gathered within a budget of
// their own size (see gather.go), so memory stays bounded by the largest
// tensor, not the checkpoint.
//
// Names: nested dicts are flattened with "." between keys; a wrapper
// dict's "state_dict" or "model" entry is taken when the top level holds
// no tensor itself (or the entry Options.Key names). Tensors that are the
// same view of the same storage (tied weights) are written once under the
// first name in sorted order, as the hub's converter does, and the names
// dropped are recorded in the metadata as dropped → kept.
package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// Options configure a conversion.
type Options struct {
	// Scanner scans each input before conversion. Required.
	Scanner *scan.Scanner
	// Threshold and Strict are the scan's fail rule (report.FileFails).
	Threshold finding.Severity
	Strict    bool
	// Key names the wrapper entry holding the state dict; "" picks
	// "state_dict" or "model" when the top level holds no tensor.
	Key string
	// Force replaces outputs that exist.
	Force bool
	// Sync flushes each output to disk (fsync, with writeback started as
	// tensors are written) before renaming it into place, so that a
	// crash cannot leave a truncated file under the final name. Without
	// it the rename still keeps readers from ever seeing a partial file,
	// as with cp, and the kernel writes the data back in its own time.
	Sync bool
	// MaxExpansion bounds how many bytes the output may exceed the
	// input by: expanded views (zero strides) are materialised, so a
	// tiny file could otherwise ask for terabytes. 0 means 1 GiB.
	MaxExpansion int64
	// TempDir is where deflated storages are decompressed ("" for the
	// system default).
	TempDir string
}

// FileResult describes one converted file.
type FileResult struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	// Format is "pytorch-zip" or "pytorch-legacy".
	Format string `json:"format"`
	// Key is the wrapper entry the tensors came from, if any.
	Key     string `json:"key,omitempty"`
	Tensors int    `json:"tensors"`
	// Bytes is the size of the tensor data written.
	Bytes int64 `json:"bytes"`
	// Aliases maps each name dropped as a duplicate view to the name
	// written.
	Aliases map[string]string `json:"aliases,omitempty"`
	// Overlaps lists groups of tensors whose bytes overlap in one
	// storage without being the same view: each was written whole.
	Overlaps [][]string `json:"overlaps,omitempty"`
	// Skipped lists entries that are not tensors.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Result describes a conversion.
type Result struct {
	Files []*FileResult `json:"files"`
	// Index is the sharded output's index file, if any.
	Index string `json:"index,omitempty"`
}

// ScanRefusal is returned when the scan of an input fails: Files holds
// the scan's results for the failing inputs.
type ScanRefusal struct {
	Files []*report.File
}

func (e *ScanRefusal) Error() string {
	paths := make([]string, len(e.Files))
	for i, f := range e.Files {
		paths[i] = f.Path
	}
	return "the scan found problems in " + strings.Join(paths, ", ") + "; nothing was converted"
}

// Refusal is an input the converter will not convert, and why.
type Refusal struct {
	Path    string
	Reasons []string
}

func (e *Refusal) Error() string {
	if len(e.Reasons) == 1 {
		return fmt.Sprintf("%s: not converted: %s", e.Path, e.Reasons[0])
	}
	return fmt.Sprintf("%s: not converted:\n  - %s", e.Path, strings.Join(e.Reasons, "\n  - "))
}

// ErrExists is returned when an output exists and Options.Force is not set.
var ErrExists = errors.New("the output exists (use --force to replace it)")

// asRefusal attaches the input's path to a refusal from deeper down.
func asRefusal(path string, err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return &Refusal{Path: path, Reasons: []string{r.msg}}
	}
	var rf *Refusal
	if errors.As(err, &rf) && rf.Path == "" {
		rf.Path = path
		return rf
	}
	if errors.Is(err, limits.ErrLimit) {
		return &Refusal{Path: path, Reasons: []string{err.Error()}}
	}
	return err
}

// prescan scans every input and refuses the lot if any fails.
func prescan(ctx context.Context, opts *Options, paths []string) error {
	if opts.Scanner == nil {
		return errors.New("convert: no scanner")
	}
	var failed []*report.File
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		res := opts.Scanner.ScanReader(ctx, p, f, fi.Size(), "")
		f.Close()
		if err := ctx.Err(); err != nil {
			return err
		}
		if res.Status == report.StatusError {
			return fmt.Errorf("%s: %s", p, res.Error)
		}
		if report.FileFails(res, opts.Threshold, opts.Strict, opts.Scanner.Rules()) {
			failed = append(failed, res)
		}
	}
	if len(failed) > 0 {
		return &ScanRefusal{Files: failed}
	}
	return nil
}

// File converts one checkpoint to one safetensors file.
func File(ctx context.Context, in, out string, opts Options) (*Result, error) {
	if sameFile(in, out) {
		return nil, fmt.Errorf("%s: the output would replace the input", out)
	}
	if err := checkOutputs(opts.Force, out); err != nil {
		return nil, err
	}
	if err := prescan(ctx, &opts, []string{in}); err != nil {
		return nil, err
	}
	j, err := prepare(ctx, &opts, in, out)
	if err != nil {
		return nil, err
	}
	defer j.discard()
	if err := j.run(ctx); err != nil {
		return nil, err
	}
	if err := j.commit(); err != nil {
		return nil, err
	}
	return &Result{Files: []*FileResult{j.res}}, nil
}

// sameFile reports two paths naming one existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// checkOutputs refuses to replace files unless forced.
func checkOutputs(force bool, paths ...string) error {
	if force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w", p, ErrExists)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
