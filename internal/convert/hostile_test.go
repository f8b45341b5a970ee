package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pk assembles pickle bytes by opcode, for checkpoints torch.save would
// never write. Nothing here is ever unpickled by Python.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) global(mod, name string) *pk {
	p.WriteString("c" + mod + "\n" + name + "\n")
	return p
}

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int32) *pk {
	p.WriteByte('J')
	binary.Write(&p.Buffer, binary.LittleEndian, n)
	return p
}

func (p *pk) ints(ns ...int32) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// storage pushes persistent_load(('storage', torch.<class>, key, 'cpu', numel)).
func (p *pk) storage(class, key string, numel int32) *pk {
	p.op('(').str("storage").global("torch", class).str(key).str("cpu").int(numel).op('t', 'Q')
	return p
}

// tensor pushes _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()).
func (p *pk) tensor(class, key string, numel, offset int32, shape, stride []int32) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.storage(class, key, numel).int(offset).ints(shape...).ints(stride...)
	p.op(0x89).global("collections", "OrderedDict").op(')', 'R', 't', 'R')
	return p
}

func (p *pk) stop() []byte { p.op('.'); return p.Bytes() }

// zipCheckpoint writes a zip checkpoint with the given data pickle and
// storage records (name → bytes, under archive/).
func zipCheckpoint(t *testing.T, pickle []byte, records map[string][]byte, method uint16) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ck.pt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	// Method 12 (bzip2) is only named, never decompressed: the
	// converter refuses it before reading.
	zw.RegisterCompressor(12, func(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil })
	add := func(name string, b []byte, m uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	add("data.pkl", pickle, zip.Store)
	for name, b := range records {
		add(name, b, method)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func floats(n int) []byte { return bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, n) } // 1.0f

// convertUnscanned runs the conversion without the scan, so that the
// allowlist alone is tested.
func convertUnscanned(t *testing.T, in string) (*job, error) {
	t.Helper()
	opts := testOptions(t)
	out := filepath.Join(t.TempDir(), "out.safetensors")
	j, err := prepare(context.Background(), &opts, in, out)
	if err != nil {
		return nil, err
	}
	t.Cleanup(j.discard)
	if err := j.run(context.Background()); err != nil {
		return nil, err
	}
	return j, j.commit()
}

func TestHostileRefused(t *testing.T) {
	one := map[string][]byte{"data/0": floats(4)}
	cases := []struct {
		name    string
		pickle  []byte
		records map[string][]byte
		method  uint16
		want    string
	}{
		{"os.system", new(pk).op('}', '(').str("a").global("os", "system").str("echo pwned").op(0x85, 'R', 'u').stop(), nil, 0,
			"os.system is not needed"},
		{"BUILD on a tensor", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).
			op('(').storage("FloatStorage", "0", 4).int(0).ints(2).ints(1).op('t', 'b', 'u').stop(), one, 0, "BUILD sets the state"},
		{"SETITEMS on a tensor", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).
			op('(').int(0).int(5).op('u', 'u').stop(), one, 0, "calls __setitem__"},
		{"backward hooks", new(pk).op('}', '(').str("a").global("torch._utils", "_rebuild_tensor_v2").op('(').
			storage("FloatStorage", "0", 4).int(0).ints(4).ints(1).op(0x89).
			global("collections", "OrderedDict").op(')', 'R', '(').int(1).str("hook").op('u', 't', 'R', 'u').stop(), one, 0, "backward hooks"},
		{"from_type to a storage class", new(pk).op('}', '(').str("a").global("torch._tensor", "_rebuild_from_type_v2").op('(').
			global("torch._utils", "_rebuild_tensor_v2").global("torch", "FloatStorage").op('(').
			storage("FloatStorage", "0", 4).int(0).ints(4).ints(1).op(0x89).global("collections", "OrderedDict").op(')', 'R', 't').
			op('}', 't', 'R', 'u').stop(), one, 0, "not a torch tensor class"},
		{"from_type sets data", new(pk).op('}', '(').str("a").global("torch._tensor", "_rebuild_from_type_v2").op('(').
			global("torch._utils", "_rebuild_tensor_v2").global("torch", "Tensor").op('(').
			storage("FloatStorage", "0", 4).int(0).ints(4).ints(1).op(0x89).global("collections", "OrderedDict").op(')', 'R', 't').
			op('}').str("data").int(1).op('s', 't', 'R', 'u').stop(), one, 0, `attribute "data"`},
		{"storage named as two types", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).
			str("b").tensor("IntStorage", "0", 4, 0, []int32{4}, []int32{1}).op('u').stop(), one, 0, "referenced as"},
		{"view past the storage", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 2, []int32{3}, []int32{1}).op('u').stop(),
			one, 0, "reach past"},
		{"record too short", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 8, 0, []int32{8}, []int32{1}).op('u').stop(),
			one, 0, "holds 16 bytes"},
		{"record missing", new(pk).op('}', '(').str("a").tensor("FloatStorage", "1", 4, 0, []int32{4}, []int32{1}).op('u').stop(),
			one, 0, "has no"},
		{"module record", new(pk).op('}', '(').str("a").op('(').str("module").global("torch", "Tensor").str("x").str("y").op('t', 'Q', 'u').stop(),
			nil, 0, "module records appear only in legacy"},
		{"dict holding itself", new(pk).op('}', 'q', 0, '(').str("a").op('h', 0, 'u').stop(), nil, 0, "contains itself"},
		{"a list", new(pk).op(']').stop(), nil, 0, "not a dict"},
		{"NEWOBJ of OrderedDict", new(pk).global("collections", "OrderedDict").op(')', 0x81).stop(), nil, 0, "torch.save writes REDUCE"},
		{"five arguments", new(pk).op('}', '(').str("a").global("torch._utils", "_rebuild_tensor_v2").op('(').
			storage("FloatStorage", "0", 4).int(0).ints(4).ints(1).op(0x89, 't', 'R', 'u').stop(), one, 0, "takes 6 or 7"},
		{"v3 with a class for a dtype", new(pk).op('}', '(').str("a").global("torch._utils", "_rebuild_tensor_v3").op('(').
			storage("UntypedStorage", "0", 16).int(0).ints(4).ints(1).op(0x89).global("collections", "OrderedDict").op(')', 'R').
			global("torch", "FloatStorage").op('t', 'R', 'u').stop(), one, 0, "not a dtype"},
		{"bzip2 record", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).op('u').stop(),
			one, 12, "compression method 12"},
		{"huge expansion", new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{1 << 30, 4}, []int32{0, 0}).op('u').stop(),
			one, 0, "limit"},
		{"int key", new(pk).op('}', '(').int(3).tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).op('u').stop(),
			one, 0, "not a string"},
		{"broken stream", new(pk).op('}', '(').str("a").Bytes(), nil, 0, "breaks"},
		{"no tensors", new(pk).op('}', '(').str("a").int(1).op('u').stop(), nil, 0, "no tensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := zipCheckpoint(t, c.pickle, c.records, c.method)
			_, err := convertUnscanned(t, path)
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a refusal mentioning %q", err, c.want)
			}
		})
	}
}

