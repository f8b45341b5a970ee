package secrets

import (
	"strings"
	"testing"
)

// BenchmarkFind runs the detectors over 1 MB of notebook-like JSON with
// one token in it.
func BenchmarkFind(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString(`{"cell_type": "code", "source": ["import torch\n", "model = AutoModel.from_pretrained(\"org/name\")\n", "print(model(x).shape)\n"]},` + "\n")
	}
	sb.WriteString(`"login(\"hf_` + fake(1, letters, 34) + `\")"`)
	text := []byte(sb.String())
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if len(Find(text, "demo.ipynb")) != 1 {
			b.Fatal("token not found")
		}
	}
}
