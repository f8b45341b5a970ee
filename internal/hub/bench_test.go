package hub

import (
	"context"
	"io"
	"testing"
)

// BenchmarkSequentialRead reads a 32 MiB remote file front to back in 64
// KiB reads through the fake hub on loopback (read-ahead at work).
func BenchmarkSequentialRead(b *testing.B) {
	f := newFixtureTB(b)
	content := make([]byte, 32<<20)
	ref := f.upload(b, "acme/m", map[string][]byte{"model.bin": content})
	ctx := context.Background()
	commit, err := f.c.Resolve(ctx, ref)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	buf := make([]byte, 64<<10)
	for b.Loop() {
		f.c.cache = newBlockCache(f.c.cfg.CacheBytes) // cold each time
		file := f.c.Open(ctx, FileSpec{Repo: ref.At(commit), Path: "model.bin", Size: int64(len(content)), SHA256: sha(content)})
		for off := int64(0); off < int64(len(content)); off += int64(len(buf)) {
			if _, err := file.ReadAt(buf, off); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	}
}
