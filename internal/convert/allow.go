package convert

import (
	"fmt"

	"modelgate/internal/format/torchstorage"
	"modelgate/internal/pickle"
)

// builder is what an allowed callable builds.
type builder int

const (
	notCallable builder = iota
	buildOrderedDict
	buildTensorV1   // torch._utils._rebuild_tensor(storage, offset, size, stride)
	buildTensorV2   // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
	buildTensorV3   // _rebuild_tensor_v3(…, hooks, dtype[, metadata]) over an untyped storage
	buildParameter  // _rebuild_parameter(tensor, requires_grad, hooks)
	buildFromTypeV2 // torch._tensor._rebuild_from_type_v2(func, new_type, args, state)
)

// callables are the only globals a conversion lets the pickle call: the
// container and tensor constructors torch.save writes for a state dict.
var callables = map[string]builder{
	"collections.OrderedDict":             buildOrderedDict,
	"torch._utils._rebuild_tensor":        buildTensorV1,
	"torch._utils._rebuild_tensor_v2":     buildTensorV2,
	"torch._utils._rebuild_tensor_v3":     buildTensorV3,
	"torch._utils._rebuild_parameter":     buildParameter,
	"torch._tensor._rebuild_from_type_v2": buildFromTypeV2,
}

// tensorTypes may be _rebuild_from_type_v2's new_type: the subclass the
// rebuilt tensor is cast to. Anything else would run a class's code.
var tensorTypes = map[string]bool{
	"torch.Tensor":                 true,
	"torch._tensor.Tensor":         true,
	"torch.nn.parameter.Parameter": true,
}

// storageTypes are the storage classes a persistent ID may name, with the
// tensor dtype each holds (torch/storage.py _dtype_to_storage_type_map;
// an untyped storage holds bytes). Quantized storages are left out: their
// tensors are rebuilt by _rebuild_qtensor, which a conversion refuses.
var storageTypes = map[string]string{
	"torch.DoubleStorage": "float64", "torch.FloatStorage": "float32", "torch.HalfStorage": "float16",
	"torch.BFloat16Storage": "bfloat16", "torch.LongStorage": "int64", "torch.IntStorage": "int32",
	"torch.ShortStorage": "int16", "torch.CharStorage": "int8", "torch.ByteStorage": "uint8",
	"torch.BoolStorage": "bool", "torch.ComplexFloatStorage": "complex64",
	"torch.ComplexDoubleStorage": "complex128",
	"torch.UntypedStorage":       "uint8", "torch.storage.UntypedStorage": "uint8",
}

// dtypeGlobals are the torch.dtype globals _rebuild_tensor_v3 may name.
var dtypeGlobals = map[string]string{
	"torch.float64": "float64", "torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16",
	"torch.int64": "int64", "torch.int32": "int32", "torch.int16": "int16", "torch.int8": "int8",
	"torch.uint8": "uint8", "torch.bool": "bool", "torch.complex64": "complex64", "torch.complex128": "complex128",
	"torch.uint16": "uint16", "torch.uint32": "uint32", "torch.uint64": "uint64",
	"torch.float8_e4m3fn": "float8_e4m3fn", "torch.float8_e5m2": "float8_e5m2",
	"torch.float8_e4m3fnuz": "float8_e4m3fnuz", "torch.float8_e5m2fnuz": "float8_e5m2fnuz",
	"torch.float8_e8m0fnu": "float8_e8m0fnu",
}

// allowedGlobal reports whether a global may appear in the pickle at all;
// where it may appear is checked where it is used.
func allowedGlobal(name string) bool {
	if _, ok := callables[name]; ok {
		return true
	}
	if _, ok := storageTypes[name]; ok {
		return true
	}
	if _, ok := dtypeGlobals[name]; ok {
		return true
	}
	return tensorTypes[name]
}

// maxReasons bounds the reasons a refusal lists.
const maxReasons = 20

// guard is the pickle.Visitor of a conversion: it lets through only what
// rebuilding a state dict of tensors needs, and records everything else
// as a reason to refuse. It also collects the storages persistent IDs
// name.
type guard struct {
	legacy  bool
	reasons []string
	repeats []int
	seen    map[string]int
	more    int
	// storages by key, as first referenced; refs maps each persistent
	// load result to its storage.
	storages map[string]*storageRef
	refs     map[*pickle.Value]*storageRef
	// views are legacy storage views by view key.
	views map[string]*storageRef
}

func newGuard(legacy bool) *guard {
	return &guard{legacy: legacy, seen: map[string]int{}, storages: map[string]*storageRef{}, refs: map[*pickle.Value]*storageRef{}, views: map[string]*storageRef{}}
}

// refuse records a reason; a reason seen before is counted, not repeated.
func (g *guard) refuse(off int64, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if i, ok := g.seen[msg]; ok {
		g.repeats[i]++
		return
	}
	if len(g.reasons) >= maxReasons {
		g.more++
		return
	}
	g.seen[msg] = len(g.reasons)
	g.repeats = append(g.repeats, 1)
	if off >= 0 {
		msg = fmt.Sprintf("offset %d: %s", off, msg)
	}
	g.reasons = append(g.reasons, msg)
}

// Global implements pickle.Visitor.
func (g *guard) Global(gl *pickle.Global) {
	switch {
	case gl.Computed:
		g.refuse(gl.Off, "an import whose name is computed at load time")
	case gl.ExtCode != 0:
		g.refuse(gl.Off, "an import through the extension registry (code %d)", gl.ExtCode)
	case !allowedGlobal(gl.QualName()):
		g.refuse(gl.Off, "%s is not needed to rebuild tensors and containers", gl.QualName())
	}
}

