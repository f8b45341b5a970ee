package pickle

import (
	"encoding/binary"
	"strconv"
)

// pk builds pickle bytes opcode by opcode for tests; it is never a
// pickler: it writes exactly what the test says, including broken streams.
type pk []byte

// add appends to a copy, so that one prefix can start several cases.
func (p pk) add(b ...byte) pk { return append(p[:len(p):len(p)], b...) }

func (p pk) op(o Op) pk             { return p.add(byte(o)) }
func (p pk) raw(b ...byte) pk       { return p.add(b...) }
func (p pk) str(s string) pk        { return p.add([]byte(s)...) }
func (p pk) proto(v byte) pk        { return p.add(byte(PROTO), v) }
func (p pk) global(m, n string) pk  { return p.op(GLOBAL).str(m + "\n" + n + "\n") }
func (p pk) inst(m, n string) pk    { return p.op(INST).str(m + "\n" + n + "\n") }
func (p pk) mark() pk               { return p.op(MARK) }
func (p pk) stop() pk               { return p.op(STOP) }
func (p pk) reduce() pk             { return p.op(REDUCE) }
func (p pk) tuple() pk              { return p.op(TUPLE) }
func (p pk) binint1(v byte) pk      { return p.add(byte(BININT1), v) }
func (p pk) binput(i byte) pk       { return p.add(byte(BINPUT), i) }
func (p pk) binget(i byte) pk       { return p.add(byte(BINGET), i) }
func (p pk) text(o Op, s string) pk { return p.op(o).str(s + "\n") }

func (p pk) u(s string) pk { // SHORT_BINUNICODE or BINUNICODE
	if len(s) < 256 {
		return p.add(byte(SHORT_BINUNICODE), byte(len(s))).str(s)
	}
	return p.binunicode(s)
}

func (p pk) binunicode(s string) pk {
	return p.op(BINUNICODE).add(binary.LittleEndian.AppendUint32(nil, uint32(len(s)))...).str(s)
}

func (p pk) binbytes(b string) pk {
	return p.op(BINBYTES).add(binary.LittleEndian.AppendUint32(nil, uint32(len(b)))...).str(b)
}

func (p pk) binint(v int32) pk {
	return p.op(BININT).add(binary.LittleEndian.AppendUint32(nil, uint32(v))...)
}

func (p pk) u8(o Op, n uint64) pk { return p.op(o).add(binary.LittleEndian.AppendUint64(nil, n)...) }

func (p pk) stringOp(s string) pk { return p.text(STRING, strconv.Quote(s)) }
