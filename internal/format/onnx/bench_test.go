package onnx

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/protoscan"
)

// bigModel writes a ModelProto whose graph holds n initializers of size
// bytes each (raw_data), in a temporary file.
func bigModel(b *testing.B, n, size int) (*os.File, int64) {
	var tensor []byte
	tensor = protowire.AppendTag(tensor, tensorName, protowire.BytesType)
	tensor = protowire.AppendString(tensor, "W")
	tensor = protowire.AppendTag(tensor, 9, protowire.BytesType) // raw_data
	tensor = protowire.AppendBytes(tensor, make([]byte, size))
	var graph []byte
	for range n {
		graph = protowire.AppendTag(graph, graphInitializer, protowire.BytesType)
		graph = protowire.AppendBytes(graph, tensor)
	}
	var model []byte
	model = protowire.AppendTag(model, 1, protowire.VarintType)
	model = protowire.AppendVarint(model, 8)
	model = protowire.AppendTag(model, modelGraph, protowire.BytesType)
	model = protowire.AppendBytes(model, graph)
	path := filepath.Join(b.TempDir(), "big.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f, int64(len(model))
}

// BenchmarkWalkLargeInitializers walks a 256 MiB model of 64 inline
// tensors: the walk skips raw_data by offset, so it costs a few reads per
// tensor, not a pass over the data.
func BenchmarkWalkLargeInitializers(b *testing.B) {
	f, size := bigModel(b, 64, 4<<20)
	v := &Visitor{External: func(string, string, int64) {}, Domain: func(string, int64) {},
		Function: func(string, string, int64) {}, Node: func(string, string, map[string]string, int64) {}}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if err := Walk(context.Background(), protoscan.NewSource(f, size), DefaultOptions(), v); err != nil {
			b.Fatal(err)
		}
	}
}
