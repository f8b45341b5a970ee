package onnx

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/protoscan"
)

// FuzzWalk runs the matcher and the ModelProto walker on arbitrary bytes.
func FuzzWalk(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.onnx")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		looksLikeModel(b, int64(len(b)))
		v := &Visitor{
			External: func(string, string, int64) {},
			Domain:   func(string, int64) {},
			Function: func(string, string, int64) {},
			Node:     func(string, string, map[string]string, int64) {},
		}
		_ = Walk(context.Background(), protoscan.NewSource(bytes.NewReader(b), int64(len(b))), DefaultOptions(), v)
	})
}
