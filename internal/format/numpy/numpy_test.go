package numpy

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// npy builds a version 1.0 file around a header dict literal.
func npy(dict string, body []byte) []byte {
	h := dict
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	out := []byte(Magic + "\x01\x00")
	out = binary.LittleEndian.AppendUint16(out, uint16(len(h)))
	return append(append(out, h...), body...)
}

func TestParseHeaderFixtures(t *testing.T) {
	for name, want := range map[string]struct {
		major    int
		object   bool
		itemSize int64
		count    int64
	}{
		"benign/npy_v2.npy":                {2, false, 4 + 16 + 3, 3},
		"benign/npy_v3_unicode_fields.npy": {3, false, 4, 2},
		"benign/npy_datetime.npy":          {1, false, 8, 2},
		"benign/npy_unicode.npy":           {1, false, 20, 2},
		"benign/npy_big_endian.npy":        {1, false, 4, 5},
		"benign/npy_object.npy":            {1, true, 8, 4},
		"benign/npy_nested_struct.npy":     {1, false, 4 + 6 + 1, 2},
	} {
		b := fixture(t, name)
		h, err := ParseHeader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if h.Major != want.major || h.HasObject != want.object || h.ItemSize != want.itemSize || h.Count() != want.count {
			t.Errorf("%s: %+v, want %+v", name, h, want)
		}
		if !h.HasObject && h.DataOffset+h.DataSize() != int64(len(b)) {
			t.Errorf("%s: data size %d at %d in %d bytes", name, h.DataSize(), h.DataOffset, len(b))
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for _, dict := range []string{
		"{'descr': '<f4', 'fortran_order': False}",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
		"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
		"{'descr': '<q9', 'fortran_order': False, 'shape': ()}",
		"{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}",
		"['descr', '<f4']",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk",
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		b := npy(dict, make([]byte, 8))
		if _, err := ParseHeader(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("accepted %s", dict)
		}
	}
	for _, dict := range []string{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
		"{\"descr\": \"|O\", \"fortran_order\": True, \"shape\": (2L, 3L)}",
		"{'descr': [('a', '<i4'), (('title', 'b'), '<f8', (2, 2))], 'fortran_order': False, 'shape': ()}",
	} {
		b := npy(dict, make([]byte, 8))
		if _, err := ParseHeader(bytes.NewReader(b), int64(len(b))); err != nil {
			t.Errorf("rejected %s: %v", dict, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, n := range []string{"benign/npy_v2.npy", "benign/npy_v3_unicode_fields.npy", "benign/npy_object.npy", "benign/npy_nested_struct.npy"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(bytes.NewReader(b), int64(len(b)))
		if err == nil && (h.DataOffset > int64(len(b)) || h.ItemSize < -1) {
			t.Fatalf("header %+v for %d bytes", h, len(b))
		}
		if err == nil {
			_ = h.DataSize()
		}
	})
}
