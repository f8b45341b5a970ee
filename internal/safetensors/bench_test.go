package safetensors

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

type countingReader struct {
	r     io.ReaderAt
	bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// BenchmarkValidate4GB reads and validates a 4 GB file of 1,000 BF16
// tensors whose data section is a hole (a sparse file in the temp dir),
// and checks its ends for a zip polyglot.
func BenchmarkValidate4GB(b *testing.B) {
	var descs []TensorDesc
	for i := range 1000 {
		descs = append(descs, TensorDesc{fmt.Sprintf("model.layers.%d.mlp.weight", i), BF16, []uint64{2048, 1024}})
	}
	path := filepath.Join(b.TempDir(), "big.safetensors")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWriter(f, descs, map[string]string{"format": "pt"})
	if err != nil {
		b.Fatal(err)
	}
	layout := w.Layout()
	size := int64(8) // header length field
	if st, err := f.Stat(); err == nil {
		size = st.Size() + int64(layout[len(layout)-1].End)
	}
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	cr := &countingReader{r: f}
	b.ResetTimer()
	for b.Loop() {
		h, err := ReadHeader(context.Background(), cr, size)
		if err != nil {
			b.Fatal(err)
		}
		if ps := h.Validate(); len(ps) != 0 {
			b.Fatal(ps)
		}
		if ps, err := CheckPolyglot(cr, size); err != nil || len(ps) != 0 {
			b.Fatal(err, ps)
		}
	}
	b.ReportMetric(float64(cr.bytes.Load())/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(size)/1e9, "file-GB")
	f.Close()
}
