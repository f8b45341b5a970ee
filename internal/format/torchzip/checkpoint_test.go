package torchzip

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/limits"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Storages lists every storage with its dtype, and its byte range in the
// file holds exactly the record's bytes.
func TestStorages(t *testing.T) {
	b := fixture(t, "benign/torch_zip_dtypes.pt")
	ck, err := Open(bytes.NewReader(b), int64(len(b)), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Prefix != "archive" {
		t.Errorf("prefix %q", ck.Prefix)
	}
	st, err := ck.Storages(context.Background(), limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	std, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	dtypes := map[string]bool{}
	for _, s := range st {
		dtypes[s.DType] = true
		if s.Offset < 0 || s.Bytes() != s.Size {
			t.Errorf("storage %s: offset %d size %d, %d elements of %d", s.Key, s.Offset, s.Size, s.Numel, s.ElementSize)
			continue
		}
		f, err := std.Open("archive/data/" + s.Key)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(f)
		if !bytes.Equal(b[s.Offset:s.Offset+s.Size], want) {
			t.Errorf("storage %s: bytes at %d differ from the record", s.Key, s.Offset)
		}
	}
	for _, d := range []string{"float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64",
		"bool", "complex64", "complex128", "qint8", "quint8"} {
		if !dtypes[d] {
			t.Errorf("no %s storage among %v", d, dtypes)
		}
	}
}

func TestPrefixAndCase(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"weird name/DATA.PKL", "weird name/data/0"} {
		w, _ := zw.Create(n)
		w.Write([]byte("\x80\x02N."))
	}
	zw.Close()
	ck, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Prefix != "weird name" || ck.Record("data.pkl") == nil {
		t.Errorf("prefix %q, data.pkl %v", ck.Prefix, ck.Record("data.pkl"))
	}
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ := zw.Create("data.pkl")
	w.Write([]byte("\x80\x02N."))
	zw.Close()
	if _, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), 10); err != ErrNotCheckpoint {
		t.Errorf("a zip without a folder: %v", err)
	}
}

func FuzzStorages(f *testing.F) {
	for _, n := range []string{"benign/torch_zip_state_dict.pt", "benign/torch_zip_dtypes.pt", "malicious/torch_zip_bad_pid.pt"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := Open(bytes.NewReader(b), int64(len(b)), 100)
		if err != nil {
			return
		}
		lim := limits.Default()
		lim.MaxPickleOps = 100_000
		st, _ := ck.Storages(context.Background(), lim)
		for _, s := range st {
			if s.Offset >= 0 && (s.Offset+s.Size > int64(len(b)) || s.Size < 0) {
				t.Fatalf("storage %+v outside %d bytes", s, len(b))
			}
		}
	})
}
