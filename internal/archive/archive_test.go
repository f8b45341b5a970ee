package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func readAll(t testing.TB, c *Content) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(c, 0, c.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMaterializeMemoryAndSpill(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB
	for _, inMem := range []int64{0, 4096} {
		c, err := Materialize(context.Background(), bytes.NewReader(data), Budget{MaxSize: 1 << 30, InMemory: inMem})
		if err != nil {
			t.Fatal(err)
		}
		if (c.file != nil) != (inMem == 4096) {
			t.Errorf("InMemory %d: spilled = %v", inMem, c.file != nil)
		}
		if !bytes.Equal(readAll(t, c), data) {
			t.Errorf("InMemory %d: content differs", inMem)
		}
		// ReadAt across chunk boundaries and at the end.
		p := make([]byte, 100)
		n, err := c.ReadAt(p, int64(len(data))-50)
		if n != 50 || err != io.EOF {
			t.Errorf("ReadAt at the end: %d %v", n, err)
		}
		c.Close()
	}
}

func TestMaterializeLimits(t *testing.T) {
	zeros := make([]byte, 40<<20)
	c, err := Materialize(context.Background(), bytes.NewReader(zeros), Budget{MaxSize: 1 << 20})
	var be *BombError
	if !errors.As(err, &be) || be.Limit != "MaxMemberSize" || c.Size() != 1<<20 {
		t.Fatalf("size limit: %v, %d bytes", err, c.Size())
	}
	c.Close()
	c, err = Materialize(context.Background(), bytes.NewReader(zeros), Budget{MaxSize: 1 << 30, MaxRatio: 100, Compressed: 1000})
	if !errors.As(err, &be) || be.Limit != "MaxRatio" || c.Size() != DefaultRatioFloor {
		t.Fatalf("ratio limit: %v, %d bytes", err, c.Size())
	}
	c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err = Materialize(ctx, bytes.NewReader(zeros), Budget{MaxSize: 1 << 30})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	c.Close()
}

func compressWith(t *testing.T, c Codec, data []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case Gzip:
		w = kgzip.NewWriter(&buf)
	case Zlib:
		w = zlib.NewWriter(&buf)
	case XZ:
		w, err = xz.NewWriter(&buf)
	case LZMA:
		w, err = lzma.NewWriter(&buf)
	case Zstd:
		w, err = zstd.NewWriter(&buf)
	case LZ4:
		w = lz4.NewWriter(&buf)
	default:
		t.Fatalf("no writer for %s", c)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func TestCodecsRoundTrip(t *testing.T) {
	data := []byte(strings.Repeat("model weights ", 1000))
	for _, c := range []Codec{Gzip, Zlib, XZ, LZMA, Zstd, LZ4} {
		t.Run(string(c), func(t *testing.T) {
			b := compressWith(t, c, data)
			if got := Sniff(b); got != c {
				t.Fatalf("sniffed %q", got)
			}
			r, err := NewReader(c, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
	bz := fixture(t, "benign/joblib_bz2.joblib")
	if Sniff(bz) != Bzip2 {
		t.Error("bzip2 joblib not sniffed")
	}
	for _, s := range []string{"", "x", "hello", "\x80\x02N.", "PK\x03\x04", "]q\x00."} {
		if c := Sniff([]byte(s)); c != "" {
			t.Errorf("%q sniffed as %s", s, c)
		}
	}
}

func TestNameHazard(t *testing.T) {
	for name, bad := range map[string]bool{
		"archive/data.pkl": false, "./a/b": false, "a/../b": true, "../x": true, "/etc/passwd": true,
		`C:\x`: true, `..\..\x`: true, "a/b/../../../c": true, "dir/": false, "a\x00b": true, "..foo": false,
	} {
		if got := NameHazard(name) != ""; got != bad {
			t.Errorf("NameHazard(%q) = %v, want %v", name, got, bad)
		}
	}
	for _, c := range []struct {
		name, target  string
		hard, escapes bool
	}{
		{"a/link", "../b", false, false}, {"a/link", "../../b", false, true}, {"link", "/etc", false, true},
		{"link", "x", true, false}, {"a/link", "../x", true, true}, {"link", `C:\x`, false, true},
	} {
		if got := LinkEscapes(c.name, c.target, c.hard); got != c.escapes {
			t.Errorf("LinkEscapes(%q, %q, %v) = %v", c.name, c.target, c.hard, got)
		}
	}
}

func TestWalkTarOffsets(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := map[string]string{"a": "first", strings.Repeat("long/", 40) + "b": "second member", "c": ""}
	order := []string{"a", strings.Repeat("long/", 40) + "b", "c"}
	for _, n := range order {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Format: tar.FormatPAX})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	buf.Write([]byte("appended"))
	b := buf.Bytes()
	if !LooksLikeTar(b) {
		t.Fatal("not a tar")
	}
	var got []string
	res, err := WalkTar(context.Background(), bytes.NewReader(b), int64(len(b)), 10, func(e *TarEntry) error {
		got = append(got, e.Header.Name)
		data := b[e.DataOffset : e.DataOffset+e.Header.Size]
		if string(data) != files[e.Header.Name] {
			t.Errorf("%s: data %q", e.Header.Name, data)
		}
		return nil
	})
	if err != nil || len(got) != 3 || !res.Trailing {
		t.Errorf("walk: %v %v %+v", err, got, res)
	}
	if LooksLikeTar([]byte(strings.Repeat("x", 600))) {
		t.Error("text looks like a tar")
	}
}

func TestSevenZipFixture(t *testing.T) {
	b := fixture(t, "benign/checkpoint.7z")
	sz, err := OpenSevenZip(bytes.NewReader(b), int64(len(b)), 100)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int64{}
	for _, f := range sz.Files {
		if f.FileInfo().IsDir() {
			continue
		}
		c, err := sz.Open(context.Background(), f, Budget{MaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		names[f.Name] = c.Size()
		c.Close()
	}
	if names["README"] != 8 || names["archive/model.pt"] < 500 {
		t.Errorf("members %v", names)
	}
}

func FuzzWalkTar(f *testing.F) {
	f.Add(fixture(f, "benign/torch_legacy_0.1.tar"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "../y"})
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		LooksLikeTar(b)
		_, _ = WalkTar(context.Background(), bytes.NewReader(b), int64(len(b)), 100, func(e *TarEntry) error {
			if e.DataOffset >= 0 {
				_ = NameHazard(e.Header.Name)
				_ = LinkEscapes(e.Header.Name, e.Header.Linkname, e.Header.Typeflag == tar.TypeLink)
			} else {
				c, _ := Materialize(context.Background(), e.Reader, Budget{MaxSize: 1 << 20})
				c.Close()
			}
			return nil
		})
	})
}

func FuzzSevenZip(f *testing.F) {
	f.Add(fixture(f, "benign/checkpoint.7z"))
	f.Add(fixture(f, "../../../../testdata/corpus/malicious/torch/nullifai_7z.pt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sz, err := OpenSevenZip(bytes.NewReader(b), int64(len(b)), 100)
		if err != nil {
			return
		}
		for _, file := range sz.Files {
			c, _ := sz.Open(context.Background(), file, Budget{MaxSize: 1 << 20, MaxRatio: 100, Compressed: int64(len(b))})
			if c != nil {
				c.Close()
			}
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, n := range []string{"benign/joblib_zlib.joblib", "benign/joblib_gzip.joblib", "benign/joblib_bz2.joblib",
		"benign/joblib_lzma.joblib", "benign/joblib_xz.joblib", "benign/joblib_lz4.joblib", "benign/data.pkl.zst"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Sniff(b)
		if c == "" {
			return
		}
		r, err := NewReader(c, bytes.NewReader(b))
		if err != nil {
			return
		}
		out, _ := Materialize(context.Background(), r, Budget{MaxSize: 4 << 20, MaxRatio: 1000, Compressed: int64(len(b))})
		if out.Size() > 4<<20 {
			t.Fatalf("%d bytes out", out.Size())
		}
		out.Close()
		r.Close()
	})
}

func TestCoderDictionary(t *testing.T) {
	lzma := []byte{0x03, 0x01, 0x01}
	for _, c := range []struct {
		method, props []byte
		want          uint64
	}{
		{lzma, []byte{0x5d, 0, 0, 0, 1}, 1 << 24},
		{lzma, []byte{0x5d, 0xff, 0xff, 0xff, 0xff}, 1<<32 - 1},
		{[]byte{0x21}, []byte{16}, 1 << 20},
		{[]byte{0x21}, []byte{41}, 1 << 62},
		{[]byte{0x00}, nil, 0},
	} {
		if got := coderDictionary(c.method, c.props); got != c.want {
			t.Errorf("%x %x: %d, want %d", c.method, c.props, got, c.want)
		}
	}
}

func TestMaterializeSpentBudget(t *testing.T) {
	for _, max := range []int64{0, -5} {
		c, err := Materialize(context.Background(), bytes.NewReader([]byte("data")), Budget{MaxSize: max})
		var be *BombError
		if !errors.As(err, &be) || c.Size() != 0 {
			t.Errorf("MaxSize %d: %v, %d bytes", max, err, c.Size())
		}
	}
}
