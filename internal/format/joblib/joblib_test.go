package joblib

import (
	"testing"

	"modelgate/internal/pickle"
)

func dtype(spec string, state ...*pickle.Value) *pickle.Value {
	g := &pickle.Value{Kind: pickle.KindGlobal, Global: &pickle.Global{Module: "numpy", Name: "dtype"}}
	args := &pickle.Value{Kind: pickle.KindTuple, Items: []*pickle.Value{{Kind: pickle.KindStr, Str: spec}}}
	return &pickle.Value{Kind: pickle.KindObject, Call: &pickle.Call{Callee: g, Args: args, States: state}}
}

func state(elsize, flags int64) *pickle.Value {
	it := func(n int64) *pickle.Value { return &pickle.Value{Kind: pickle.KindInt, Int: n} }
	none := &pickle.Value{Kind: pickle.KindNone}
	return &pickle.Value{Kind: pickle.KindTuple, Items: []*pickle.Value{it(3), {Kind: pickle.KindStr, Str: "<"}, none, none, none, it(elsize), it(-1), it(flags)}}
}

func TestDtypeSize(t *testing.T) {
	for _, c := range []struct {
		v      *pickle.Value
		size   int64
		object bool
		err    bool
	}{
		{dtype("f8", state(-1, 0)), 8, false, false},
		{dtype("b1", state(-1, 0)), 1, false, false},
		{dtype("U5", state(20, 8)), 20, false, false},
		{dtype("U5"), 20, false, false},
		{dtype("V24", state(24, 16)), 24, false, false},
		{dtype("V16", state(16, 63)), 8, true, false}, // a structured dtype with an object field
		{dtype("O8", state(-1, 63)), 8, true, false},
		{dtype("M8", state(-1, 0)), 8, false, false},
		{dtype("q9"), 0, false, true},
		{&pickle.Value{Kind: pickle.KindStr, Str: "f8"}, 0, false, true},
	} {
		size, object, err := dtypeSize(c.v)
		if (err != nil) != c.err || (err == nil && (size != c.size || object != c.object)) {
			t.Errorf("%s: %d %v %v", pickle.Repr(c.v), size, object, err)
		}
	}
}
