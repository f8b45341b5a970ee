package hdf5

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// expected is what h5py reads from each fixture (testdata/gen.py):
// object path → string attribute name → values.
func expected(t testing.TB) map[string]map[string]map[string][]string {
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]map[string]map[string][]string
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func short(s string) string {
	if len(s) > 200 {
		h := sha256.Sum256([]byte(s))
		return fmt.Sprintf("sha256:%s:%d", hex.EncodeToString(h[:]), len(s))
	}
	return s
}

func walkFile(t testing.TB, path string, opt Options) (map[string]map[string][]string, []*Object, error) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	h, err := Open(f, st.Size(), opt)
	if err != nil {
		return nil, nil, err
	}
	got := map[string]map[string][]string{}
	var objs []*Object
	err = h.Walk(context.Background(), func(o *Object) error {
		attrs := map[string][]string{}
		for _, a := range o.Attributes {
			if !a.IsString {
				continue
			}
			var vs []string
			for _, v := range a.Values {
				vs = append(vs, short(v))
			}
			attrs[a.Name] = vs
		}
		if o.IsGroup {
			attrs["__links__"] = slices.Sorted(slices.Values(o.Links))
			if attrs["__links__"] == nil {
				attrs["__links__"] = []string{}
			}
		}
		got[o.Path] = attrs
		objs = append(objs, o)
		return nil
	})
	return got, objs, err
}

// TestFixturesMatchH5py reads every fixture and compares the objects and
// string attributes with what h5py (libhdf5) reads from the same file.
func TestFixturesMatchH5py(t *testing.T) {
	for name, want := range expected(t) {
		t.Run(name, func(t *testing.T) {
			got, _, err := walkFile(t, filepath.Join("testdata", name), DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			for path, attrs := range want {
				if attrs == nil {
					attrs = map[string][]string{}
				}
				g, ok := got[path]
				if !ok {
					t.Errorf("object %s not found", path)
					continue
				}
				if !reflect.DeepEqual(g, attrs) {
					t.Errorf("%s attributes:\n got %v\nwant %v", path, g, attrs)
				}
			}
			for path := range got {
				if _, ok := want[path]; !ok {
					t.Errorf("unexpected object %s", path)
				}
			}
		})
	}
}

func TestSuperblockVersions(t *testing.T) {
	for name, want := range map[string][2]int64{
		"v0_earliest.h5": {0, 0}, "userblock.h5": {0, 512}, "v1_istore.h5": {1, 0},
		"v2_v108.h5": {2, 0}, "v3_latest.h5": {3, 0}, "sizes4.h5": {0, 0},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Open(bytesReader(b), int64(len(b)), DefaultOptions())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, off := f.Superblock()
		if int64(v) != want[0] || off != want[1] {
			t.Errorf("%s: superblock v%d at %d, want v%d at %d", name, v, off, want[0], want[1])
		}
	}
}

func TestExternalReferences(t *testing.T) {
	_, objs, err := walkFile(t, "testdata/external.h5", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var links []ExternalLink
	var files []string
	for _, o := range objs {
		links = append(links, o.ExternalLinks...)
		files = append(files, o.ExternalFiles...)
	}
	if want := []ExternalLink{{Name: "ext", File: "/etc/other.h5", Path: "/secret"}}; !reflect.DeepEqual(links, want) {
		t.Errorf("external links %v, want %v", links, want)
	}
	if want := []string{"../outside.bin"}; !slices.Equal(files, want) {
		t.Errorf("external files %v, want %v", files, want)
	}
}

func TestLimits(t *testing.T) {
	opt := DefaultOptions()
	opt.MaxObjects = 10
	_, _, err := walkFile(t, "testdata/v0_continuation.h5", opt)
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("MaxObjects: got %v", err)
	}
	opt = DefaultOptions()
	opt.MaxAttributeBytes = 1000
	_, _, err = walkFile(t, "testdata/v3_latest.h5", opt)
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("MaxAttributeBytes: got %v", err)
	}
	opt = DefaultOptions()
	opt.MaxReadBytes = 4096
	_, _, err = walkFile(t, "testdata/v0_continuation.h5", opt)
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("MaxReadBytes: got %v", err)
	}
}

// TestTruncated cuts every fixture at many points: the reader must fail
// with a format or limit error, never panic or succeed silently with
// garbage it could not have read.
func TestTruncated(t *testing.T) {
	for name := range expected(t) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n += 1 + len(b)/97 {
			f, err := Open(bytesReader(b[:n]), int64(n), DefaultOptions())
			if err == nil {
				err = f.Walk(context.Background(), func(*Object) error { return nil })
			}
			var fe *format.Error
			if err != nil && !errors.As(err, &fe) && !errors.Is(err, limits.ErrLimit) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s cut at %d: unexpected error type %T: %v", name, n, err, err)
			}
		}
	}
}

type bytesReader []byte

func (b bytesReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, errors.New("bad offset")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, errEOF
	}
	return n, nil
}

var errEOF = io.EOF
