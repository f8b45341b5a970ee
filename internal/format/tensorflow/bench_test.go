package tensorflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/protoscan"
)

// BenchmarkWalkFrozenGraph walks a 256 MiB GraphDef of 10,000 nodes, 64 of
// them Consts with 4 MiB of tensor_content, which is skipped by offset.
func BenchmarkWalkFrozenGraph(b *testing.B) {
	var graph []byte
	for i := range 10_000 {
		var n []byte
		n = protowire.AppendTag(n, nodeName, protowire.BytesType)
		n = protowire.AppendString(n, "node")
		if i%156 == 0 {
			var tensor []byte
			tensor = protowire.AppendTag(tensor, 4, protowire.BytesType) // tensor_content
			tensor = protowire.AppendBytes(tensor, make([]byte, 4<<20))
			var av []byte
			av = protowire.AppendTag(av, attrTensor, protowire.BytesType)
			av = protowire.AppendBytes(av, tensor)
			var entry []byte
			entry = protowire.AppendTag(entry, entryKey, protowire.BytesType)
			entry = protowire.AppendString(entry, "value")
			entry = protowire.AppendTag(entry, entryValue, protowire.BytesType)
			entry = protowire.AppendBytes(entry, av)
			n = protowire.AppendTag(n, nodeOp, protowire.BytesType)
			n = protowire.AppendString(n, "Const")
			n = protowire.AppendTag(n, nodeAttr, protowire.BytesType)
			n = protowire.AppendBytes(n, entry)
		} else {
			n = protowire.AppendTag(n, nodeOp, protowire.BytesType)
			n = protowire.AppendString(n, "MatMul")
			n = protowire.AppendTag(n, nodeInput, protowire.BytesType)
			n = protowire.AppendString(n, "x:0")
		}
		graph = protowire.AppendTag(graph, graphNode, protowire.BytesType)
		graph = protowire.AppendBytes(graph, n)
	}
	path := filepath.Join(b.TempDir(), "frozen.pb")
	if err := os.WriteFile(path, graph, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	v := &Visitor{Interesting: func(op string) bool { return op == "ReadFile" }, Op: func(OpUse) {}, Asset: func(string, int64) {}}
	b.SetBytes(int64(len(graph)))
	b.ResetTimer()
	for b.Loop() {
		if err := WalkGraphDef(context.Background(), protoscan.NewSource(f, int64(len(graph))), DefaultOptions(), v); err != nil {
			b.Fatal(err)
		}
	}
}
