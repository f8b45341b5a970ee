package pymarshal

import (
	"os"
	"testing"
)

func BenchmarkDecodeSummarize(b *testing.B) {
	data, err := os.ReadFile("testdata/py311_outer.marshal")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, err := Decode(data, DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		_ = Summarize(v).String()
	}
}
