// Package gguf reads the header of GGUF files (llama.cpp's model format,
// versions 1 to 3, either byte order): the metadata key/values and the
// tensor index. It reads only the header, through a small buffer, and
// skips array payloads by offset, so a multi-gigabyte model costs a few
// reads. Every count and length is checked against the bytes left in the
// file and against limits before anything is allocated.
//
// Parse returns what it read even when it fails part-way, so a caller can
// still check the metadata before the break (a chat template, say).
// Validate checks the tensor index the way llama.cpp's loader does, and
// reports what is wrong as Problems rather than errors. Encode writes GGUF
// files, for tests and fixtures.
package gguf

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	"modelgate/internal/limits"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is unset.
const DefaultAlignment = 32

// KV is one metadata key/value.
type KV struct {
	Key  string
	Type ValueType
	// Offset is where the value starts in the file (for a string, its
	// length field; the text follows it).
	Offset int64
	// Value holds a scalar: uint64 for unsigned types, int64 for signed
	// ones, float64, or bool.
	Value any
	// Str is a string value if it was kept (strings Options.KeepString
	// selects, and others of up to 64 bytes), and StrLen its length
	// whether kept or not.
	Str    string
	StrLen uint64
	Kept   bool
	// ElemType and Len describe an array; its items are not kept.
	ElemType ValueType
	Len      uint64
}

// Uint returns a scalar as an unsigned integer, if it is one.
func (kv *KV) Uint() (uint64, bool) {
	switch v := kv.Value.(type) {
	case uint64:
		return v, true
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// TensorInfo is one entry of the tensor index.
type TensorInfo struct {
	Name string
	Dims []uint64
	Type TensorType
	// Offset is relative to the start of the data section.
	Offset uint64
	// InfoOffset is where the entry starts in the file.
	InfoOffset int64
}

// File is a parsed GGUF header.
type File struct {
	Version   uint32
	ByteOrder binary.ByteOrder
	KVs       []KV
	Tensors   []TensorInfo
	// Alignment is general.alignment, or DefaultAlignment.
	Alignment uint64
	// DataOffset is where the data section starts (the end of the header
	// rounded up to Alignment).
	DataOffset int64
	Size       int64
	// TensorCount and KVCount are the counts the header declares.
	TensorCount, KVCount uint64
}

// Lookup returns the first key/value with the given key.
func (f *File) Lookup(key string) (*KV, bool) {
	for i := range f.KVs {
		if f.KVs[i].Key == key {
			return &f.KVs[i], true
		}
	}
	return nil, false
}

// Options bound a parse. Zero fields take the defaults.
type Options struct {
	// KeepString says which string values to keep whole (up to
	// MaxKeptString bytes); default: chat templates (IsTemplateKey).
	KeepString func(key string) bool
	// MaxKeptString bounds a kept string (default 16 MiB).
	MaxKeptString int64
	// MaxKVs and MaxTensors bound the counts (defaults 1<<16 and 1<<18:
	// real models have a few dozen keys and a few thousand tensors).
	MaxKVs, MaxTensors uint64
	// MaxKeyLen bounds keys and tensor names (default 64 KiB).
	MaxKeyLen uint64
	// MaxRetained bounds the bytes kept in memory for keys, tensor names
	// and kept strings together (default 64 MiB; real headers keep well
	// under a megabyte, vocabularies being skipped).
	MaxRetained int64
}

func (o Options) withDefaults() Options {
	if o.KeepString == nil {
		o.KeepString = IsTemplateKey
	}
	if o.MaxKeptString <= 0 {
		o.MaxKeptString = 16 << 20
	}
	if o.MaxKVs == 0 {
		o.MaxKVs = 1 << 16
	}
	if o.MaxTensors == 0 {
		o.MaxTensors = 1 << 18
	}
	if o.MaxKeyLen == 0 {
		o.MaxKeyLen = 64 << 10
	}
	if o.MaxRetained <= 0 {
		o.MaxRetained = 64 << 20
	}
	return o
}

// IsTemplateKey reports whether a key holds a chat template:
// tokenizer.chat_template, its named variants (tokenizer.chat_template.
// tool_use, …), and any other key naming a chat template.
func IsTemplateKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "chat_template")
}

// maxArrayDepth bounds arrays of arrays (llama.cpp reads none).
const maxArrayDepth = 3

// Match reports whether head starts like a GGUF file of a known version.
func Match(head []byte) bool {
	if len(head) < 8 || string(head[:4]) != Magic {
		return false
	}
	_, _, ok := version(head[4:8])
	return ok
}

// version decodes the version field, which also tells the byte order:
// big-endian files carry the same magic bytes and a swapped version.
func version(p []byte) (uint32, binary.ByteOrder, bool) {
	if v := binary.LittleEndian.Uint32(p); v >= 1 && v <= 3 {
		return v, binary.LittleEndian, true
	}
	if v := binary.BigEndian.Uint32(p); v >= 1 && v <= 3 {
		return v, binary.BigEndian, true
	}
	return 0, nil, false
}

