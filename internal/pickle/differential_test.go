package pickle

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// nopVisitor ignores events.
type nopVisitor struct{}

func (nopVisitor) Global(*Global)                   {}
func (nopVisitor) Call(*Call)                       {}
func (nopVisitor) Build(*Value, *Value, int64)      {}
func (nopVisitor) Persistent(*Value, *Value, int64) {}
func (nopVisitor) Anomaly(int64, Op, string)        {}
func (nopVisitor) StreamStart(int64)                {}
func (nopVisitor) StreamEnd(*Stream)                {}

// pyRepr renders a value as CPython's repr() of the loaded object, for
// plain data. The few constructors plain data pickles call (bytes under
// protocol < 3, sets and bytearrays) are evaluated here, in the test only.
func pyRepr(v *Value) string {
	if v.Kind == KindObject && v.Call != nil && v.Call.Callee.Kind == KindGlobal {
		args := v.Call.Args
		switch v.Call.Callee.Global.QualName() {
		case "_codecs.encode":
			if args != nil && len(args.Items) == 2 && args.Items[0].Kind == KindStr {
				// latin1: each code point is one byte.
				var b []byte
				for _, r := range args.Items[0].Str {
					b = append(b, byte(r))
				}
				return bigRepr(&Value{Kind: KindBytes, Str: string(b)})
			}
			return bigRepr(&Value{Kind: KindBytes})
		case "builtins.bytes":
			if args == nil || len(args.Items) == 0 {
				return "b''"
			}
		case "builtins.bytearray":
			if args == nil || len(args.Items) == 0 {
				return "bytearray(b'')"
			}
			inner := pyRepr(args.Items[0])
			if args.Items[0].Kind == KindStr {
				var b []byte
				for _, r := range args.Items[0].Str {
					b = append(b, byte(r))
				}
				inner = bigRepr(&Value{Kind: KindBytes, Str: string(b)})
			}
			return "bytearray(" + inner + ")"
		case "builtins.set", "builtins.frozenset":
			name := strings.TrimPrefix(v.Call.Callee.Global.QualName(), "builtins.")
			var items []*Value
			if args != nil && len(args.Items) == 1 {
				items = args.Items[0].Items
			}
			return setRepr(name, items)
		}
	}
	switch v.Kind {
	case KindTuple, KindList:
		parts := make([]string, len(v.Items))
		for i, it := range v.Items {
			parts[i] = pyRepr(it)
		}
		if v.Kind == KindList {
			return "[" + strings.Join(parts, ", ") + "]"
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case KindDict:
		var parts []string
		for i := 0; i+1 < len(v.Items); i += 2 {
			parts = append(parts, pyRepr(v.Items[i])+": "+pyRepr(v.Items[i+1]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case KindSet:
		return setRepr("set", v.Items)
	case KindFrozenSet:
		return setRepr("frozenset", v.Items)
	}
	return bigRepr(v)
}

func bigRepr(v *Value) string { return (&Renderer{Max: 1 << 20}).Repr(v) }

func setRepr(name string, items []*Value) string {
	if len(items) == 0 {
		return name + "()"
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = pyRepr(it)
	}
	sort.Strings(parts) // set order is hash order; the cases hold one-element sets only
	if name == "set" {
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return name + "({" + strings.Join(parts, ", ") + "})"
}

// TestDifferential checks the VM against CPython: benign plain-data pickles
// made by CPython's own pickler in every protocol must load, symbolically,
// to exactly what CPython's unpickler returned.
func TestDifferential(t *testing.T) {
	dir := filepath.Join("testdata", "differential")
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 50 {
		t.Fatalf("only %d cases", len(want))
	}
	for name, exp := range want {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := ScanAll(context.Background(), strings.NewReader(string(data)), int64(len(data)), nopVisitor{}, Options{BytesInlineMax: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Streams) != 1 || res.Streams[0].Err != nil || len(res.Junk) != 0 {
				t.Fatalf("streams %d, junk %v, err %v", len(res.Streams), res.Junk, res.Streams[0].Err)
			}
			if got := pyRepr(res.Streams[0].Result); got != exp {
				t.Errorf("got  %s\nwant %s", clip(got), clip(exp))
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("…(%d)", len(s))
	}
	return s
}
