package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"modelgate/internal/archive"
	"modelgate/internal/format/torchlegacy"
	"modelgate/internal/format/torchzip"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
)

// checkpoint is an opened PyTorch checkpoint.
type checkpoint struct {
	path   string
	f      *os.File
	size   int64
	legacy bool
	ck     *torchzip.Checkpoint // zip format
	lf     *torchlegacy.File    // legacy format
	lim    *limits.Limits
	// tempDir is where decompressed storages spill ("" for the default).
	tempDir string
	// byKey indexes a legacy file's storages; built by legacyIndex.
	byKey     map[string]int
	indexOnce sync.Once
}

// region is a storage's bytes: size bytes at off in r. f is set when the
// bytes lie in the input file itself, so they can be copied file to file.
type region struct {
	r       io.ReaderAt
	f       *os.File
	off     int64
	size    int64
	release func()
}

func (r *region) Close() {
	if r.release != nil {
		r.release()
	}
}

// zipMagic starts a zip file; torch.load takes a file that starts with
// it for the zip format, and anything else for the legacy format.
var zipMagic = []byte("PK\x03\x04")

// openCheckpoint opens path and recognises its format by content, as
// torch.load does.
func openCheckpoint(ctx context.Context, path string, lim *limits.Limits, tempDir string) (*checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c, err := newCheckpoint(ctx, f, path, lim, tempDir)
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func newCheckpoint(ctx context.Context, f *os.File, path string, lim *limits.Limits, tempDir string) (*checkpoint, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	c := &checkpoint{path: path, f: f, size: fi.Size(), lim: lim, tempDir: tempDir}
	var head [512]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head[:n], zipMagic):
		c.ck, err = torchzip.Open(f, c.size, lim.MaxMembers)
		if err != nil {
			return nil, refusef("not a PyTorch zip checkpoint: %v", err)
		}
		if c.ck.Has("constants.pkl") {
			return nil, refusef("a TorchScript archive (torch.jit.save), not a state dict")
		}
		if e := c.ck.Record("byteorder"); e != nil {
			b, err := c.smallRecord(ctx, e)
			if err != nil {
				return nil, err
			}
			if string(b) != "little" {
				return nil, refusef("the byteorder record says %q: only little-endian checkpoints are converted", b)
			}
		}
	case n >= 262 && string(head[257:262]) == "ustar":
		return nil, refusef("a tar checkpoint (PyTorch 0.1.x): not supported")
	default:
		c.legacy = true
		c.lf, err = torchlegacy.Open(ctx, f, c.size, lim)
		if err != nil {
			if errors.Is(err, torchlegacy.ErrStructure) {
				return nil, refusef("not a PyTorch checkpoint: %v", err)
			}
			return nil, err
		}
	}
	return c, nil
}

func (c *checkpoint) Close() error { return c.f.Close() }

// smallRecord reads a bookkeeping record of at most 64 bytes.
func (c *checkpoint) smallRecord(ctx context.Context, e *archive.ZipEntry) ([]byte, error) {
	if e.UncompressedSize > 64 {
		return nil, refusef("record %s holds %d bytes", e.Name, e.UncompressedSize)
	}
	m, err := c.ck.Zip.Open(ctx, e, archive.Budget{MaxSize: 64})
	if m != nil {
		defer m.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	b := make([]byte, m.Size)
	if _, err := m.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	return b, nil
}

// stateDict interprets the data pickle under the conversion allowlist and
// returns its tensors. Nothing in the pickle is executed.
func (c *checkpoint) stateDict(ctx context.Context, key string, maxExpansion int64) (*stateDict, error) {
	g := newGuard(c.legacy)
	var st *pickle.Stream
	var err error
	if c.legacy {
		m := pickle.NewMachine(c.f, 0, c.size, g, pickle.Options{Limits: c.lim})
		m.SeekTo(c.lf.Streams[3].Start)
		st, err = m.Run(ctx)
	} else {
		e := c.ck.Record("data.pkl")
		if err := storedOrDeflated(e); err != nil {
			return nil, err
		}
		var mem *archive.Member
		mem, err = c.ck.Zip.Open(ctx, e, archive.Budget{MaxSize: c.lim.MaxMemberSize, TempDir: c.tempDir})
		if mem != nil {
			defer mem.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		st, err = pickle.NewMachine(mem, 0, mem.Size, g, pickle.Options{Limits: c.lim}).Run(ctx)
	}
	if err != nil {
		return nil, err
	}
	if st.Err != nil {
		g.refuse(-1, "the data pickle breaks (torch.load would fail): %v", st.Err)
	}
	if len(g.reasons) > 0 {
		return nil, g.refusal()
	}
	w := &walker{g: g, maxExpansion: maxExpansion, tensors: map[*pickle.Value]*tensorRef{}, active: map[*pickle.Value]bool{}}
	return w.stateDictOf(st.Result, key)
}

// refusal turns the guard's reasons into an error.
func (g *guard) refusal() error {
	r := &Refusal{}
	for i, msg := range g.reasons {
		if n := g.repeats[i]; n > 1 {
			msg = fmt.Sprintf("%s (%d times)", msg, n)
		}
		r.Reasons = append(r.Reasons, msg)
	}
	if g.more > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("and %d more", g.more))
	}
	return r
}

