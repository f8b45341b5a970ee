package hdf5

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWalk opens and walks arbitrary bytes. It must never panic, hang or
// allocate without bound; errors are expected.
func FuzzWalk(f *testing.F) {
	names, _ := filepath.Glob("testdata/*.h5")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		opt := DefaultOptions()
		opt.MaxReadBytes = 64 << 20
		h, err := Open(bytesReader(b), int64(len(b)), opt)
		if err != nil {
			return
		}
		_ = h.Walk(context.Background(), func(o *Object) error { return nil })
	})
}
