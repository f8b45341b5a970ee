package gguf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes parse or fail cleanly, and a parsed header is
// consistent with the file it came from.
func FuzzParse(f *testing.F) {
	for _, o := range []EncodeOptions{{Version: 3}, {Version: 1}, {Version: 3, BigEndian: true}} {
		f.Add(sample(f, o))
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir(), "*", "gguf", "*.gguf"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxKVs: 4096, MaxTensors: 4096})
		if file == nil {
			t.Fatal("nil file")
		}
		if err != nil {
			return
		}
		if file.DataOffset < 8 || file.DataOffset%int64(file.Alignment) != 0 {
			t.Fatalf("data offset %d, alignment %d", file.DataOffset, file.Alignment)
		}
		if uint64(len(file.KVs)) != file.KVCount || uint64(len(file.Tensors)) != file.TensorCount {
			t.Fatalf("counts %d/%d vs %d/%d", len(file.KVs), file.KVCount, len(file.Tensors), file.TensorCount)
		}
		for _, kv := range file.KVs {
			if kv.Kept && uint64(len(kv.Str)) != kv.StrLen {
				t.Fatalf("kept string of %d bytes, length %d", len(kv.Str), kv.StrLen)
			}
		}
		file.Validate()
	})
}