// Call implements pickle.Visitor: only REDUCE of an allowed callable, and
// OrderedDict's __setitem__ (SETITEMS on a state dict), may happen.
func (g *guard) Call(c *pickle.Call) {
	callee := c.Callee
	switch {
	case c.Method == "__setitem__" && isOrderedDict(callee):
		return
	case c.Method != "":
		g.refuse(c.Off, "%s calls %s on %s", c.Op, c.Method, describe(callee))
	case callee.Kind != pickle.KindGlobal:
		g.refuse(c.Off, "%s calls %s", c.Op, describe(callee))
	case !allowedGlobal(callee.Global.QualName()):
		// Already refused where it was imported.
	case callables[callee.Global.QualName()] == notCallable:
		g.refuse(c.Off, "%s calls %s, which rebuilding tensors never calls", c.Op, callee.Global.QualName())
	case c.Op != pickle.REDUCE || c.Kwargs != nil:
		g.refuse(c.Off, "%s calls %s; torch.save writes REDUCE", c.Op, callee.Global.QualName())
	case callables[callee.Global.QualName()] == buildOrderedDict && (c.Args.Kind != pickle.KindTuple || len(c.Args.Items) != 0):
		g.refuse(c.Off, "OrderedDict is called with arguments")
	}
}

// Build implements pickle.Visitor. torch.save writes BUILD only to set a
// state dict's _metadata attribute; BUILD on a tensor would call
// Tensor.__setstate__, which can repoint it at other storage.
func (g *guard) Build(obj, state *pickle.Value, off int64) {
	if isOrderedDict(obj) && (state.Kind == pickle.KindDict || state.Kind == pickle.KindNone) {
		return
	}
	g.refuse(off, "BUILD sets the state of %s", describe(obj))
}

// Persistent implements pickle.Visitor: every persistent ID must be a
// storage of a known type, referenced consistently.
func (g *guard) Persistent(pid, result *pickle.Value, off int64) {
	ref, mod, err := torchstorage.Parse(pid, g.legacy)
	switch {
	case err != nil:
		g.refuse(off, "persistent ID: %v", err)
		return
	case mod != nil:
		g.refuse(off, "a legacy module record (%s): the checkpoint holds a whole module, not a state dict", mod.Class.QualName())
		return
	}
	class := ref.Module + "." + ref.Class
	dtype, ok := storageTypes[class]
	if !ok {
		if allowedGlobal(class) { // else refused where it was imported
			g.refuse(off, "%s is not a storage type", class)
		}
		return
	}
	s := g.storages[ref.Key]
	if s == nil {
		s = &storageRef{Key: ref.Key, Class: class, DType: dtype, ElemSize: ref.ElementSize, Numel: ref.Numel}
		g.storages[ref.Key] = s
	} else if s.Class != class || s.Numel != ref.Numel {
		g.refuse(off, "storage %q is referenced as %d %s elements and as %d %s elements", ref.Key, s.Numel, s.Class, ref.Numel, class)
		return
	}
	if ref.View != nil {
		v := g.views[ref.View.Key]
		want := &storageRef{Key: ref.Key, Class: class, DType: dtype, ElemSize: ref.ElementSize, Numel: ref.View.Size, ViewOffset: ref.View.Offset, ViewKey: ref.View.Key}
		if v == nil {
			g.views[ref.View.Key] = want
			v = want
		} else if v.Key != want.Key || v.ViewOffset != want.ViewOffset || v.Numel != want.Numel {
			g.refuse(off, "storage view %q is defined twice differently", ref.View.Key)
			return
		}
		s = v
	}
	g.refs[result] = s
}

// Anomaly implements pickle.Visitor. Odd but harmless constructs are
// judged by the scan; what matters here is caught by the checks above
// and by the walk over the result (truncated containers).
func (g *guard) Anomaly(int64, pickle.Op, string) {}

// StreamStart implements pickle.Visitor.
func (g *guard) StreamStart(int64) {}

// StreamEnd implements pickle.Visitor.
func (g *guard) StreamEnd(*pickle.Stream) {}

// isOrderedDict reports an object made by calling collections.OrderedDict.
func isOrderedDict(v *pickle.Value) bool {
	return callOf(v) == buildOrderedDict
}

// callOf returns what built an object, or notCallable.
func callOf(v *pickle.Value) builder {
	if v == nil || v.Kind != pickle.KindObject || v.Call == nil || v.Call.Method != "" {
		return notCallable
	}
	c := v.Call.Callee
	if c == nil || c.Kind != pickle.KindGlobal || c.Global.Computed {
		return notCallable
	}
	return callables[c.Global.QualName()]
}

// describe names a value for a refusal reason.
func describe(v *pickle.Value) string {
	if v == nil {
		return "nothing"
	}
	switch v.Kind {
	case pickle.KindGlobal:
		return v.Global.QualName()
	case pickle.KindObject:
		if v.Call != nil && v.Call.Callee != nil && v.Call.Callee.Kind == pickle.KindGlobal {
			return "the result of " + v.Call.Callee.Global.QualName() + "(…)"
		}
		return "the result of a call"
	case pickle.KindPersistent:
		return "a persistent-load result"
	}
	return "a " + v.Kind.String()
}
