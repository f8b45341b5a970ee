// Package torchstorage knows how PyTorch checkpoints refer to tensor
// storages: the persistent IDs data pickles hand to torch.load's
// persistent_load, and the element size of each storage type. The zip,
// legacy and TorchScript readers share it; so can a converter.
package torchstorage

import (
	"fmt"

	"modelgate/internal/pickle"
)

// elementSizes maps a storage class name to the bytes per element of its
// dtype (torch/storage.py _dtype_to_storage_type_map, torch 1.x–2.x).
var elementSizes = map[string]int64{
	"DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
	"ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
	"QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1,
	"UntypedStorage": 1, "_UntypedStorage": 1,
}

// dtypes maps a storage class name to the tensor dtype it holds.
var dtypes = map[string]string{
	"DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
	"LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
	"BoolStorage": "bool", "ComplexDoubleStorage": "complex128", "ComplexFloatStorage": "complex64",
	"QUInt8Storage": "quint8", "QInt8Storage": "qint8", "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2",
	"QUInt2x4Storage": "quint2x4", "UntypedStorage": "uint8", "_UntypedStorage": "uint8",
}

// ElementSize returns the bytes per element of a storage class, and false
// for a class torch does not write.
func ElementSize(class string) (int64, bool) {
	n, ok := elementSizes[class]
	return n, ok
}

// DType returns the dtype a storage class holds ("" if unknown).
func DType(class string) string { return dtypes[class] }

// Ref is a storage persistent ID: ('storage', storage_type, key, location,
// numel) in zip and TorchScript archives; legacy files add view metadata.
type Ref struct {
	// Module and Class name the storage type global, e.g. torch.FloatStorage.
	Module, Class string
	Key           string
	Location      string
	// Numel counts elements of the storage's dtype (bytes for untyped).
	Numel int64
	// ElementSize is the dtype's size; 0 when the class is unknown.
	ElementSize int64
	// View is set for legacy views: (view_key, offset, size).
	View *View
	Off  int64 // where the persistent ID was in the pickle
}

// View is a legacy storage view.
type View struct {
	Key          string
	Offset, Size int64
}

// Bytes is the storage's size in bytes, or -1 when unknown.
func (r *Ref) Bytes() int64 {
	if r.ElementSize == 0 || r.Numel < 0 || r.Numel > (1<<62)/r.ElementSize {
		return -1
	}
	return r.Numel * r.ElementSize
}

// Module is a legacy whole-module record: ('module', cls, source_file,
// source). torch.load returns the class itself.
type Module struct {
	Class *pickle.Global
}

// Parse reads a persistent ID. It returns a storage Ref, or a Module for
// legacy module records (legacy true only), or an error saying why torch's
// persistent_load would refuse it.
func Parse(pid *pickle.Value, legacy bool) (*Ref, *Module, error) {
	if pid == nil || pid.Kind != pickle.KindTuple || len(pid.Items) == 0 {
		return nil, nil, fmt.Errorf("the persistent ID is a %s, not a tuple", kindOf(pid))
	}
	tag, ok := text(pid.Items[0])
	if !ok {
		return nil, nil, fmt.Errorf("the persistent ID's type name is a %s", pid.Items[0].Kind)
	}
	items := pid.Items
	switch tag {
	case "module":
		if !legacy {
			return nil, nil, fmt.Errorf("module records appear only in legacy checkpoints")
		}
		if len(items) != 4 || items[1].Kind != pickle.KindGlobal {
			return nil, nil, fmt.Errorf("a module record is ('module', class, source_file, source)")
		}
		return nil, &Module{Class: items[1].Global}, nil
	case "storage":
	default:
		return nil, nil, fmt.Errorf("unknown persistent ID type %q (torch accepts only 'storage')", tag)
	}
	want := 5
	if legacy {
		want = 6
	}
	if len(items) != want {
		return nil, nil, fmt.Errorf("a storage record has %d fields, not %d", len(items), want)
	}
	if items[1].Kind != pickle.KindGlobal {
		return nil, nil, fmt.Errorf("the storage type is a %s, not a class", items[1].Kind)
	}
	r := &Ref{Module: items[1].Global.Module, Class: items[1].Global.Name}
	r.ElementSize, _ = ElementSize(r.Class)
	if r.Key, ok = text(items[2]); !ok {
		return nil, nil, fmt.Errorf("the storage key is a %s, not a string", items[2].Kind)
	}
	if r.Location, ok = text(items[3]); !ok {
		return nil, nil, fmt.Errorf("the storage location is a %s, not a string", items[3].Kind)
	}
	if items[4].Kind != pickle.KindInt || items[4].Int < 0 {
		return nil, nil, fmt.Errorf("the storage size is not a non-negative int")
	}
	r.Numel = items[4].Int
	if legacy {
		switch v := items[5]; v.Kind {
		case pickle.KindNone:
		case pickle.KindTuple:
			if len(v.Items) != 3 || v.Items[1].Kind != pickle.KindInt || v.Items[2].Kind != pickle.KindInt {
				return nil, nil, fmt.Errorf("storage view metadata is not (key, offset, size)")
			}
			key, ok := text(v.Items[0])
			if !ok {
				return nil, nil, fmt.Errorf("storage view key is not a string")
			}
			r.View = &View{Key: key, Offset: v.Items[1].Int, Size: v.Items[2].Int}
		default:
			return nil, nil, fmt.Errorf("storage view metadata is a %s", v.Kind)
		}
	}
	return r, nil, nil
}

func kindOf(v *pickle.Value) string {
	if v == nil {
		return "nothing"
	}
	return v.Kind.String()
}

// text returns a str, or ASCII bytes (Python 2 checkpoints), held in full.
func text(v *pickle.Value) (string, bool) {
	if v == nil || v.Truncated {
		return "", false
	}
	if v.Kind == pickle.KindStr || v.Kind == pickle.KindBytes {
		return v.Str, true
	}
	return "", false
}

// Collector is a pickle.Visitor that records the storage persistent IDs of
// a data pickle, for readers that list storages without judging anything.
type Collector struct {
	Legacy bool
	Refs   []*Ref
	// Bad lists persistent IDs torch would refuse.
	Bad []error
}

// Global implements pickle.Visitor.
func (c *Collector) Global(*pickle.Global) {}

// Call implements pickle.Visitor.
func (c *Collector) Call(*pickle.Call) {}

// Build implements pickle.Visitor.
func (c *Collector) Build(_, _ *pickle.Value, _ int64) {}

// Anomaly implements pickle.Visitor.
func (c *Collector) Anomaly(int64, pickle.Op, string) {}

// StreamStart implements pickle.Visitor.
func (c *Collector) StreamStart(int64) {}

// StreamEnd implements pickle.Visitor.
func (c *Collector) StreamEnd(*pickle.Stream) {}

// Persistent implements pickle.Visitor.
func (c *Collector) Persistent(pid, _ *pickle.Value, off int64) {
	ref, _, err := Parse(pid, c.Legacy)
	switch {
	case err != nil:
		c.Bad = append(c.Bad, fmt.Errorf("offset %d: %w", off, err))
	case ref != nil:
		ref.Off = off
		c.Refs = append(c.Refs, ref)
	}
}
