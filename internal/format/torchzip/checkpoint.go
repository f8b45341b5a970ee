// Package torchzip reads PyTorch zip checkpoints (torch.save since 1.6)
// the way torch.load does, and analyzes them.
//
// # Reading a checkpoint
//
// Open reads only the zip central directory. The archive's folder is the
// folder of the first central-directory entry, whatever its name (torch
// loads "evil/data.pkl" as readily as "archive/data.pkl"), and records are
// looked up in it without regard to letter case, as PyTorch's miniz reader
// does:
//
//	ck, err := torchzip.Open(r, size, maxEntries)
//	data := ck.Record("data.pkl")          // the data pickle's entry
//	off, n, err := ck.Region(data)         // its bytes in the file, if stored
//	storages, err := ck.Storages(ctx, lim) // every storage data.pkl refers to
//
// Storages interprets data.pkl with the symbolic pickle machine (nothing
// is executed) and returns each storage's key, dtype, element count and,
// for stored records, the offset and size of its bytes in the file, so a
// converter can copy tensors without reading anything else.
package torchzip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/archive"
	"modelgate/internal/format/torchstorage"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
)

// ErrNotCheckpoint is returned when the zip has no data.pkl in the folder
// torch would look in.
var ErrNotCheckpoint = errors.New("not a PyTorch zip checkpoint")

// Checkpoint is a PyTorch zip archive's directory.
type Checkpoint struct {
	Zip *archive.Zip
	// Prefix is the archive folder, e.g. "archive".
	Prefix string
	// byName maps lower-cased record names (without the prefix) to entries.
	byName map[string][]*archive.ZipEntry
}

// Open reads a checkpoint's central directory.
func Open(r io.ReaderAt, size int64, maxEntries int) (*Checkpoint, error) {
	z, err := archive.OpenZip(r, size, maxEntries)
	if err != nil {
		return nil, err
	}
	return FromZip(z)
}

// FromZip indexes an opened zip as a checkpoint; it fails unless the
// archive folder holds data.pkl.
func FromZip(z *archive.Zip) (*Checkpoint, error) {
	prefix, ok := Prefix(z)
	if !ok {
		return nil, ErrNotCheckpoint
	}
	ck := &Checkpoint{Zip: z, Prefix: prefix, byName: map[string][]*archive.ZipEntry{}}
	lp := strings.ToLower(prefix) + "/"
	for _, e := range z.Entries {
		n := strings.ToLower(e.Name)
		if strings.HasPrefix(n, lp) {
			k := n[len(lp):]
			ck.byName[k] = append(ck.byName[k], e)
		}
	}
	if ck.Record("data.pkl") == nil {
		return nil, ErrNotCheckpoint
	}
	return ck, nil
}

// Prefix returns the archive folder as torch determines it: the part of
// the first entry's name before its first slash.
func Prefix(z *archive.Zip) (string, bool) {
	if len(z.Entries) == 0 {
		return "", false
	}
	i := strings.IndexByte(z.Entries[0].Name, '/')
	if i <= 0 {
		return "", false
	}
	return z.Entries[0].Name[:i], true
}

// Record returns the entry torch reads for a record name such as
// "data.pkl" or "data/0" (the first of duplicates), or nil.
func (c *Checkpoint) Record(name string) *archive.ZipEntry {
	if es := c.byName[strings.ToLower(name)]; len(es) > 0 {
		return es[0]
	}
	return nil
}

// Records returns every entry matching a record name: duplicates that
// differ only in case are all candidates for what torch reads.
func (c *Checkpoint) Records(name string) []*archive.ZipEntry {
	return c.byName[strings.ToLower(name)]
}

// Has reports whether a record exists.
func (c *Checkpoint) Has(name string) bool { return c.Record(name) != nil }

// Region returns where a stored record's bytes are in the file. Compressed
// records have no such region (torch.save never compresses).
func (c *Checkpoint) Region(e *archive.ZipEntry) (off, size int64, err error) {
	if e.Method != archive.MethodStore {
		return 0, 0, fmt.Errorf("record %q is compressed (method %d)", e.Name, e.Method)
	}
	h, err := c.Zip.LocalHeader(e)
	if err != nil {
		return 0, 0, err
	}
	return h.DataOffset, e.CompressedSize, nil
}

// Storage is one storage the data pickle refers to.
type Storage struct {
	torchstorage.Ref
	// DType is the element type, e.g. "float32" ("" for unknown classes).
	DType string
	// Entry is the record holding the bytes (nil when missing).
	Entry *archive.ZipEntry
	// Offset and Size locate the bytes in the file for a stored record;
	// Offset is -1 for compressed or missing records.
	Offset, Size int64
}

// Storages interprets the data pickle symbolically and lists the storages
// its persistent IDs name, in order of first reference. Persistent IDs
// torch would refuse are returned as an error after the list.
func (c *Checkpoint) Storages(ctx context.Context, lim *limits.Limits) ([]Storage, error) {
	e := c.Record("data.pkl")
	m, err := c.Zip.Open(ctx, e, archive.Budget{MaxSize: 1 << 32})
	if err != nil {
		if m != nil {
			m.Close()
		}
		return nil, err
	}
	defer m.Close()
	col := &torchstorage.Collector{}
	mach := pickle.NewMachine(m, 0, m.Size, col, pickle.Options{Limits: lim})
	st, err := mach.Run(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Storage
	for _, r := range col.Refs {
		if seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		s := Storage{Ref: *r, DType: torchstorage.DType(r.Class), Offset: -1, Size: -1}
		if s.Entry = c.Record("data/" + r.Key); s.Entry != nil {
			s.Size = s.Entry.UncompressedSize
			if off, n, err := c.Region(s.Entry); err == nil {
				s.Offset, s.Size = off, n
			}
		}
		out = append(out, s)
	}
	if st != nil && st.Err != nil {
		return out, fmt.Errorf("data.pkl: %w", st.Err)
	}
	if len(col.Bad) > 0 {
		return out, errors.Join(col.Bad...)
	}
	return out, nil
}
