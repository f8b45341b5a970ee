package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/limits"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "format", "fixtures", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The lenient reader agrees with archive/zip on every well-formed zip the
// frameworks wrote: names, methods, sizes, CRCs and content.
func TestZipAgreesWithStdlib(t *testing.T) {
	for _, name := range []string{"benign/torch_zip_state_dict.pt", "benign/torch_zip_zip64.pt", "benign/torch_zip_deflated.pt",
		"benign/torch_zip_dtypes.pt", "benign/npz_many.npz", "benign/torchscript_features.pt", "benign/torchscript_mobile.ptl"} {
		t.Run(name, func(t *testing.T) {
			b := fixture(t, name)
			z, err := OpenZip(bytes.NewReader(b), int64(len(b)), 1000)
			if err != nil {
				t.Fatal(err)
			}
			std, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(z.Entries) != len(std.File) {
				t.Fatalf("%d entries, stdlib %d", len(z.Entries), len(std.File))
			}
			if name == "benign/torch_zip_zip64.pt" && !z.Zip64 {
				t.Error("zip64 end record not read")
			}
			for i, e := range z.Entries {
				f := std.File[i]
				if e.Name != f.Name || e.Method != f.Method || e.CRC32 != f.CRC32 ||
					e.CompressedSize != int64(f.CompressedSize64) || e.UncompressedSize != int64(f.UncompressedSize64) {
					t.Errorf("entry %d: %+v vs %s %d %d %d %d", i, e, f.Name, f.Method, f.CRC32, f.CompressedSize64, f.UncompressedSize64)
				}
				m, err := z.Open(context.Background(), e, Budget{MaxSize: 1 << 30})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(io.NewSectionReader(m, 0, m.Size))
				m.Close()
				rc, _ := f.Open()
				want, _ := io.ReadAll(rc)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: content differs", e.Name)
				}
				if m.CRCChecked && !m.CRCMatch {
					t.Errorf("%s: CRC mismatch reported on a good file", e.Name)
				}
			}
		})
	}
}

func TestZipRelativeOffsets(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a.txt")
	w.Write([]byte("hello"))
	zw.Close()
	prefix := []byte("#!/bin/sh\nexit 0\n")
	b := append(bytes.Clone(prefix), buf.Bytes()...)
	z, err := OpenZip(bytes.NewReader(b), int64(len(b)), 10)
	if err != nil {
		t.Fatal(err)
	}
	if z.Base != int64(len(prefix)) || z.Start != int64(len(prefix)) {
		t.Errorf("base %d start %d, want %d", z.Base, z.Start, len(prefix))
	}
	m, err := z.Open(context.Background(), z.Entries[0], Budget{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(io.NewSectionReader(m, 0, m.Size))
	if string(got) != "hello" {
		t.Errorf("content %q", got)
	}
}

func TestZipEntryLimit(t *testing.T) {
	b := fixture(t, "benign/torch_zip_dtypes.pt")
	z, err := OpenZip(bytes.NewReader(b), int64(len(b)), 3)
	if !errors.Is(err, limits.ErrLimit) || z == nil || len(z.Entries) != 3 {
		t.Fatalf("err %v, entries %v", err, z)
	}
}

func TestNotZip(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("PK"), bytes.Repeat([]byte{0}, 100), []byte("PK\x05\x06" + string(make([]byte, 18)))} {
		z, err := OpenZip(bytes.NewReader(b), int64(len(b)), 10)
		if err == nil && z != nil && len(z.Entries) > 0 {
			t.Errorf("%q: entries from nothing", b)
		}
	}
}

func TestLocalNameMismatch(t *testing.T) {
	b := fixture(t, "malicious/torch_zip_local_name.pt")
	z, err := OpenZip(bytes.NewReader(b), int64(len(b)), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range z.Entries {
		h, err := z.LocalHeader(e)
		if err != nil {
			t.Fatal(err)
		}
		if (h.Name != e.Name) != (e.Name == "archive/data.pkl") {
			t.Errorf("%s: local name %q", e.Name, h.Name)
		}
	}
}

func FuzzOpenZip(f *testing.F) {
	for _, n := range []string{"benign/torch_zip_state_dict.pt", "benign/torch_zip_zip64.pt", "benign/torch_zip_deflated.pt",
		"malicious/torch_zip_local_name.pt", "malicious/polyglot_pickle_zip.pt", "benign/npz_many.npz"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		z, _ := OpenZip(bytes.NewReader(b), int64(len(b)), 100)
		if z == nil {
			return
		}
		for _, e := range z.Entries {
			m, _ := z.Open(context.Background(), e, Budget{MaxSize: 1 << 20, MaxRatio: 100})
			if m != nil {
				if m.Size < 0 || m.Size > 1<<20 && !m.Stored {
					t.Fatalf("member of %d bytes", m.Size)
				}
				m.Close()
			}
		}
	})
}
