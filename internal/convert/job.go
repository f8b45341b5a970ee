package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"modelgate/internal/safetensors"
)

// job converts one checkpoint into one safetensors file: prepare reads
// and plans, run writes a temporary file and verifies it, commit renames
// it into place, discard cleans up whatever is left.
type job struct {
	in, out string
	ck      *checkpoint
	plan    *plan
	res     *FileResult
	tmp     *os.File
	tmpPath string
	// sync makes the output durable before it is renamed into place.
	sync bool
	// gatherMu serialises strided gathers (see copyTensor), which share
	// scratch.
	gatherMu sync.Mutex
	scratch  scratch
}

// prepare opens the checkpoint, interprets its pickle under the
// allowlist, and plans the output. Refusals carry the input's path.
func prepare(ctx context.Context, opts *Options, in, out string) (*job, error) {
	lim := opts.Scanner.Policy().Limits()
	ck, err := openCheckpoint(ctx, in, lim, opts.TempDir)
	if err != nil {
		return nil, asRefusal(in, err)
	}
	j := &job{in: in, out: out, ck: ck, sync: opts.Sync}
	maxExp := opts.MaxExpansion
	if maxExp <= 0 {
		maxExp = defaultMaxExpansion
	}
	sd, err := ck.stateDict(ctx, opts.Key, maxExp)
	if err != nil {
		ck.Close()
		return nil, asRefusal(in, err)
	}
	if len(sd.Tensors) == 0 {
		ck.Close()
		return nil, &Refusal{Path: in, Reasons: []string{"the state dict holds no tensors" + skippedHint(sd)}}
	}
	j.plan, err = makePlan(sd, ck.size, maxExp)
	if err != nil {
		ck.Close()
		return nil, asRefusal(in, err)
	}
	format := "pytorch-zip"
	if ck.legacy {
		format = "pytorch-legacy"
	}
	j.res = &FileResult{Input: in, Output: out, Format: format, Key: sd.Key, Tensors: len(j.plan.keep), Bytes: j.plan.bytes,
		Overlaps: j.plan.overlaps, Skipped: sd.Skipped}
	if len(j.plan.aliases) > 0 {
		j.res.Aliases = j.plan.aliases
	}
	return j, nil
}

func skippedHint(sd *stateDict) string {
	if len(sd.Skipped) == 0 {
		return ""
	}
	return fmt.Sprintf(" (it has %d other entries, e.g. %q: %s; --key picks a wrapper entry)", len(sd.Skipped), sd.Skipped[0].Name, sd.Skipped[0].What)
}

// run writes the output to a temporary file beside it and verifies it.
// Verification runs beside the copy: each tensor is compared with its
// source as soon as it is written, while the next one is copied, and the
// final fsync overlaps the last comparisons.
func (j *job) run(ctx context.Context) error {
	descs, err := j.plan.descs()
	if err != nil {
		return asRefusal(j.in, err)
	}
	j.tmp, err = os.CreateTemp(filepath.Dir(j.out), "."+filepath.Base(j.out)+".*.tmp")
	if err != nil {
		return err
	}
	j.tmpPath = j.tmp.Name()
	w, err := safetensors.NewWriter(j.tmp, descs, j.plan.metadata)
	if err != nil {
		return asRefusal(j.in, err)
	}
	dataOff, err := j.tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	layout := w.Layout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	written := make(chan safetensors.TensorInfo, 8)
	verified := make(chan error, 1)
	go func() {
		err := j.compareAll(ctx, written, dataOff)
		if err != nil {
			cancel(err)
		}
		verified <- err
	}()
	werr := j.writeAll(ctx, w, layout, dataOff, written)
	close(written)
	synced := make(chan error, 1)
	if werr == nil && j.sync {
		go func() { synced <- j.tmp.Sync() }()
	} else {
		synced <- nil
	}
	verr := <-verified
	serr := <-synced
	switch {
	case verr != nil && !errors.Is(verr, context.Canceled):
		return fmt.Errorf("%s: verifying the output: %w", j.out, verr)
	case werr != nil:
		return werr
	case verr != nil:
		return verr
	case serr != nil:
		return serr
	}
	if err := j.checkHeader(ctx, layout, dataOff); err != nil {
		return fmt.Errorf("%s: verifying the output: %w", j.out, err)
	}
	return nil
}

// writeAll copies every tensor in layout order, handing each to the
// comparison once written.
func (j *job) writeAll(ctx context.Context, w *safetensors.Writer, layout []safetensors.TensorInfo, dataOff int64, written chan<- safetensors.TensorInfo) error {
	for _, ti := range layout {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if err := j.copyTensor(ctx, w, ti.Name); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return asRefusal(j.in, fmt.Errorf("tensor %q: %w", ti.Name, err))
		}
		if j.sync {
			startWriteback(j.tmp, dataOff+int64(ti.Begin), int64(ti.End-ti.Begin))
		}
		select {
		case written <- ti:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return w.Close()
}

// copyTensor writes one tensor's contiguous bytes. A contiguous view of
// bytes stored in the input file is copied file to file (copy_file_range
// where the system has it): the tensor never passes through memory.
func (j *job) copyTensor(ctx context.Context, w *safetensors.Writer, name string) error {
	t := j.plan.byName[name]
	reg, err := j.ck.region(ctx, t.Storage)
	if err != nil {
		return err
	}
	defer reg.Close()
	if !t.contiguous() {
		// One gather at a time between the copy and the comparison, so
		// memory stays within one view's budget.
		j.gatherMu.Lock()
		defer j.gatherMu.Unlock()
		r := gathered(ctx, t, reg, &j.scratch)
		defer r.Close()
		return w.WriteTensor(name, r)
	}
	off, n := t.contiguousRange()
	if off+n > reg.size {
		return fmt.Errorf("the tensor reaches byte %d of a %d-byte storage", off+n, reg.size)
	}
	if reg.f != nil {
		if _, err := reg.f.Seek(reg.off+off, io.SeekStart); err != nil {
			return err
		}
		return w.WriteTensor(name, reg.f)
	}
	return w.WriteTensor(name, io.NewSectionReader(reg.r, reg.off+off, n))
}

// commit moves the verified output into place.
func (j *job) commit() error {
	if err := j.tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := j.tmp.Close(); err != nil {
		return err
	}
	j.tmp = nil
	if err := os.Rename(j.tmpPath, j.out); err != nil {
		return err
	}
	j.tmpPath = ""
	if j.sync {
		syncDir(filepath.Dir(j.out))
	}
	return nil
}

// discard closes the input and removes an uncommitted output.
func (j *job) discard() {
	if j.tmp != nil {
		j.tmp.Close()
		j.tmp = nil
	}
	if j.tmpPath != "" {
		os.Remove(j.tmpPath)
		j.tmpPath = ""
	}
	if j.ck != nil {
		j.ck.Close()
		j.ck = nil
	}
}

// syncDir makes a rename durable; failure only weakens durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
