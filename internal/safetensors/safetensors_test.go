package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func read(t testing.TB, b []byte) (*Header, error) {
	t.Helper()
	return ReadHeader(context.Background(), bytes.NewReader(b), int64(len(b)))
}

// rewrite re-creates a file from its header and data with the Go writer.
func rewrite(t testing.TB, b []byte, h *Header) []byte {
	t.Helper()
	var tensors []Tensor
	for _, ti := range h.Tensors {
		tensors = append(tensors, Tensor{TensorDesc{ti.Name, ti.DType, ti.Shape}, b[h.DataOffset+int64(ti.Begin) : h.DataOffset+int64(ti.End)]})
	}
	var out bytes.Buffer
	if err := Write(&out, tensors, h.Metadata); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestTorchFixtures reads files written from real torch tensors (see
// testdata/gen_fixtures.py): each is valid, and the Go writer re-creates
// it byte for byte.
func TestTorchFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/torch_*.safetensors")
	if len(files) != 3 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !Match(b, int64(len(b))) {
			t.Errorf("%s: Match false", p)
		}
		h, err := read(t, b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if ps := h.Validate(); len(ps) != 0 {
			t.Errorf("%s: problems %+v", p, ps)
		}
		if got := rewrite(t, b, h); !bytes.Equal(got, b) {
			t.Errorf("%s: Go writer output differs:\n got %q\nwant %q", p, got[:min(len(got), 300)], b[:min(len(b), 300)])
		}
	}
	b, _ := os.ReadFile("testdata/torch_mixed.safetensors")
	h, _ := read(t, b)
	if h.Metadata["note"] != "tabs\tand \"quotes\" and ünïcode" || len(h.Tensors) != 14 {
		t.Errorf("metadata %q, %d tensors", h.Metadata, len(h.Tensors))
	}
	for _, ti := range h.Tensors {
		if ti.Name == "scalar" && (len(ti.Shape) != 0 || ti.End-ti.Begin != 4) {
			t.Errorf("scalar: %+v", ti)
		}
	}
}

// TestReferenceVectors: outputs the reference implementation's own tests
// expect, byte for byte.
func TestReferenceVectors(t *testing.T) {
	f32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	data := f32(0, 1, 2, 3, 4, 5)
	var out bytes.Buffer
	if err := Write(&out, []Tensor{{TensorDesc{"attn.0", F32, []uint64{1, 2, 3}}, data}}, nil); err != nil {
		t.Fatal(err)
	}
	want := append(binary.LittleEndian.AppendUint64(nil, 64), `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`...)
	if !bytes.Equal(out.Bytes(), append(want, data...)) {
		t.Errorf("attn.0:\n got %q\nwant %q", out.Bytes(), want)
	}
	out.Reset()
	Write(&out, []Tensor{{TensorDesc{"attn0", F32, []uint64{1, 1, 2, 3}}, data}}, nil)
	want = append(binary.LittleEndian.AppendUint64(nil, 72), `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `...)
	if !bytes.Equal(out.Bytes(), append(want, data...)) {
		t.Errorf("attn0 (padded):\n got %q\nwant %q", out.Bytes(), want)
	}
	out.Reset()
	Write(&out, nil, nil)
	if want := []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("empty: %q", out.Bytes())
	}
}

