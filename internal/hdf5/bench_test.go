package hdf5

import (
	"context"
	"os"
	"testing"
)

// BenchmarkWalk walks the fixture with dense links and attributes (fractal
// heaps, v2 B-trees, a 70 kB huge attribute) and decodes every attribute.
func BenchmarkWalk(b *testing.B) {
	data, err := os.ReadFile("testdata/v3_latest.h5")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Open(bytesReader(data), int64(len(data)), DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Walk(context.Background(), func(*Object) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