// storedOrDeflated: torch's zip reader (miniz) reads these two methods.
func storedOrDeflated(e *archive.ZipEntry) error {
	if e.Method != archive.MethodStore && e.Method != archive.MethodDeflate {
		return refusef("record %s uses compression method %d, which torch.load cannot read", e.Name, e.Method)
	}
	return nil
}

// legacyIndex maps storage keys to c.lf.Storages. A key listed twice is
// read twice by torch's loader into the same storage, so the last copy
// is what it holds.
func (c *checkpoint) legacyIndex() map[string]int {
	c.indexOnce.Do(func() {
		c.byKey = make(map[string]int, len(c.lf.Storages))
		for i, ls := range c.lf.Storages {
			c.byKey[ls.Key] = i
		}
	})
	return c.byKey
}

// region returns the bytes of a storage the data pickle named. The caller
// closes it.
func (c *checkpoint) region(ctx context.Context, s *storageRef) (*region, error) {
	root, err := c.rootRegion(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.ViewKey == "" {
		return root, nil
	}
	start, n := s.ViewOffset*s.ElemSize, s.Bytes()
	if s.ViewOffset < 0 || s.ViewOffset > root.size/s.ElemSize || n > root.size-start {
		root.Close()
		return nil, refusef("storage view %q (%d elements at %d) lies outside storage %q", s.ViewKey, s.Numel, s.ViewOffset, s.Key)
	}
	root.off += start
	root.size = n
	return root, nil
}

func (c *checkpoint) rootRegion(ctx context.Context, s *storageRef) (*region, error) {
	want := s.Numel * s.ElemSize
	if s.ViewKey != "" {
		want = -1 // a view's numel is the view's; the root's size is checked where it was first named
	}
	if c.legacy {
		if i, ok := c.legacyIndex()[s.Key]; ok {
			ls := &c.lf.Storages[i]
			if ls.HeaderNumel != ls.Numel {
				return nil, refusef("storage %q holds %d elements; the data pickle says %d (torch.load fails)", s.Key, ls.HeaderNumel, ls.Numel)
			}
			return &region{r: c.f, f: c.f, off: ls.Offset, size: ls.Size}, nil
		}
		return nil, refusef("storage %q is not in the checkpoint's storage list (torch.load would leave it uninitialised)", s.Key)
	}
	e := c.ck.Record("data/" + s.Key)
	if e == nil {
		return nil, refusef("storage %q has no %s/data/%s record", s.Key, c.ck.Prefix, s.Key)
	}
	if want >= 0 && e.UncompressedSize != want {
		return nil, refusef("record %s holds %d bytes; the data pickle says %d elements of %d bytes", e.Name, e.UncompressedSize, s.Numel, s.ElemSize)
	}
	if err := storedOrDeflated(e); err != nil {
		return nil, err
	}
	if e.Method == archive.MethodStore {
		off, n, err := c.ck.Region(e)
		if err != nil {
			return nil, err
		}
		if off < 0 || n > c.size-off {
			return nil, refusef("record %s lies past the end of the file", e.Name)
		}
		return &region{r: c.f, f: c.f, off: off, size: n}, nil
	}
	m, err := c.ck.Zip.Open(ctx, e, archive.Budget{MaxSize: e.UncompressedSize, InMemory: 4 << 20, TempDir: c.tempDir})
	if err != nil {
		if m != nil {
			m.Close()
		}
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	if m.CRCChecked && !m.CRCMatch {
		m.Close()
		return nil, refusef("record %s fails its CRC check", e.Name)
	}
	if m.Size != e.UncompressedSize {
		m.Close()
		return nil, refusef("record %s decompresses to %d bytes, not %d", e.Name, m.Size, e.UncompressedSize)
	}
	return &region{r: m, off: 0, size: m.Size, release: func() { m.Close() }}, nil
}
