package pickle

// Op is a pickle opcode byte.
type Op byte

// The 68 opcodes of pickle protocols 0 to 5, named as in CPython's pickle.py.
const (
	MARK            Op = '('
	STOP            Op = '.'
	POP             Op = '0'
	POP_MARK        Op = '1'
	DUP             Op = '2'
	FLOAT           Op = 'F'
	INT             Op = 'I'
	BININT          Op = 'J'
	BININT1         Op = 'K'
	LONG            Op = 'L'
	BININT2         Op = 'M'
	NONE            Op = 'N'
	PERSID          Op = 'P'
	BINPERSID       Op = 'Q'
	REDUCE          Op = 'R'
	STRING          Op = 'S'
	BINSTRING       Op = 'T'
	SHORT_BINSTRING Op = 'U'
	UNICODE         Op = 'V'
	BINUNICODE      Op = 'X'
	APPEND          Op = 'a'
	BUILD           Op = 'b'
	GLOBAL          Op = 'c'
	DICT            Op = 'd'
	EMPTY_DICT      Op = '}'
	APPENDS         Op = 'e'
	GET             Op = 'g'
	BINGET          Op = 'h'
	INST            Op = 'i'
	LONG_BINGET     Op = 'j'
	LIST            Op = 'l'
	EMPTY_LIST      Op = ']'
	OBJ             Op = 'o'
	PUT             Op = 'p'
	BINPUT          Op = 'q'
	LONG_BINPUT     Op = 'r'
	SETITEM         Op = 's'
	TUPLE           Op = 't'
	EMPTY_TUPLE     Op = ')'
	SETITEMS        Op = 'u'
	BINFLOAT        Op = 'G'

	PROTO    Op = 0x80
	NEWOBJ   Op = 0x81
	EXT1     Op = 0x82
	EXT2     Op = 0x83
	EXT4     Op = 0x84
	TUPLE1   Op = 0x85
	TUPLE2   Op = 0x86
	TUPLE3   Op = 0x87
	NEWTRUE  Op = 0x88
	NEWFALSE Op = 0x89
	LONG1    Op = 0x8a
	LONG4    Op = 0x8b

	BINBYTES       Op = 'B'
	SHORT_BINBYTES Op = 'C'

	SHORT_BINUNICODE Op = 0x8c
	BINUNICODE8      Op = 0x8d
	BINBYTES8        Op = 0x8e
	EMPTY_SET        Op = 0x8f
	ADDITEMS         Op = 0x90
	FROZENSET        Op = 0x91
	NEWOBJ_EX        Op = 0x92
	STACK_GLOBAL     Op = 0x93
	MEMOIZE          Op = 0x94
	FRAME            Op = 0x95

	BYTEARRAY8      Op = 0x96
	NEXT_BUFFER     Op = 0x97
	READONLY_BUFFER Op = 0x98
)

// argKind says how an opcode's inline argument is encoded.
type argKind uint8

const (
	argNone  argKind = iota
	argU1            // 1-byte unsigned
	argU2            // 2-byte little-endian unsigned
	argI4            // 4-byte little-endian signed
	argU4            // 4-byte little-endian unsigned
	argU8            // 8-byte little-endian unsigned
	argF8            // 8-byte big-endian IEEE 754
	argLine          // one newline-terminated line
	argLine2         // two newline-terminated lines (module, name)
	argLen1          // 1-byte length, then data
	argLen4S         // 4-byte signed length, then data
	argLen4U         // 4-byte unsigned length, then data
	argLen8          // 8-byte unsigned length, then data
	argLong4         // 4-byte signed length, then little-endian two's-complement int
)

// opInfo describes one opcode. The table below has an entry for every byte;
// bytes that are not opcodes have valid == false, so an unknown opcode is a
// lookup, never an out-of-range index.
type opInfo struct {
	name  string
	arg   argKind
	proto uint8 // protocol that introduced it
	valid bool
}