func TestRepeatedKeyLastWins(t *testing.T) {
	// {'a': tensor of storage 0, 'b': …, 'a': tensor of storage 1}: a
	// dict keeps the last value, in the first key's place.
	p := new(pk).op('}', '(').str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}).
		str("b").tensor("FloatStorage", "0", 4, 0, []int32{2}, []int32{1}).
		str("a").tensor("IntStorage", "1", 2, 0, []int32{2}, []int32{1}).op('u').stop()
	path := zipCheckpoint(t, p, map[string][]byte{"data/0": floats(4), "data/1": {7, 0, 0, 0, 9, 0, 0, 0}}, zip.Store)
	j, err := convertUnscanned(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.plan.byName["a"]; got.DType != "int32" || got.Shape[0] != 2 {
		t.Errorf("a is %s %v, want the later int32 [2]", got.DType, got.Shape)
	}
	_, tensors := readOutput(t, j.out)
	if len(tensors) != 2 || tensors["a"].DType != "I32" {
		t.Errorf("output %v", tensors)
	}
}

func TestDeflatedAndWrapper(t *testing.T) {
	// A top level with a tensor is the state dict even with a "model"
	// entry; the nested dict flattens with dots. Storages are deflated.
	p := new(pk).op('}', '(').str("model").op('}', '(').str("w").tensor("FloatStorage", "0", 4, 0, []int32{2, 2}, []int32{1, 2}).op('u').
		str("bias").tensor("FloatStorage", "1", 3, 1, []int32{2}, []int32{1}).op('u').stop()
	recs := map[string][]byte{"data/0": {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}, "data/1": floats(3)}
	path := zipCheckpoint(t, p, recs, zip.Deflate)
	j, err := convertUnscanned(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if j.res.Key != "" || j.res.Tensors != 2 {
		t.Errorf("key %q, %d tensors", j.res.Key, j.res.Tensors)
	}
	f, _ := os.Open(j.out)
	defer f.Close()
	h, _ := readOutput(t, j.out)
	for _, ti := range h.Tensors {
		if ti.Name == "model.w" {
			b := make([]byte, ti.End-ti.Begin)
			f.ReadAt(b, h.DataOffset+int64(ti.Begin))
			if want := []byte{1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0}; !bytes.Equal(b, want) {
				t.Errorf("model.w = %v, want the transpose %v", b, want)
			}
			return
		}
	}
	t.Error("no model.w")
}
