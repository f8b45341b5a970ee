package convert

import (
	"fmt"

	"modelgate/internal/pickle"
)

// tensor evaluates a tensor constructor's arguments into a view of a
// storage. The same object (a memo reference) gives the same *tensorRef,
// which is how tied weights are recognised.
func (w *walker) tensor(v *pickle.Value) (*tensorRef, error) {
	if t, ok := w.tensors[v]; ok {
		if t == nil {
			return nil, fmt.Errorf("the tensor is built from itself")
		}
		return t, nil
	}
	w.tensors[v] = nil // a cycle finds nil
	t, err := w.rebuild(callOf(v), args(v))
	if err != nil {
		delete(w.tensors, v)
		return nil, err
	}
	if len(v.Call.States) > 0 {
		return nil, fmt.Errorf("the tensor's state is set after it is built")
	}
	if len(v.Items) > 0 {
		return nil, fmt.Errorf("items are set on the tensor")
	}
	w.tensors[v] = t
	return t, nil
}

func args(v *pickle.Value) []*pickle.Value {
	a := v.Call.Args
	if a == nil || a.Kind != pickle.KindTuple || a.Truncated {
		return nil
	}
	return a.Items
}

func (w *walker) rebuild(b builder, a []*pickle.Value) (*tensorRef, error) {
	switch b {
	case buildTensorV1:
		if len(a) != 4 {
			return nil, fmt.Errorf("_rebuild_tensor takes 4 arguments, not %d", len(a))
		}
		return w.view(a[0], a[1], a[2], a[3], "")
	case buildTensorV2:
		if len(a) != 6 && len(a) != 7 {
			return nil, fmt.Errorf("_rebuild_tensor_v2 takes 6 or 7 arguments, not %d", len(a))
		}
		if err := plainExtras(a[4], a[5], a[6:]); err != nil {
			return nil, err
		}
		return w.view(a[0], a[1], a[2], a[3], "")
	case buildTensorV3:
		if len(a) != 7 && len(a) != 8 {
			return nil, fmt.Errorf("_rebuild_tensor_v3 takes 7 or 8 arguments, not %d", len(a))
		}
		if err := plainExtras(a[4], a[5], a[7:]); err != nil {
			return nil, err
		}
		if a[6].Kind != pickle.KindGlobal {
			return nil, fmt.Errorf("_rebuild_tensor_v3's dtype is %s", describe(a[6]))
		}
		dt, ok := dtypeGlobals[a[6].Global.QualName()]
		if !ok {
			return nil, fmt.Errorf("_rebuild_tensor_v3's dtype %s is not a dtype", a[6].Global.QualName())
		}
		return w.view(a[0], a[1], a[2], a[3], dt)
	case buildParameter:
		if len(a) != 3 {
			return nil, fmt.Errorf("_rebuild_parameter takes 3 arguments, not %d", len(a))
		}
		if err := plainExtras(a[1], a[2], nil); err != nil {
			return nil, err
		}
		if !w.isTensor(a[0]) || callOf(a[0]) == buildParameter {
			return nil, fmt.Errorf("_rebuild_parameter wraps %s, not a tensor", describe(a[0]))
		}
		return w.tensor(a[0])
	case buildFromTypeV2:
		return w.fromType(a)
	}
	return nil, fmt.Errorf("not a tensor")
}

// fromType is torch._tensor._rebuild_from_type_v2(func, new_type, args,
// state): func(*args) cast to new_type, then state set as attributes.
// func must build a plain tensor, new_type must be a tensor class whose
// code is torch's own, and state may hold only plain values.
func (w *walker) fromType(a []*pickle.Value) (*tensorRef, error) {
	if len(a) != 4 {
		return nil, fmt.Errorf("_rebuild_from_type_v2 takes 4 arguments, not %d", len(a))
	}
	fn, typ, inner, state := a[0], a[1], a[2], a[3]
	if fn.Kind != pickle.KindGlobal {
		return nil, fmt.Errorf("_rebuild_from_type_v2 calls %s", describe(fn))
	}
	b := callables[fn.Global.QualName()]
	switch b {
	case buildTensorV1, buildTensorV2, buildTensorV3:
	default:
		return nil, fmt.Errorf("_rebuild_from_type_v2 calls %s, not a tensor constructor", fn.Global.QualName())
	}
	if typ.Kind != pickle.KindGlobal || !tensorTypes[typ.Global.QualName()] {
		return nil, fmt.Errorf("_rebuild_from_type_v2 casts to %s, not a torch tensor class", describe(typ))
	}
	if inner.Kind != pickle.KindTuple || inner.Truncated {
		return nil, fmt.Errorf("_rebuild_from_type_v2's arguments are %s, not a tuple", describe(inner))
	}
	if !plainData(state, 0) {
		return nil, fmt.Errorf("_rebuild_from_type_v2 sets attributes to values other than plain data")
	}
	if state.Kind == pickle.KindDict {
		for i := 0; i < len(state.Items); i += 2 {
			if k := state.Items[i]; !k.IsString() || reservedAttr[k.Str] {
				return nil, fmt.Errorf("_rebuild_from_type_v2 sets attribute %s", describeKey(k))
			}
		}
	}
	return w.rebuild(b, inner.Items)
}

