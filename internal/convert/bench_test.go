package convert

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchCheckpoint writes a zip checkpoint of n float32 tensors of rows x
// cols, each saved transposed when transposed is set.
func benchCheckpoint(b *testing.B, n int, rows, cols int32, transposed bool) (string, int64) {
	b.Helper()
	p := new(pk).op('}', '(')
	numel := rows * cols
	for i := range n {
		shape, stride := []int32{rows, cols}, []int32{cols, 1}
		if transposed {
			shape, stride = []int32{cols, rows}, []int32{1, cols}
		}
		p.str(fmt.Sprintf("layers.%d.weight", i)).tensor("FloatStorage", fmt.Sprint(i), numel, 0, shape, stride)
	}
	p.op('u')
	path := filepath.Join(b.TempDir(), "big.pt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
	w.Write(p.stop())
	data := make([]byte, int(numel)*4)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for i := range n {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("archive/data/%d", i), Method: zip.Store})
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, int64(n) * int64(numel) * 4
}

func benchmarkConvert(b *testing.B, transposed bool) {
	in, size := benchCheckpoint(b, 8, 2048, 2048, transposed) // 8 × 16 MiB
	opts := testOptions(b)
	out := filepath.Join(b.TempDir(), "out.safetensors")
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		os.Remove(out)
		if _, err := File(context.Background(), in, out, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertContiguous: tensors copied file to file, compared as
// they are written.
func BenchmarkConvertContiguous(b *testing.B) { benchmarkConvert(b, false) }

// BenchmarkConvertTransposed: every tensor gathered from a strided view.
func BenchmarkConvertTransposed(b *testing.B) { benchmarkConvert(b, true) }
