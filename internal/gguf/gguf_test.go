package gguf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"modelgate/internal/format"
	"modelgate/internal/limits"
)

func corpusDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "corpus")
}

const chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"

func sample(t testing.TB, o EncodeOptions, extra ...Meta) []byte {
	t.Helper()
	kvs := append([]Meta{
		{"general.architecture", "llama"},
		{"general.name", "tiny"},
		{"llama.context_length", uint32(2048)},
		{"tokenizer.ggml.tokens", []string{"<s>", "</s>", "a", "b"}},
		{"tokenizer.ggml.scores", []float32{0, 0, -1, -2}},
		{"tokenizer.chat_template", chatml},
	}, extra...)
	tensors := []Tensor{
		{Name: "token_embd.weight", Dims: []uint64{8, 4}, Type: 0},
		{Name: "blk.0.attn_q.weight", Dims: []uint64{256, 2}, Type: 12}, // Q4_K
		{Name: "output_norm.weight", Dims: []uint64{8}, Type: 1},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, kvs, tensors, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(t testing.TB, b []byte) (*File, error) {
	t.Helper()
	return Parse(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
}

func TestRoundTrip(t *testing.T) {
	for _, o := range []EncodeOptions{{Version: 3}, {Version: 2}, {Version: 1}, {Version: 3, BigEndian: true}} {
		b := sample(t, o)
		if !Match(b) {
			t.Fatalf("%+v: Match false", o)
		}
		f, err := parse(t, b)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if f.Version != o.Version || len(f.KVs) != 6 || len(f.Tensors) != 3 {
			t.Fatalf("%+v: version %d, %d kvs, %d tensors", o, f.Version, len(f.KVs), len(f.Tensors))
		}
		kv, ok := f.Lookup("tokenizer.chat_template")
		if !ok || !kv.Kept || kv.Str != chatml {
			t.Errorf("%+v: template not kept: %+v", o, kv)
		}
		if kv, _ := f.Lookup("llama.context_length"); kv.Value != uint64(2048) {
			t.Errorf("%+v: context_length %v", o, kv.Value)
		}
		if kv, _ := f.Lookup("tokenizer.ggml.tokens"); kv.ElemType != TypeString || kv.Len != 4 {
			t.Errorf("%+v: tokens array %v×%d", o, kv.ElemType, kv.Len)
		}
		if p := f.Validate(); len(p) != 0 {
			t.Errorf("%+v: clean file has problems: %+v", o, p)
		}
		if f.DataOffset%32 != 0 || f.Tensors[1].Offset != 128 || f.Tensors[2].Offset != 128+288 {
			t.Errorf("%+v: layout %d %d %d", o, f.DataOffset, f.Tensors[1].Offset, f.Tensors[2].Offset)
		}
	}
}

// TestCorpus parses the corpus's hand-written GGUF files.
func TestCorpus(t *testing.T) {
	for _, p := range []string{"benign/gguf/tiny_chatml.gguf", "malicious/gguf/ssti_cycler_popen.gguf", "malicious/gguf/ssti_subclasses_popen.gguf"} {
		b, err := os.ReadFile(filepath.Join(corpusDir(), p))
		if err != nil {
			t.Fatal(err)
		}
		f, err := parse(t, b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		kv, ok := f.Lookup("tokenizer.chat_template")
		if !ok || !kv.Kept || !strings.Contains(kv.Str, "{%") {
			t.Errorf("%s: no template", p)
		}
		if len(f.Tensors) != 1 {
			t.Errorf("%s: %d tensors", p, len(f.Tensors))
		}
		if pr := f.Validate(); len(pr) != 0 {
			t.Errorf("%s: problems %+v", p, pr)
		}
	}
}

// TestTruncated cuts a file at every length: each must give an error (or,
// past the header, parse), never a panic.
func TestTruncated(t *testing.T) {
	b := sample(t, EncodeOptions{})
	head, _, _ := EncodeHeader(nil, nil, EncodeOptions{})
	_ = head
	full, _ := parse(t, b)
	end := int(full.DataOffset)
	for n := 0; n < end; n++ {
		f, err := parse(t, b[:n])
		if err == nil && n < end-32 {
			t.Fatalf("cut at %d: no error", n)
		}
		var fe *format.Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("cut at %d: %v is not a format error", n, err)
		}
		if f == nil {
			t.Fatalf("cut at %d: nil file", n)
		}
	}
}

// patch overwrites 8 bytes at off.
func patch(b []byte, off int, v uint64) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint64(c[off:], v)
	return c
}

func TestHostileHeaders(t *testing.T) {
	b := sample(t, EncodeOptions{})
	keyLenAt := 24 // first key's length
	valueAt := keyLenAt + 8 + len("general.architecture")
	strLenAt := valueAt + 4
	cases := []struct {
		name  string
		b     []byte
		limit bool
	}{
		{"huge tensor count", patch(b, 8, 1<<60), false},
		{"huge kv count", patch(b, 16, 1<<60), false},
		{"huge key length", patch(b, keyLenAt, 1<<40), false},
		{"key over limit", patch(b, keyLenAt, 100<<10), false},
		{"huge string", patch(b, strLenAt, 1<<62), false},
		{"unknown value type", func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint32(c[valueAt:], 99); return c }(), false},
		{"bad version", func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint32(c[4:], 7); return c }(), false},
	}
	for _, tc := range cases {
		_, err := parse(t, tc.b)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var fe *format.Error
		if !errors.As(err, &fe) && !errors.Is(err, limits.ErrLimit) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A long key within the file is a limit, not malformed.
	long := strings.Repeat("k", 70<<10)
	var buf bytes.Buffer
	Encode(&buf, []Meta{{long, uint32(1)}}, nil, EncodeOptions{})
	if _, err := parse(t, buf.Bytes()); !errors.Is(err, limits.ErrLimit) {
		t.Errorf("70 KiB key: %v, want a limit", err)
	}
	// Keys, names and kept strings share one memory budget.
	if _, err := Parse(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxRetained: 200}); !errors.Is(err, limits.ErrLimit) {
		t.Errorf("retained budget: %v, want a limit", err)
	}
	// Partial results: a template before the break is still returned.
	whole, _ := parse(t, b)
	f, err := parse(t, b[:whole.Tensors[1].InfoOffset+10])
	if err == nil {
		t.Fatal("cut file parsed")
	}
	if _, ok := f.Lookup("tokenizer.chat_template"); !ok {
		t.Errorf("template before the break was not returned")
	}
}