// Parse reads the header. On error it returns the part it read.
func Parse(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*File, error) {
	opts = opts.withDefaults()
	b := newReader(r, size)
	f := &File{Size: size, Alignment: DefaultAlignment}
	p, err := b.bytes(8, "header")
	if err != nil {
		return f, err
	}
	if string(p[:4]) != Magic {
		return f, malformed(0, "not a GGUF file (magic %q)", p[:4])
	}
	v, order, ok := version(p[4:8])
	if !ok {
		return f, malformed(4, "unsupported GGUF version %#x", binary.LittleEndian.Uint32(p[4:8]))
	}
	f.Version, f.ByteOrder, b.order = v, order, order
	count := func(what string) (uint64, error) {
		if v == 1 {
			n, err := b.u32(what)
			return uint64(n), err
		}
		return b.u64(what)
	}
	if f.TensorCount, err = count("tensor count"); err != nil {
		return f, err
	}
	if f.KVCount, err = count("metadata count"); err != nil {
		return f, err
	}
	// The smallest key/value is a length, an empty key, a type and one
	// byte; the smallest tensor entry a name length, a dimension count,
	// a type and an offset. Counts beyond what the file can hold are
	// malformed, not a reason to allocate.
	lenSize := int64(8)
	if v == 1 {
		lenSize = 4
	}
	switch {
	case f.KVCount > uint64(b.left()/(lenSize+5)):
		return f, malformed(16, "metadata count %d does not fit in the %d bytes left", f.KVCount, b.left())
	case f.KVCount > opts.MaxKVs:
		return f, limits.Exceeded("GGUFMaxKVs", int64(min(f.KVCount, 1<<62)), int64(opts.MaxKVs), 16)
	case f.TensorCount > uint64(b.left()/(lenSize+16)):
		return f, malformed(8, "tensor count %d does not fit in the %d bytes left", f.TensorCount, b.left())
	case f.TensorCount > opts.MaxTensors:
		return f, limits.Exceeded("GGUFMaxTensors", int64(min(f.TensorCount, 1<<62)), int64(opts.MaxTensors), 8)
	}
	ps := &parser{b: b, f: f, opts: opts, lenSize: lenSize}
	f.KVs = make([]KV, 0, min(f.KVCount, 1024))
	for i := range f.KVCount {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return f, err
			}
		}
		if err := ps.kv(ctx); err != nil {
			return f, err
		}
	}
	if kv, ok := f.Lookup("general.alignment"); ok {
		// Validate reports a bad alignment; parsing goes on with the
		// default so the index can still be checked.
		if a, ok := kv.Uint(); ok && kv.Type == TypeUint32 && a != 0 && a&(a-1) == 0 {
			f.Alignment = a
		}
	}
	f.Tensors = make([]TensorInfo, 0, min(f.TensorCount, 4096))
	for i := range f.TensorCount {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return f, err
			}
		}
		if err := ps.tensor(); err != nil {
			return f, err
		}
	}
	end := uint64(b.off)
	f.DataOffset = int64(alignUp(end, f.Alignment))
	return f, nil
}

func alignUp(n, a uint64) uint64 {
	if r := n % a; r != 0 {
		return n + a - r
	}
	return n
}

type parser struct {
	b        *breader
	f        *File
	opts     Options
	lenSize  int64
	retained int64
}

// retain accounts for n bytes kept in memory.
func (p *parser) retain(n int64, off int64) error {
	p.retained += n
	if p.retained > p.opts.MaxRetained {
		return limits.Exceeded("GGUFMaxRetained", p.retained, p.opts.MaxRetained, off)
	}
	return nil
}

func (p *parser) length(what string) (uint64, error) {
	if p.lenSize == 4 {
		n, err := p.b.u32(what)
		return uint64(n), err
	}
	return p.b.u64(what)
}

// name reads a key or tensor name.
func (p *parser) name(what string) (string, error) {
	off := p.b.off
	n, err := p.length(what + " length")
	if err != nil {
		return "", err
	}
	if n > p.opts.MaxKeyLen {
		if n > uint64(p.b.left()) {
			return "", malformed(off, "%s length %d, only %d bytes left", what, n, p.b.left())
		}
		return "", limits.Exceeded("GGUFMaxKeyLen", int64(n), int64(p.opts.MaxKeyLen), off)
	}
	if err := p.retain(int64(n)+64, off); err != nil {
		return "", err
	}
	return p.b.readString(int64(n), what)
}

