package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Content is an open file's bytes.
type Content interface {
	io.ReaderAt
	io.Closer
}

// Entry is one file to scan.
type Entry struct {
	// Path is the name shown in reports.
	Path string
	Size int64
	// Dir is the folder the file sits in on disk, or "" for remote files.
	Dir string
	// SHA256 is the content hash when the source knows it (hub LFS files);
	// the scan then skips hashing, and verifies it where it reads in full.
	SHA256 string
	// Revision is the commit a remote file is read at.
	Revision string
	// Open opens the content.
	Open func(ctx context.Context) (Content, error)
	// Err, if set, is why the entry could not be listed or opened; the
	// scan reports the file as an error.
	Err error
}

// Source lists files to scan.
type Source interface {
	// Entries calls yield for each file; it stops at the first error
	// yield returns.
	Entries(ctx context.Context, yield func(Entry) error) error
}

// Paths is a Source of local files and folders. Folders are walked
// recursively and every file is opened whatever its name; .git folders are
// skipped, and symbolic links to folders are not followed.
type Paths []string

// Entries implements Source.
func (ps Paths) Entries(ctx context.Context, yield func(Entry) error) error {
	for _, p := range ps {
		info, err := os.Stat(p)
		if err != nil {
			if err := yield(Entry{Path: p, Err: err}); err != nil {
				return err
			}
			continue
		}
		if !info.IsDir() {
			if err := yield(fileEntry(p, info)); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return yield(Entry{Path: path, Err: err})
			}
			if d.IsDir() {
				if d.Name() == ".git" && path != p {
					return filepath.SkipDir
				}
				return nil
			}
			info, err := os.Stat(path) // follows a symlink to a file
			if err != nil {
				return yield(Entry{Path: path, Err: err})
			}
			if info.IsDir() || !info.Mode().IsRegular() {
				return nil
			}
			return yield(fileEntry(path, info))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func fileEntry(path string, info fs.FileInfo) Entry {
	return Entry{
		Path: path,
		Size: info.Size(),
		Dir:  filepath.Dir(path),
		Open: func(context.Context) (Content, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
				f.Close()
				return nil, fmt.Errorf("%s: not a regular file", path)
			}
			return f, nil
		},
	}
}

// ErrNoFiles is returned when the sources held no file at all.
var ErrNoFiles = errors.New("no files to scan")
