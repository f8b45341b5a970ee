package pickle

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// step interprets one opcode (all but STOP). Each case follows what
// CPython's unpickler does for the opcode, including where it raises.
func (m *Machine) step(ctx context.Context, op Op, off int64) error {
	s := m.src
	st := m.st
	switch op {
	case MARK:
		if len(st.marks) >= m.lim.MaxPickleStack {
			return limitErr("MaxPickleStack", len(st.marks)+1, m.lim.MaxPickleStack, off)
		}
		st.marks = append(st.marks, len(st.stack))
	case POP:
		if len(st.stack) > m.base() {
			st.stack = st.stack[:len(st.stack)-1]
			return nil
		}
		// With an empty frame, POP discards the mark itself (as the C
		// unpickler does); with no mark either, the stack underflows.
		if len(st.marks) == 0 {
			return &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
		}
		_, err := m.popMark(off, op)
		return err
	case POP_MARK:
		_, err := m.popMark(off, op)
		return err
	case DUP:
		v, err := m.top(off, op)
		if err != nil {
			return err
		}
		return m.push(v, off)

	case NONE:
		return m.push(m.none, off)
	case NEWTRUE:
		return m.push(m.vTrue, off)
	case NEWFALSE:
		return m.push(m.vFalse, off)
	case BININT1:
		b, ok := s.take(1)
		if !ok {
			return m.truncated(off, op)
		}
		return m.push(m.intValue(int64(b[0]), off), off)
	case BININT2:
		b, ok := s.take(2)
		if !ok {
			return m.truncated(off, op)
		}
		return m.push(m.intValue(int64(binary.LittleEndian.Uint16(b)), off), off)
	case BININT:
		b, ok := s.take(4)
		if !ok {
			return m.truncated(off, op)
		}
		return m.push(m.intValue(int64(int32(binary.LittleEndian.Uint32(b))), off), off)
	case BINFLOAT:
		b, ok := s.take(8)
		if !ok {
			return m.truncated(off, op)
		}
		v := m.newValue(KindFloat, off)
		v.Int = int64(binary.BigEndian.Uint64(b))
		return m.push(v, off)
	case INT:
		line, _, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		switch string(line) {
		case "00":
			return m.push(m.vFalse, off)
		case "01":
			return m.push(m.vTrue, off)
		}
		return m.pushIntText(string(line), op, off)
	case LONG:
		line, _, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		t := strings.TrimSpace(string(line))
		t = strings.TrimSuffix(t, "L")
		return m.pushIntText(t, op, off)
	case FLOAT:
		line, _, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(string(line)), 64)
		if perr != nil {
			return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("could not convert string to float: %q", truncate(string(line), 40))}
		}
		v := m.newValue(KindFloat, off)
		v.Int = int64(math.Float64bits(f))
		return m.push(v, off)
	case LONG1, LONG4:
		var n int64
		var err error
		if op == LONG1 {
			n, err = m.readLen(op, off, 1, false)
		} else {
			n, err = m.readLen(op, off, 4, true)
		}
		if err != nil {
			return err
		}
		data, full, ok := s.readData(n, 1<<16, 4096)
		if !ok {
			return m.truncated(off, op)
		}
		v := m.newValue(KindInt, off)
		if !full {
			v.Kind = KindBigInt
			v.Str = fmt.Sprintf("<%d-byte int>", n)
			return m.push(v, off)
		}
		i, text, isBig := decodeLong([]byte(data))
		if isBig {
			v.Kind = KindBigInt
			v.Str = text
		} else {
			if i >= -5 && i <= 256 {
				return m.push(&shared.small[i+5], off)
			}
			v.Int = i
		}
		return m.push(v, off)

	case STRING:
		line, full, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		if full && (len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"')) {
			return &StreamError{Off: off, Op: op, Msg: "the STRING opcode argument must be quoted"}
		}
		if len(line) >= 2 {
			line = line[1 : len(line)-1]
		}
		dec, derr := escapeDecode(line)
		if derr != nil {
			return &StreamError{Off: off, Op: op, Msg: derr.Error()}
		}
		return m.push(m.strValue(string(dec), full, off), off)
	case UNICODE:
		line, full, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		dec, derr := rawUnicodeEscapeDecode(line)
		if derr != nil {
			return &StreamError{Off: off, Op: op, Msg: derr.Error()}
		}
		return m.push(m.strValue(dec, full, off), off)
	case SHORT_BINSTRING, SHORT_BINUNICODE, SHORT_BINBYTES:
		n, err := m.readLen(op, off, 1, false)
		if err != nil {
			return err
		}
		return m.pushBlob(blobKind(op), n, op, off)
	case BINSTRING:
		n, err := m.readLen(op, off, 4, true)
		if err != nil {
			return err
		}
		return m.pushBlob(KindStr, n, op, off)
	case BINUNICODE, BINBYTES:
		n, err := m.readLen(op, off, 4, false)
		if err != nil {
			return err
		}
		return m.pushBlob(blobKind(op), n, op, off)
	case BINUNICODE8, BINBYTES8, BYTEARRAY8:
		n, err := m.readLen(op, off, 8, false)
		if err != nil {
			return err
		}
		return m.pushBlob(blobKind(op), n, op, off)

	case EMPTY_TUPLE:
		return m.push(m.newValue(KindTuple, off), off)
	case TUPLE1, TUPLE2, TUPLE3:
		n := int(op-TUPLE1) + 1
		if len(st.stack)-m.base() < n {
			return &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
		}
		items := st.stack[len(st.stack)-n:]
		t := m.newValue(KindTuple, off)
		t.Items, _ = m.copyItems(items, off)
		if t.Items == nil {
			t.Truncated = true
		}
		st.stack = st.stack[:len(st.stack)-n]
		return m.push(t, off)
	case TUPLE, LIST, FROZENSET:
		items, err := m.popMark(off, op)
		if err != nil {
			return err
		}
		k := KindTuple
		if op == LIST {
			k = KindList
		} else if op == FROZENSET {
			k = KindFrozenSet
		}
		v := m.newValue(k, off)
		var ok bool
		v.Items, ok = m.copyItems(items, off)
		v.Truncated = !ok
		return m.push(v, off)
	case DICT:
		items, err := m.popMark(off, op)
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return &StreamError{Off: off, Op: op, Msg: "odd number of items for DICT"}
		}
		v := m.newValue(KindDict, off)
		var ok bool
		v.Items, ok = m.copyItems(items, off)
		v.Truncated = !ok
		return m.push(v, off)
	case EMPTY_LIST:
		return m.push(m.newValue(KindList, off), off)
	case EMPTY_DICT:
		return m.push(m.newValue(KindDict, off), off)
	case EMPTY_SET:
		return m.push(m.newValue(KindSet, off), off)

	case APPEND:
		v, err := m.pop(off, op)
		if err != nil {
			return err
		}
		return m.addItems(op, off, []*Value{v})
	case APPENDS, SETITEMS, ADDITEMS:
		items, err := m.popMark(off, op)
		if err != nil {
			return err
		}
		return m.addItems(op, off, items)
	case SETITEM:
		if len(st.stack)-m.base() < 2 {
			return &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
		}
		items := st.stack[len(st.stack)-2:]
		st.stack = st.stack[:len(st.stack)-2]
		return m.addItems(op, off, items)

	case GET:
		i, err := m.readDecimal(op, off)
		if err != nil {
			return err
		}
		return m.pushMemo(i, op, off)
	case BINGET:
		b, ok := s.take(1)
		if !ok {
			return m.truncated(off, op)
		}
		return m.pushMemo(uint64(b[0]), op, off)
	case LONG_BINGET:
		b, ok := s.take(4)
		if !ok {
			return m.truncated(off, op)
		}
		return m.pushMemo(uint64(binary.LittleEndian.Uint32(b)), op, off)
	case PUT:
		i, err := m.readDecimal(op, off)
		if err != nil {
			return err
		}
		return m.putTop(i, op, off)
	case BINPUT:
		b, ok := s.take(1)
		if !ok {
			return m.truncated(off, op)
		}
		return m.putTop(uint64(b[0]), op, off)
	case LONG_BINPUT:
		b, ok := s.take(4)
		if !ok {
			return m.truncated(off, op)
		}
		return m.putTop(uint64(binary.LittleEndian.Uint32(b)), op, off)
	case MEMOIZE:
		return m.putTop(uint64(st.memoCount), op, off)

	case GLOBAL, INST:
		mod, _, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		modName := string(mod)
		name, _, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		if !utf8.Valid(mod) || !utf8.Valid(name) {
			return &StreamError{Off: off, Op: op, Msg: "module or name is not valid UTF-8"}
		}
		g := m.lookup(op, off, modName, string(name))
		if op == GLOBAL {
			return m.push(g, off)
		}
		args, err := m.popMark(off, op)
		if err != nil {
			return err
		}
		return m.instantiate(op, off, g, args)
	case STACK_GLOBAL:
		if len(st.stack)-m.base() < 2 {
			return &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
		}
		modV, nameV := st.stack[len(st.stack)-2], st.stack[len(st.stack)-1]
		st.stack = st.stack[:len(st.stack)-2]
		return m.stackGlobal(op, off, modV, nameV)
	case EXT1, EXT2, EXT4:
		var code int64
		switch op {
		case EXT1:
			b, ok := s.take(1)
			if !ok {
				return m.truncated(off, op)
			}
			code = int64(b[0])
		case EXT2:
			b, ok := s.take(2)
			if !ok {
				return m.truncated(off, op)
			}
			code = int64(binary.LittleEndian.Uint16(b))
		default:
			b, ok := s.take(4)
			if !ok {
				return m.truncated(off, op)
			}
			code = int64(int32(binary.LittleEndian.Uint32(b)))
		}
		if code <= 0 {
			return &StreamError{Off: off, Op: op, Msg: "EXT specifies code <= 0"}
		}
		g := &Global{Op: op, Off: off, Proto: st.proto, ExtCode: code}
		m.v.Global(g)
		v := m.newValue(KindGlobal, off)
		v.Global = g
		return m.push(v, off)

	case REDUCE:
		args, err := m.pop(off, op)
		if err != nil {
			return err
		}
		fn, err := m.top(off, op)
		if err != nil {
			return err
		}
		res := m.call(op, off, fn, args, nil, false)
		st.stack[len(st.stack)-1] = res
		return m.notCallable(fn, op, off)
	case NEWOBJ:
		args, err := m.pop(off, op)
		if err != nil {
			return err
		}
		cls, err := m.pop(off, op)
		if err != nil {
			return err
		}
		if err := m.push(m.call(op, off, cls, args, nil, true), off); err != nil {
			return err
		}
		return m.notCallable(cls, op, off)
	case NEWOBJ_EX:
		kwargs, err := m.pop(off, op)
		if err != nil {
			return err
		}
		args, err := m.pop(off, op)
		if err != nil {
			return err
		}
		cls, err := m.pop(off, op)
		if err != nil {
			return err
		}
		if err := m.push(m.call(op, off, cls, args, kwargs, true), off); err != nil {
			return err
		}
		return m.notCallable(cls, op, off)
	case OBJ:
		items, err := m.popMark(off, op)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return &StreamError{Off: off, Op: op, Msg: "OBJ without a class"}
		}
		cls := items[0]
		return m.instantiate(op, off, cls, items[1:])
	case BUILD:
		state, err := m.pop(off, op)
		if err != nil {
			return err
		}
		inst, err := m.top(off, op)
		if err != nil {
			return err
		}
		if err := m.build(op, off, inst, state); err != nil {
			return err
		}
		if m.opts.AfterBuild != nil {
			return m.opts.AfterBuild(m, st.stack[len(st.stack)-1])
		}
		return nil

	case PERSID:
		line, full, err := m.readLine(op, off)
		if err != nil {
			return err
		}
		pid := m.strValue(string(line), full, off)
		return m.persistent(pid, off)
	case BINPERSID:
		pid, err := m.pop(off, op)
		if err != nil {
			return err
		}
		return m.persistent(pid, off)

	case PROTO:
		b, ok := s.take(1)
		if !ok {
			return m.truncated(off, op)
		}
		if b[0] > HighestProtocol {
			return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("unsupported pickle protocol: %d", b[0])}
		}
		if st.protoSeen {
			m.v.Anomaly(off, op, fmt.Sprintf("second PROTO opcode (protocol %d after %d)", b[0], st.proto))
		} else if off != m.streamStart() {
			m.v.Anomaly(off, op, "PROTO opcode not at the start of the stream")
		}
		st.proto = int(b[0])
		st.protoSeen = true
	case FRAME:
		b, ok := s.take(8)
		if !ok {
			return m.truncated(off, op)
		}
		n := binary.LittleEndian.Uint64(b)
		if n > uint64(s.remaining()) {
			return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("frame of %d bytes exceeds the %d bytes left", n, s.remaining())}
		}
	case NEXT_BUFFER:
		// A plain load has no out-of-band buffers and raises here; keep
		// reading so that nothing after it goes unseen.
		m.v.Anomaly(off, op, "out-of-band buffer requested (a plain load fails here)")
		return m.push(m.newValue(KindBuffer, off), off)
	case READONLY_BUFFER:
		_, err := m.top(off, op)
		return err
	default:
		return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("unknown opcode 0x%02x", byte(op))}
	}
	return nil
}