func (p *parser) kv(ctx context.Context) error {
	key, err := p.name("metadata key")
	if err != nil {
		return err
	}
	t, err := p.b.u32("metadata value type")
	if err != nil {
		return err
	}
	kv := KV{Key: key, Type: ValueType(t), Offset: p.b.off}
	if err := p.value(ctx, &kv, ValueType(t), 0); err != nil {
		p.f.KVs = append(p.f.KVs, kv)
		return fmt.Errorf("metadata %q: %w", shorten(key), err)
	}
	p.f.KVs = append(p.f.KVs, kv)
	return nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// value reads (or skips) one value of type t. kv is filled in at depth 0.
func (p *parser) value(ctx context.Context, kv *KV, t ValueType, depth int) error {
	b := p.b
	off := b.off
	if n := scalarSize(t); n > 0 {
		raw, err := b.bytes(int(n), "metadata "+t.String())
		if err != nil || depth > 0 {
			return err
		}
		kv.Value = decodeScalar(b.order, t, raw)
		return nil
	}
	switch t {
	case TypeString:
		n, err := p.length("string length")
		if err != nil {
			return err
		}
		if n > uint64(b.left()) {
			return malformed(off, "string of %d bytes, only %d left", n, b.left())
		}
		if depth == 0 {
			kv.StrLen = n
			if p.opts.KeepString(kv.Key) || n <= 64 {
				if n > uint64(p.opts.MaxKeptString) {
					return limits.Exceeded("GGUFMaxKeptString", int64(n), p.opts.MaxKeptString, off)
				}
				if err := p.retain(int64(n), off); err != nil {
					return err
				}
				kv.Str, err = b.readString(int64(n), "string")
				kv.Kept = err == nil
				return err
			}
		}
		return b.skip(n, "string")
	case TypeArray:
		if depth >= maxArrayDepth {
			return malformed(off, "arrays nested deeper than %d", maxArrayDepth)
		}
		et, err := b.u32("array type")
		if err != nil {
			return err
		}
		n, err := p.length("array length")
		if err != nil {
			return err
		}
		if depth == 0 {
			kv.ElemType, kv.Len = ValueType(et), n
		}
		if sz := scalarSize(ValueType(et)); sz > 0 {
			if n > uint64(b.left())/uint64(sz) {
				return malformed(off, "array of %d %s does not fit in the %d bytes left", n, ValueType(et), b.left())
			}
			return b.skip(n*uint64(sz), "array")
		}
		if ValueType(et) != TypeString && ValueType(et) != TypeArray {
			return malformed(off, "array of unknown type %d", et)
		}
		// Strings and arrays: each holds at least a length field.
		if n > uint64(b.left()/p.lenSize) {
			return malformed(off, "array of %d items does not fit in the %d bytes left", n, b.left())
		}
		for i := range n {
			if i%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := p.value(ctx, kv, ValueType(et), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return malformed(off-4, "unknown metadata value type %d", uint32(t))
}

func decodeScalar(o binary.ByteOrder, t ValueType, raw []byte) any {
	switch t {
	case TypeUint8:
		return uint64(raw[0])
	case TypeInt8:
		return int64(int8(raw[0]))
	case TypeBool:
		return raw[0] != 0
	case TypeUint16:
		return uint64(o.Uint16(raw))
	case TypeInt16:
		return int64(int16(o.Uint16(raw)))
	case TypeUint32:
		return uint64(o.Uint32(raw))
	case TypeInt32:
		return int64(int32(o.Uint32(raw)))
	case TypeFloat32:
		return float64(math.Float32frombits(o.Uint32(raw)))
	case TypeUint64:
		return o.Uint64(raw)
	case TypeInt64:
		return int64(o.Uint64(raw))
	case TypeFloat64:
		return math.Float64frombits(o.Uint64(raw))
	}
	return nil
}

// maxDims bounds a tensor's dimension count while parsing; Validate
// reports more than ggml's four.
const maxDims = 64

func (p *parser) tensor() error {
	b := p.b
	start := b.off
	name, err := p.name("tensor name")
	if err != nil {
		return err
	}
	nd, err := b.u32("tensor dimension count")
	if err != nil {
		return err
	}
	if nd > maxDims {
		return malformed(b.off-4, "tensor %q has %d dimensions", shorten(name), nd)
	}
	if err := p.retain(int64(nd)*8, start); err != nil {
		return err
	}
	ti := TensorInfo{Name: name, InfoOffset: start, Dims: make([]uint64, nd)}
	for i := range ti.Dims {
		if ti.Dims[i], err = p.length("tensor dimension"); err != nil {
			return err
		}
	}
	t, err := b.u32("tensor type")
	if err != nil {
		return err
	}
	ti.Type = TensorType(t)
	if ti.Offset, err = b.u64("tensor offset"); err != nil {
		return err
	}
	p.f.Tensors = append(p.f.Tensors, ti)
	return nil
}
