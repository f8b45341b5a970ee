package protoscan

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// fields decodes top-level fields with protowire over the whole buffer:
// the reference protoscan must agree with.
func reference(b []byte) ([]Field, bool) {
	var out []Field
	pos := 0
	for pos < len(b) {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return out, false
		}
		f := Field{Num: num, Type: typ, Start: int64(pos)}
		m := protowire.ConsumeFieldValue(num, typ, b[pos+n:])
		if m < 0 || typ == protowire.EndGroupType {
			return out, false
		}
		switch typ {
		case protowire.BytesType:
			v, k := protowire.ConsumeVarint(b[pos+n:])
			f.Off, f.Len = int64(pos+n+k), int64(v)
		case protowire.VarintType:
			f.Val, _ = protowire.ConsumeVarint(b[pos+n:])
		case protowire.Fixed32Type:
			v, _ := protowire.ConsumeFixed32(b[pos+n:])
			f.Val = uint64(v)
		case protowire.Fixed64Type:
			f.Val, _ = protowire.ConsumeFixed64(b[pos+n:])
		}
		out = append(out, f)
		pos += n + m
	}
	return out, true
}

func scanAll(b []byte) ([]Field, error) {
	s := NewSource(bytes.NewReader(b), int64(len(b)))
	m := s.Root()
	var out []Field
	for {
		f, ok, err := m.Next()
		if err != nil || !ok {
			return out, err
		}
		out = append(out, f)
	}
}

func TestAgainstProtowire(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, bytes.Repeat([]byte("x"), 100_000)) // beyond one window
	b = protowire.AppendTag(b, 3, protowire.StartGroupType)
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 3, protowire.EndGroupType)
	b = protowire.AppendTag(b, 5, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 9)
	want, ok := reference(b)
	if !ok {
		t.Fatal("reference failed")
	}
	got, err := scanAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fields, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("field %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	s := NewSource(bytes.NewReader(b), int64(len(b)))
	p, err := s.Bytes(got[1], 1<<20)
	if err != nil || len(p) != 100_000 {
		t.Errorf("Bytes: %d, %v", len(p), err)
	}
	if _, err := s.Bytes(got[1], 10); err == nil {
		t.Error("Bytes beyond max succeeded")
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 'a'}, {0x80}, {0x0b}, {0x0c}, {0x0f}} {
		if _, err := scanAll(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

// FuzzNext checks protoscan against protowire on arbitrary input: where
// protowire decodes every top-level field, protoscan must decode the same.
func FuzzNext(f *testing.F) {
	f.Add([]byte{0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i'})
	f.Add([]byte{0x1b, 0x25, 1, 2, 3, 4, 0x1c})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := scanAll(b)
		want, ok := reference(b)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("protoscan failed where protowire did not: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d fields, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("field %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