func corpusFile(t *testing.T) []byte {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "corpus", "benign", "safetensors", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorpusFile(t *testing.T) {
	b := corpusFile(t)
	h, err := read(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if ps := h.Validate(); len(ps) != 0 || len(h.Tensors) != 3 || h.Metadata["format"] != "pt" {
		t.Errorf("problems %+v, tensors %d, metadata %v", ps, len(h.Tensors), h.Metadata)
	}
}

// file builds a safetensors file from a raw JSON header and a data size.
func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestHeaderErrors(t *testing.T) {
	cases := map[string][]byte{
		"short":            []byte("\x01\x00"),
		"length too big":   binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1),
		"length past end":  append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...),
		"bad utf8":         file("{\"\xff\":1}", 0),
		"not json":         file("{nope}", 0),
		"array":            file("[1,2]", 0),
		"tensor not obj":   file(`{"a":[1]}`, 0),
		"missing offsets":  file(`{"a":{"dtype":"F32","shape":[1]}}`, 4),
		"dtype not string": file(`{"a":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}`, 4),
		"negative dim":     file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4),
		"float dim":        file(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4),
		"three offsets":    file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4),
		"field twice":      file(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, 4),
		"junk after json":  file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x`, 4),
		"truncated json":   file(`{"a":{"dtype":"F32"`, 4),
		"too many dims":    file(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 70)+`1],"data_offsets":[0,4]}}`, 4),
	}
	for name, b := range cases {
		_, err := read(t, b)
		var he *HeaderError
		if !errors.As(err, &he) {
			t.Errorf("%s: err %v, want a HeaderError", name, err)
		}
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want ProblemKind
	}{
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), Layout},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), Layout},
		{"trailing", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 100), Layout},
		{"past end", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), Layout},
		{"mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), Layout},
		{"reversed", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, 8), Layout},
		{"overflow", file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), Layout},
		{"half byte", file(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, 1), Layout},
		{"unknown field", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"pickle":"x"}}`, 4), Layout},
		{"unknown dtype", file(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}`, 4), UnknownDType},
		{"duplicate", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), Duplicate},
		{"metadata number", file(`{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), Metadata},
		{"metadata list", file(`{"__metadata__":["x"],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), Metadata},
	}
	for _, tc := range cases {
		h, err := read(t, tc.b)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		found := false
		for _, p := range h.Validate() {
			found = found || p.Kind == tc.want
		}
		if !found {
			t.Errorf("%s: want kind %d, got %+v", tc.name, tc.want, h.Validate())
		}
	}
	// Sub-byte dtypes that fill whole bytes are fine.
	h, _ := read(t, file(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]},"b":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[2,5]}}`, 5))
	if ps := h.Validate(); len(ps) != 0 {
		t.Errorf("F4/F6: %+v", ps)
	}
	// null metadata and zero-size tensors are valid.
	h, _ = read(t, file(`{"__metadata__":null,"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	if ps := h.Validate(); len(ps) != 0 {
		t.Errorf("null metadata, empty tensor: %+v", ps)
	}
}

func TestPolyglot(t *testing.T) {
	clean, _ := os.ReadFile("testdata/torch_mixed.safetensors")
	if ps, err := CheckPolyglot(bytes.NewReader(clean), int64(len(clean))); err != nil || len(ps) != 0 {
		t.Errorf("clean file: %v %+v", err, ps)
	}
	// A zip central directory and end record in the last tensor's bytes.
	cd := append([]byte("PK\x01\x02"), make([]byte, 42)...)
	eocd := append([]byte("PK\x05\x06"), make([]byte, 18)...)
	binary.LittleEndian.PutUint16(eocd[8:], 1)
	binary.LittleEndian.PutUint16(eocd[10:], 1)
	binary.LittleEndian.PutUint32(eocd[12:], uint32(len(cd)))
	body := append(append(make([]byte, 64), cd...), eocd...)
	n := strconv.Itoa(len(body))
	header := `{"w":{"dtype":"U8","shape":[` + n + `],"data_offsets":[0,` + n + `]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	b := file(header, 0)
	binary.LittleEndian.PutUint32(body[64+len(cd)+16:], uint32(len(b)+64))
	b = append(b, body...)
	h, err := read(t, b)
	if err != nil || len(h.Validate()) != 0 {
		t.Fatalf("polyglot is valid safetensors: %v %+v", err, h.Validate())
	}
	ps, err := CheckPolyglot(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(ps) != 1 || ps[0].Kind != Polyglot {
		t.Errorf("zip in data: %v %+v", err, ps)
	}
	// A header length whose bytes spell PK\x03\x04.
	pk := binary.LittleEndian.Uint64([]byte("PK\x03\x04\x00\x00\x00\x00"))
	hb := make([]byte, 8+pk)
	copy(hb, "PK\x03\x04")
	hb[8] = '{'
	hb[9] = '}'
	for i := 10; i < len(hb); i++ {
		hb[i] = ' '
	}
	h, err = read(t, hb)
	if err != nil || len(h.Validate()) != 0 {
		t.Fatalf("PK header: %v", err)
	}
	ps, _ = CheckPolyglot(bytes.NewReader(hb), int64(len(hb)))
	if len(ps) == 0 {
		t.Errorf("PK\\x03\\x04 header length not reported")
	}
}

func TestWriterStreaming(t *testing.T) {
	descs := []TensorDesc{{"b", F16, []uint64{2}}, {"a", F32, []uint64{2}}, {"c", I64, []uint64{1}}}
	var out bytes.Buffer
	w, err := NewWriter(&out, descs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	order := []string{}
	for _, ti := range w.Layout() {
		order = append(order, ti.Name)
	}
	if strings.Join(order, ",") != "c,a,b" {
		t.Errorf("layout %v, want I64 then F32 then F16", order)
	}
	if err := w.WriteTensor("a", bytes.NewReader(make([]byte, 8))); err == nil {
		t.Errorf("out of order write accepted")
	}
	if err := w.WriteTensor("c", bytes.NewReader(make([]byte, 3))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short tensor: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Errorf("Close after a failed write succeeded")
	}
	out.Reset()
	w, _ = NewWriter(&out, descs, nil)
	for _, ti := range w.Layout() {
		if err := w.WriteTensor(ti.Name, bytes.NewReader(make([]byte, ti.End-ti.Begin))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := read(t, out.Bytes())
	if err != nil || len(h.Validate()) != 0 || h.DataOffset%8 != 0 {
		t.Errorf("written file: %v %+v", err, h)
	}
	for _, bad := range [][]TensorDesc{
		{{"x", F32, nil}, {"x", F32, nil}},
		{{"x", "Q4", nil}},
		{{MetadataKey, F32, nil}},
		{{"x", F4, []uint64{3}}},
	} {
		if _, err := NewWriter(io.Discard, bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
