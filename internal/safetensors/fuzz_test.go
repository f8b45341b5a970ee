package safetensors

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadHeader: any bytes read or fail cleanly; a header without
// problems re-written by the Go writer reads back without problems and
// with the same tensors.
func FuzzReadHeader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.safetensors")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(file(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]},"__metadata__":{"k":"v"}}`, 2))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(context.Background(), bytes.NewReader(b), int64(len(b)))
		if h == nil {
			t.Fatal("nil header")
		}
		CheckPolyglot(bytes.NewReader(b), int64(len(b)))
		if err != nil || len(h.Validate()) != 0 {
			return
		}
		again := rewrite(t, b, h)
		h2, err := ReadHeader(context.Background(), bytes.NewReader(again), int64(len(again)))
		if err != nil || len(h2.Validate()) != 0 || len(h2.Tensors) != len(h.Tensors) {
			t.Fatalf("re-written file: %v %+v", err, h2.Validate())
		}
	})
}