var opTable = func() (t [256]opInfo) {
	def := func(op Op, name string, arg argKind, proto uint8) {
		t[op] = opInfo{name: name, arg: arg, proto: proto, valid: true}
	}
	def(MARK, "MARK", argNone, 0)
	def(STOP, "STOP", argNone, 0)
	def(POP, "POP", argNone, 0)
	def(POP_MARK, "POP_MARK", argNone, 1)
	def(DUP, "DUP", argNone, 0)
	def(FLOAT, "FLOAT", argLine, 0)
	def(INT, "INT", argLine, 0)
	def(BININT, "BININT", argI4, 1)
	def(BININT1, "BININT1", argU1, 1)
	def(LONG, "LONG", argLine, 0)
	def(BININT2, "BININT2", argU2, 1)
	def(NONE, "NONE", argNone, 0)
	def(PERSID, "PERSID", argLine, 0)
	def(BINPERSID, "BINPERSID", argNone, 1)
	def(REDUCE, "REDUCE", argNone, 0)
	def(STRING, "STRING", argLine, 0)
	def(BINSTRING, "BINSTRING", argLen4S, 1)
	def(SHORT_BINSTRING, "SHORT_BINSTRING", argLen1, 1)
	def(UNICODE, "UNICODE", argLine, 0)
	def(BINUNICODE, "BINUNICODE", argLen4U, 1)
	def(APPEND, "APPEND", argNone, 0)
	def(BUILD, "BUILD", argNone, 0)
	def(GLOBAL, "GLOBAL", argLine2, 0)
	def(DICT, "DICT", argNone, 0)
	def(EMPTY_DICT, "EMPTY_DICT", argNone, 1)
	def(APPENDS, "APPENDS", argNone, 1)
	def(GET, "GET", argLine, 0)
	def(BINGET, "BINGET", argU1, 1)
	def(INST, "INST", argLine2, 0)
	def(LONG_BINGET, "LONG_BINGET", argU4, 1)
	def(LIST, "LIST", argNone, 0)
	def(EMPTY_LIST, "EMPTY_LIST", argNone, 1)
	def(OBJ, "OBJ", argNone, 1)
	def(PUT, "PUT", argLine, 0)
	def(BINPUT, "BINPUT", argU1, 1)
	def(LONG_BINPUT, "LONG_BINPUT", argU4, 1)
	def(SETITEM, "SETITEM", argNone, 0)
	def(TUPLE, "TUPLE", argNone, 0)
	def(EMPTY_TUPLE, "EMPTY_TUPLE", argNone, 1)
	def(SETITEMS, "SETITEMS", argNone, 1)
	def(BINFLOAT, "BINFLOAT", argF8, 1)
	def(PROTO, "PROTO", argU1, 2)
	def(NEWOBJ, "NEWOBJ", argNone, 2)
	def(EXT1, "EXT1", argU1, 2)
	def(EXT2, "EXT2", argU2, 2)
	def(EXT4, "EXT4", argI4, 2)
	def(TUPLE1, "TUPLE1", argNone, 2)
	def(TUPLE2, "TUPLE2", argNone, 2)
	def(TUPLE3, "TUPLE3", argNone, 2)
	def(NEWTRUE, "NEWTRUE", argNone, 2)
	def(NEWFALSE, "NEWFALSE", argNone, 2)
	def(LONG1, "LONG1", argLen1, 2)
	def(LONG4, "LONG4", argLong4, 2)
	def(BINBYTES, "BINBYTES", argLen4U, 3)
	def(SHORT_BINBYTES, "SHORT_BINBYTES", argLen1, 3)
	def(SHORT_BINUNICODE, "SHORT_BINUNICODE", argLen1, 4)
	def(BINUNICODE8, "BINUNICODE8", argLen8, 4)
	def(BINBYTES8, "BINBYTES8", argLen8, 4)
	def(EMPTY_SET, "EMPTY_SET", argNone, 4)
	def(ADDITEMS, "ADDITEMS", argNone, 4)
	def(FROZENSET, "FROZENSET", argNone, 4)
	def(NEWOBJ_EX, "NEWOBJ_EX", argNone, 4)
	def(STACK_GLOBAL, "STACK_GLOBAL", argNone, 4)
	def(MEMOIZE, "MEMOIZE", argNone, 4)
	def(FRAME, "FRAME", argU8, 4)
	def(BYTEARRAY8, "BYTEARRAY8", argLen8, 5)
	def(NEXT_BUFFER, "NEXT_BUFFER", argNone, 5)
	def(READONLY_BUFFER, "READONLY_BUFFER", argNone, 5)
	return t
}()

// Valid reports whether op is one of the 68 opcodes.
func (op Op) Valid() bool { return opTable[op].valid }

// Proto returns the protocol that introduced op (0 for unknown bytes).
func (op Op) Proto() int { return int(opTable[op].proto) }

func (op Op) String() string {
	if info := opTable[op]; info.valid {
		return info.name
	}
	return "UNKNOWN"
}

// HighestProtocol is the newest protocol the VM models (CPython 3.8+).
const HighestProtocol = 5
