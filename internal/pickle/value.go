package pickle

import "math"

// Kind is the type of a symbolic value.
type Kind uint8

// Value kinds. Literals carry their contents; Global, Object and Persistent
// stand for things only a real load would produce.
const (
	KindNone Kind = iota
	KindBool
	KindInt
	KindBigInt // an int beyond int64: Str holds its decimal (or a hex prefix when huge)
	KindFloat
	KindStr
	KindBytes
	KindByteArray
	KindTuple
	KindList
	KindDict // Items holds key, value, key, value, …
	KindSet
	KindFrozenSet
	KindGlobal     // what GLOBAL, STACK_GLOBAL, INST or EXT imported
	KindObject     // the result of a call (REDUCE, NEWOBJ, OBJ, INST, …)
	KindPersistent // the result of persistent_load; Items[0] is the persistent ID
	KindBuffer     // an out-of-band buffer (NEXT_BUFFER)
)

var kindNames = [...]string{"None", "bool", "int", "int", "float", "str", "bytes", "bytearray",
	"tuple", "list", "dict", "set", "frozenset", "global", "object", "persistent", "buffer"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Value is a symbolic Python value. Values are shared exactly as the
// unpickler shares objects: a memo GET returns the same *Value, and a
// mutation (APPENDS, SETITEMS, BUILD) is seen through every reference.
type Value struct {
	Kind Kind
	// Truncated reports that Str holds only a prefix of a long string or
	// bytes, or that Items stopped being retained (Limits.MaxPickleValues).
	Truncated bool
	// ByRef reports a truncated string or bytes whose full contents are
	// the Len() bytes at offset Off of the stream, unchanged (binary
	// opcodes); text opcodes' escaped arguments can't be referenced.
	ByRef bool
	// Int holds an int or bool, a float's IEEE bits, or for a truncated
	// string or bytes the full length in the stream.
	Int int64
	// Str holds str, bytes and bytearray contents, and a big int's digits.
	Str string
	// Off is the stream offset of the opcode that made the value; for
	// bytes kept by reference, the offset of the data itself.
	Off int64
	// Items holds container contents, and for an Object the items that
	// APPENDS, SETITEMS or ADDITEMS added to it.
	Items []*Value
	// Global is set for KindGlobal.
	Global *Global
	// Call is set for KindObject: the call that produced the object.
	Call *Call
}

// Float returns a KindFloat value's number.
func (v *Value) Float() float64 { return math.Float64frombits(uint64(v.Int)) }

// Len returns the length of a str or bytes in the stream, even when only a
// prefix is held.
func (v *Value) Len() int64 {
	if v.Truncated && (v.Kind == KindStr || v.Kind == KindBytes || v.Kind == KindByteArray) {
		return v.Int
	}
	return int64(len(v.Str))
}

// IsString reports a str value held in full.
func (v *Value) IsString() bool { return v != nil && v.Kind == KindStr && !v.Truncated }

// Global is one import: the module and name a load would look up, after the
// Python 2 renames the unpickler applies to protocol < 3 streams.
type Global struct {
	Module, Name string
	// RawModule and RawName are as written in the stream when a Python 2
	// rename changed them.
	RawModule, RawName string
	Op                 Op
	Off                int64
	Proto              int
	// Computed is set when a STACK_GLOBAL operand was not a literal string;
	// ModuleVal and NameVal then hold what the stream supplied.
	Computed           bool
	ModuleVal, NameVal *Value
	// ExtCode is the EXT1/2/4 code; Module and Name are empty then.
	ExtCode int64
}

// QualName returns "module.name".
func (g *Global) QualName() string {
	if g.Module == "" {
		return g.Name
	}
	return g.Module + "." + g.Name
}

// Call is one place where a load would call something.
type Call struct {
	// ID numbers calls in a stream from 0, for explain's _varN names.
	ID  int
	Op  Op
	Off int64
	// Callee is what is called: usually a KindGlobal; for BUILD's
	// __setstate__ and the container opcodes applied to an object, the
	// object whose method is called (see Method).
	Callee *Value
	// Method is set for calls of an object's method made implicitly by
	// an opcode: "__setstate__" (BUILD), "extend"/"append" (APPEND(S)),
	// "__setitem__" (SETITEM(S)), "add" (ADDITEMS).
	Method string
	Args   *Value // a tuple
	Kwargs *Value // a dict, for NEWOBJ_EX; nil otherwise
	// New is set for NEWOBJ/NEWOBJ_EX and for OBJ/INST that would call
	// cls.__new__ rather than the class itself.
	New bool
	// Result is the value the call left on the stack (nil for method calls).
	Result *Value
	// States lists the BUILD states later applied to Result, in order.
	States []*Value
}
