package torchstorage

import (
	"testing"

	"modelgate/internal/pickle"
)

func str(s string) *pickle.Value           { return &pickle.Value{Kind: pickle.KindStr, Str: s} }
func num(n int64) *pickle.Value            { return &pickle.Value{Kind: pickle.KindInt, Int: n} }
func tup(v ...*pickle.Value) *pickle.Value { return &pickle.Value{Kind: pickle.KindTuple, Items: v} }
func glob(m, n string) *pickle.Value {
	return &pickle.Value{Kind: pickle.KindGlobal, Global: &pickle.Global{Module: m, Name: n}}
}

func TestParse(t *testing.T) {
	ref, _, err := Parse(tup(str("storage"), glob("torch", "HalfStorage"), str("7"), str("cpu"), num(10)), false)
	if err != nil || ref.Key != "7" || ref.Bytes() != 20 {
		t.Errorf("zip storage: %+v %v", ref, err)
	}
	ref, _, err = Parse(tup(str("storage"), glob("torch", "FloatStorage"), str("1"), str("cuda:0"), num(8), tup(str("2"), num(2), num(4))), true)
	if err != nil || ref.View == nil || ref.View.Size != 4 {
		t.Errorf("legacy view: %+v %v", ref, err)
	}
	_, mod, err := Parse(tup(str("module"), glob("torch.nn", "Linear"), str("f.py"), str("src")), true)
	if err != nil || mod == nil {
		t.Errorf("module record: %v", err)
	}
	for name, pid := range map[string]*pickle.Value{
		"string":        str("0"),
		"evil tag":      tup(str("evil"), str("x")),
		"module in zip": tup(str("module"), glob("torch.nn", "Linear"), str("f.py"), str("src")),
		"short":         tup(str("storage"), glob("torch", "FloatStorage"), str("0")),
		"type literal":  tup(str("storage"), str("FloatStorage"), str("0"), str("cpu"), num(1)),
		"negative":      tup(str("storage"), glob("torch", "FloatStorage"), str("0"), str("cpu"), num(-1)),
		"legacy 5":      tup(str("storage"), glob("torch", "FloatStorage"), str("0"), str("cpu"), num(1)),
		"bad view":      tup(str("storage"), glob("torch", "FloatStorage"), str("0"), str("cpu"), num(1), num(3)),
	} {
		legacy := name == "legacy 5" || name == "bad view"
		if _, _, err := Parse(pid, legacy); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