func limitErr(name string, v, max int, off int64) error {
	return limitsExceeded(name, int64(v), int64(max), off)
}

func blobKind(op Op) Kind {
	switch op {
	case SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING:
		return KindStr
	case BYTEARRAY8:
		return KindByteArray
	}
	return KindBytes
}

func (m *Machine) pushBlob(k Kind, n int64, op Op, off int64) error {
	v, err := m.readBlob(k, n, op, off)
	if err != nil {
		return err
	}
	return m.push(v, off)
}

func (m *Machine) pushIntText(t string, op Op, off int64) error {
	n, text, isBig, err := parsePyInt(t)
	if err != nil {
		return &StreamError{Off: off, Op: op, Msg: err.Error()}
	}
	if isBig {
		v := m.newValue(KindBigInt, off)
		v.Str = text
		return m.push(v, off)
	}
	return m.push(m.intValue(n, off), off)
}

func (m *Machine) pushMemo(i uint64, op Op, off int64) error {
	v, err := m.memoGet(i, off, op)
	if err != nil {
		return err
	}
	return m.push(v, off)
}

func (m *Machine) putTop(i uint64, op Op, off int64) error {
	v, err := m.top(off, op)
	if err != nil {
		return err
	}
	return m.memoPut(i, v, off)
}
