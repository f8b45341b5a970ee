package gguf

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes a parse reads.
type countingReader struct {
	r     io.ReaderAt
	bytes atomic.Int64
	calls atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	c.calls.Add(1)
	return n, err
}

// bigModel writes a sparse GGUF file of about 4 GB: a 150k-token
// vocabulary, 150k merges and 290 Q4_K tensors, the data section a hole.
func bigModel(tb testing.TB) (string, int64) {
	tb.Helper()
	tokens := make([]string, 150_000)
	merges := make([]string, 150_000)
	scores := make([]float32, len(tokens))
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
		merges[i] = fmt.Sprintf("t %d", i)
	}
	kvs := []Meta{
		{"general.architecture", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.chat_template", chatml},
	}
	var tensors []Tensor
	for i := range 290 {
		tensors = append(tensors, Tensor{Name: fmt.Sprintf("blk.%d.ffn.weight", i), Dims: []uint64{4096, 6144}, Type: 12})
	}
	head, data, err := EncodeHeader(kvs, tensors, EncodeOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "big.gguf")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(head); err != nil {
		tb.Fatal(err)
	}
	size := int64(len(head)) + data
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	return path, size
}

// BenchmarkParse4GB parses and validates the header of a 4 GB model.
func BenchmarkParse4GB(b *testing.B) {
	path, size := bigModel(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	b.ResetTimer()
	for b.Loop() {
		file, err := Parse(context.Background(), cr, size, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if p := file.Validate(); len(p) != 0 {
			b.Fatal(p)
		}
	}
	b.ReportMetric(float64(cr.bytes.Load())/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(size)/1e9, "file-GB")
}