// reservedAttr are tensor attributes a state could set that change what
// the tensor holds or how it behaves.
var reservedAttr = map[string]bool{
	"data": true, "grad": true, "__class__": true, "__dict__": true, "_backward_hooks": true,
}

func describeKey(k *pickle.Value) string {
	if k.IsString() {
		return fmt.Sprintf("%q", k.Str)
	}
	return describe(k)
}

// plainExtras checks requires_grad (a bool), the backward hooks (empty:
// torch.save never writes hooks) and the optional metadata (empty).
func plainExtras(requiresGrad, hooks *pickle.Value, metadata []*pickle.Value) error {
	if requiresGrad.Kind != pickle.KindBool && requiresGrad.Kind != pickle.KindInt {
		return fmt.Errorf("requires_grad is %s", describe(requiresGrad))
	}
	if !emptyContainer(hooks) {
		return fmt.Errorf("the tensor has backward hooks (%s)", describe(hooks))
	}
	for _, m := range metadata {
		if !emptyContainer(m) {
			return fmt.Errorf("the tensor carries metadata this converter does not understand (%s)", describe(m))
		}
	}
	return nil
}

// emptyContainer: None, an empty dict, or an OrderedDict() with nothing
// added.
func emptyContainer(v *pickle.Value) bool {
	switch {
	case v.Kind == pickle.KindNone:
		return true
	case v.Kind == pickle.KindDict:
		return len(v.Items) == 0 && !v.Truncated
	case isOrderedDict(v):
		return len(v.Items) == 0 && !v.Truncated && len(v.Call.States) == 0
	}
	return false
}

// plainData reports None, bools, numbers, strings, bytes and containers
// of them.
func plainData(v *pickle.Value, depth int) bool {
	if v == nil || depth > maxDepth || v.Truncated {
		return false
	}
	switch v.Kind {
	case pickle.KindNone, pickle.KindBool, pickle.KindInt, pickle.KindBigInt, pickle.KindFloat, pickle.KindStr, pickle.KindBytes:
		return true
	case pickle.KindTuple, pickle.KindList, pickle.KindDict:
		for _, it := range v.Items {
			if !plainData(it, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// view checks a tensor constructor's storage, offset, size and stride.
// dtype is the tensor's dtype when the constructor names it (v3);
// otherwise the storage's.
func (w *walker) view(storage, offset, size, stride *pickle.Value, dtype string) (*tensorRef, error) {
	s, ok := w.g.refs[storage]
	if !ok {
		return nil, fmt.Errorf("the storage argument is %s, not a storage the checkpoint holds", describe(storage))
	}
	if offset.Kind != pickle.KindInt {
		return nil, fmt.Errorf("the storage offset is %s", describe(offset))
	}
	shape, err := ints(size, "size")
	if err != nil {
		return nil, err
	}
	strides, err := ints(stride, "stride")
	if err != nil {
		return nil, err
	}
	if dtype == "" {
		dtype = s.DType
	}
	st, ok := torchToSafetensors[dtype]
	if !ok {
		return nil, fmt.Errorf("dtype %s has no safetensors equivalent", dtype)
	}
	t := &tensorRef{Storage: s, DType: dtype, ElemSize: st.Size, Offset: offset.Int, Shape: shape, Stride: strides}
	if err := t.check(max(s.Bytes(), w.maxExpansion)); err != nil {
		return nil, err
	}
	return t, nil
}

// ints reads a tuple (or list) of ints: a size or stride. torch.Size
// pickles as a plain tuple.
func ints(v *pickle.Value, what string) ([]int64, error) {
	if (v.Kind != pickle.KindTuple && v.Kind != pickle.KindList) || v.Truncated {
		return nil, fmt.Errorf("the %s is %s, not a tuple of ints", what, describe(v))
	}
	if len(v.Items) > 64 {
		return nil, fmt.Errorf("the %s has %d dimensions", what, len(v.Items))
	}
	out := make([]int64, len(v.Items))
	for i, it := range v.Items {
		if it.Kind != pickle.KindInt {
			return nil, fmt.Errorf("the %s holds %s", what, describe(it))
		}
		out[i] = it.Int
	}
	return out, nil
}