func TestNestedArrays(t *testing.T) {
	// Hand-build arrays of arrays: depth 2 parses, depth 4 does not.
	build := func(depth int) []byte {
		var e encoder
		e.v, e.order = 3, binary.LittleEndian
		e.buf.WriteString(Magic)
		e.u32(3)
		e.u64(0)
		e.u64(1)
		e.str("nested")
		e.u32(uint32(TypeArray))
		for range depth {
			e.u32(uint32(TypeArray))
			e.u64(1)
		}
		e.u32(uint32(TypeUint8))
		e.u64(1)
		e.buf.WriteByte(7)
		return e.buf.Bytes()
	}
	if _, err := parse(t, build(1)); err != nil {
		t.Errorf("depth 2: %v", err)
	}
	if _, err := parse(t, build(4)); err == nil {
		t.Errorf("depth 5 parsed")
	}
}

func kinds(ps []Problem) map[ProblemKind]int {
	m := map[ProblemKind]int{}
	for _, p := range ps {
		m[p.Kind]++
	}
	return m
}

func TestValidate(t *testing.T) {
	good := sample(t, EncodeOptions{})
	f, _ := parse(t, good)
	tensorAt := func(i int) int { return int(f.Tensors[i].InfoOffset) }
	// offsets of fields inside tensor entry i
	offsetField := func(i int) int {
		ti := f.Tensors[i]
		return tensorAt(i) + 8 + len(ti.Name) + 4 + 8*len(ti.Dims) + 4
	}
	typeField := func(i int) int { return offsetField(i) - 4 }
	setType := func(b []byte, i int, ty uint32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[typeField(i):], ty)
		return c
	}
	cases := []struct {
		name string
		b    []byte
		want ProblemKind
	}{
		{"overlap", patch(good, offsetField(1), 0), TensorIndex},
		{"misaligned", patch(good, offsetField(2), 33), TensorIndex},
		{"out of range", patch(good, offsetField(2), 1<<40), TensorIndex},
		{"offset overflow", patch(good, offsetField(2), 1<<64-32), TensorIndex},
		{"removed type", setType(good, 2, 4), TensorIndex},
		{"unknown type", setType(good, 2, 77), UnknownType},
		{"dims overflow", patch(good, tensorAt(0)+8+len(f.Tensors[0].Name)+4, 1<<62), TensorIndex},
		{"block mismatch", setType(good, 0, 2), TensorIndex}, // Q4_0 needs ne0 % 32
		{"trailing data", append(bytes.Clone(good), make([]byte, 4096)...), TrailingData},
	}
	for _, tc := range cases {
		f, err := parse(t, tc.b)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if kinds(f.Validate())[tc.want] == 0 {
			t.Errorf("%s: want kind %d, got %+v", tc.name, tc.want, f.Validate())
		}
	}
	dup := sample(t, EncodeOptions{}, Meta{"general.name", "again"})
	f2, _ := parse(t, dup)
	if kinds(f2.Validate())[Duplicate] == 0 {
		t.Errorf("duplicate key not reported")
	}
	var buf bytes.Buffer
	Encode(&buf, []Meta{{"general.alignment", uint32(24)}}, nil, EncodeOptions{})
	f3, _ := parse(t, buf.Bytes())
	if kinds(f3.Validate())[TensorIndex] == 0 {
		t.Errorf("alignment 24 not reported")
	}
	buf.Reset()
	Encode(&buf, nil, []Tensor{{Name: "a", Dims: []uint64{1, 1, 1, 1, 1}, Type: 0}, {Name: "a", Dims: []uint64{4}, Type: 0}}, EncodeOptions{})
	f4, _ := parse(t, buf.Bytes())
	if k := kinds(f4.Validate()); k[Duplicate] == 0 || k[TensorIndex] == 0 {
		t.Errorf("5 dims and duplicate name: %+v", f4.Validate())
	}
	buf.Reset()
	Encode(&buf, []Meta{{"general.alignment", uint32(64)}}, []Tensor{{Name: "a", Dims: []uint64{3}, Type: 0}, {Name: "b", Dims: []uint64{3}, Type: 0}}, EncodeOptions{Alignment: 64})
	f5, err := parse(t, buf.Bytes())
	if err != nil || f5.Alignment != 64 || f5.Tensors[1].Offset != 64 || len(f5.Validate()) != 0 {
		t.Errorf("alignment 64: %v %+v %+v", err, f5, f5.Validate())
	}
}
