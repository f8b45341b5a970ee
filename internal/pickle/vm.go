package pickle

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"modelgate/internal/limits"
)

// Visitor receives, in stream order, everything a load would do that matters
// for safety. The machine never calls into anything else: it executes
// nothing and imports nothing.
type Visitor interface {
	// Global is called for every GLOBAL, STACK_GLOBAL, INST and EXT lookup.
	Global(g *Global)
	// Call is called for every place a load would call something.
	Call(c *Call)
	// Build is called for a BUILD that updates an object's state without a
	// call the machine can name (see Call for BUILD via a __setstate__
	// attribute the stream itself set).
	Build(obj, state *Value, off int64)
	// Persistent is called for PERSID/BINPERSID with the persistent ID
	// and the value persistent_load stands for.
	Persistent(pid, result *Value, off int64)
	// Anomaly reports something odd that does not stop the loader.
	Anomaly(off int64, op Op, msg string)
	// StreamStart and StreamEnd bracket each pickle stream.
	StreamStart(off int64)
	StreamEnd(s *Stream)
}

// StreamError is a point where the real unpickler would raise: everything
// before it ran, nothing after it would.
type StreamError struct {
	Off int64
	Op  Op
	Msg string
}

func (e *StreamError) Error() string {
	if e.Op.Valid() {
		return fmt.Sprintf("%s at offset %d: %s", e.Op, e.Off, e.Msg)
	}
	return fmt.Sprintf("offset %d: %s", e.Off, e.Msg)
}

// Options configure a Machine.
type Options struct {
	Limits *limits.Limits
	// InlineMax is the largest str argument read into memory; larger ones
	// keep a prefix and their offset. Default 64 KiB. Bytes arguments are
	// held up to BytesInlineMax (default 256 bytes): their contents matter
	// only to loaders, which re-read them from the stream by offset.
	InlineMax      int64
	BytesInlineMax int64
	// MaxLine, if set, bounds how far a text opcode's argument is read
	// looking for its newline; beyond it the stream is broken. Unset, a
	// line is read to its end as the unpickler would (keeping a prefix).
	MaxLine int64
	// AfterBuild, if set, runs after every BUILD with the built object. It
	// may consume bytes that follow in the stream (joblib writes array data
	// inline after a NumpyArrayWrapper's BUILD).
	AfterBuild func(m *Machine, obj *Value) error
}

// Stream summarises one pickle stream.
type Stream struct {
	Start, End int64 // End is the offset after STOP, or where it broke
	Proto      int   // the last PROTO seen (0 when none)
	Ops        int64
	Result     *Value       // what STOP returned; nil if the stream broke
	Err        *StreamError // non-nil if the stream broke
	Calls      int
}

// state is the per-stream unpickler state: a nested stream (joblib's inline
// object arrays) gets a fresh one, as a fresh Unpickler would.
type state struct {
	stack     []*Value
	marks     []int // stack heights at each MARK
	memo      []*Value
	memoMap   map[uint64]*Value // entries far beyond len(memo)
	memoCount int
	proto     int
	protoSeen bool
	calls     int
	start     int64
}

// Machine is a symbolic unpickler. It is not safe for concurrent use.
type Machine struct {
	src  *source
	opts Options
	lim  *limits.Limits
	v    Visitor
	st   *state

	ops      int64 // opcodes in the current top-level stream
	strBytes int64
	values   int64
	retainOK bool
	slab     []Value
	slabSize int

	none, vTrue, vFalse *Value
}

// shared holds the values every machine hands out for None, True, False
// and the ints -5 to 256, as CPython shares them. The machine never
// changes a scalar value, so sharing them is safe and saves each machine
// (and each pickle probe) hundreds of allocations.
var shared = func() (s struct {
	none, vTrue, vFalse Value
	small               [262]Value
}) {
	s.none = Value{Kind: KindNone, Off: -1}
	s.vTrue = Value{Kind: KindBool, Int: 1, Off: -1}
	s.vFalse = Value{Kind: KindBool, Off: -1}
	for i := range s.small {
		s.small[i] = Value{Kind: KindInt, Int: int64(i - 5), Off: -1}
	}
	return s
}()

// NewMachine returns a machine over size bytes of r starting at start.
func NewMachine(r io.ReaderAt, start, size int64, v Visitor, opts Options) *Machine {
	if opts.Limits == nil {
		opts.Limits = limits.Default()
	}
	if opts.InlineMax <= 0 {
		opts.InlineMax = 64 << 10
	}
	if opts.BytesInlineMax <= 0 {
		opts.BytesInlineMax = 256
	}
	m := &Machine{src: newSource(r, start, start+size), opts: opts, lim: opts.Limits, v: v, retainOK: true}
	m.none, m.vTrue, m.vFalse = &shared.none, &shared.vTrue, &shared.vFalse
	return m
}

// Offset is the current stream position.
func (m *Machine) Offset() int64 { return m.src.pos() }

// Remaining is the number of bytes left in the region.
func (m *Machine) Remaining() int64 { return m.src.remaining() }

// SeekTo moves to an absolute offset in the region (for a new stream).
func (m *Machine) SeekTo(off int64) { m.src.seek(off) }

// Skip advances n bytes without reading them; for hooks.
func (m *Machine) Skip(n int64) error {
	if !m.src.skip(n) {
		return &StreamError{Off: m.src.pos(), Msg: fmt.Sprintf("cannot skip %d bytes: only %d left", n, m.src.remaining())}
	}
	return nil
}

// ReadSmall reads n bytes (n <= 64 KiB) for hooks; the slice is valid until
// the next read.
func (m *Machine) ReadSmall(n int) ([]byte, error) {
	b, ok := m.src.take(n)
	if !ok {
		return nil, m.truncated(m.src.pos(), 0)
	}
	return b, nil
}

// RunNested interprets a complete pickle stream at the current position
// with a fresh memo and stack, as a new Unpickler on the same file would,
// and returns to the outer stream's state.
func (m *Machine) RunNested(ctx context.Context) (*Stream, error) {
	saved := m.st
	defer func() { m.st = saved }()
	return m.run(ctx)
}

// Run interprets one pickle stream from the current position to its STOP.
// A stream that breaks returns a Stream with Err set and a nil error; the
// error is reserved for limits, cancellation and I/O failures.
func (m *Machine) Run(ctx context.Context) (*Stream, error) {
	m.ops = 0
	return m.run(ctx)
}

func (m *Machine) newValue(k Kind, off int64) *Value {
	if len(m.slab) == 0 {
		// Slabs grow from 16 to 512 values: small pickles (and probes)
		// allocate little, large ones amortise the allocation.
		m.slabSize = min(max(m.slabSize*2, 16), 512)
		m.slab = make([]Value, m.slabSize)
	}
	v := &m.slab[0]
	m.slab = m.slab[1:]
	v.Kind = k
	v.Off = off
	return v
}

func (m *Machine) intValue(n int64, off int64) *Value {
	if n >= -5 && n <= 256 {
		return &shared.small[n+5]
	}
	v := m.newValue(KindInt, off)
	v.Int = n
	return v
}

// retain accounts for n container items and reports whether they may be kept.
func (m *Machine) retain(n int, off int64) bool {
	if !m.retainOK {
		return false
	}
	m.values += int64(n)
	if m.values > m.lim.MaxPickleValues {
		m.retainOK = false
		m.v.Anomaly(off, 0, fmt.Sprintf("more than %d container items: contents are no longer retained (calls and imports are still all seen)", m.lim.MaxPickleValues))
		return false
	}
	return true
}

func (m *Machine) copyItems(items []*Value, off int64) ([]*Value, bool) {
	if len(items) == 0 {
		return nil, true
	}
	if !m.retain(len(items), off) {
		return nil, false
	}
	out := make([]*Value, len(items))
	copy(out, items)
	return out, true
}

func (m *Machine) truncated(off int64, op Op) error {
	if m.src.err != nil {
		return fmt.Errorf("reading pickle at offset %d: %w", m.src.pos(), m.src.err)
	}
	return &StreamError{Off: off, Op: op, Msg: "pickle data was truncated"}
}

func (m *Machine) run(ctx context.Context) (*Stream, error) {
	m.st = &state{start: m.src.pos()}
	st := m.st
	s := m.src
	strm := &Stream{Start: s.pos()}
	m.v.StreamStart(strm.Start)
	finish := func(err error) (*Stream, error) {
		strm.End = s.pos()
		strm.Proto = st.proto
		strm.Calls = st.calls
		if se, ok := err.(*StreamError); ok {
			strm.Err = se
			err = nil
		}
		m.v.StreamEnd(strm)
		return strm, err
	}
	for {
		if s.i >= s.n && !s.ensure(1) {
			if s.err != nil {
				return finish(m.truncated(s.pos(), 0))
			}
			return finish(&StreamError{Off: s.pos(), Msg: "pickle data was truncated (no STOP)"})
		}
		off := s.bufAt + int64(s.i)
		op := Op(s.buf[s.i])
		s.i++
		m.ops++
		strm.Ops++
		if m.ops > m.lim.MaxPickleOps {
			return finish(limits.Exceeded("MaxPickleOps", m.ops, m.lim.MaxPickleOps, off))
		}
		if m.ops&0xFFFF == 0 {
			if err := ctx.Err(); err != nil {
				return finish(err)
			}
		}
		if op == STOP {
			v, err := m.pop(off, op)
			if err != nil {
				return finish(err)
			}
			strm.Result = v
			return finish(nil)
		}
		if err := m.step(ctx, op, off); err != nil {
			return finish(err)
		}
	}
}

func (m *Machine) push(v *Value, off int64) error {
	st := m.st
	if len(st.stack) >= m.lim.MaxPickleStack {
		return limits.Exceeded("MaxPickleStack", int64(len(st.stack))+1, int64(m.lim.MaxPickleStack), off)
	}
	st.stack = append(st.stack, v)
	return nil
}

func (m *Machine) base() int {
	if n := len(m.st.marks); n > 0 {
		return m.st.marks[n-1]
	}
	return 0
}

func (m *Machine) pop(off int64, op Op) (*Value, error) {
	st := m.st
	if len(st.stack) <= m.base() {
		return nil, &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
	}
	v := st.stack[len(st.stack)-1]
	st.stack = st.stack[:len(st.stack)-1]
	return v, nil
}

func (m *Machine) top(off int64, op Op) (*Value, error) {
	st := m.st
	if len(st.stack) <= m.base() {
		return nil, &StreamError{Off: off, Op: op, Msg: "unpickling stack underflow"}
	}
	return st.stack[len(st.stack)-1], nil
}

// popMark returns the items above the last MARK; the slice aliases the
// stack and is valid until the next push.
func (m *Machine) popMark(off int64, op Op) ([]*Value, error) {
	st := m.st
	n := len(st.marks)
	if n == 0 {
		return nil, &StreamError{Off: off, Op: op, Msg: "could not find MARK"}
	}
	b := st.marks[n-1]
	st.marks = st.marks[:n-1]
	items := st.stack[b:]
	st.stack = st.stack[:b]
	return items, nil
}

func (m *Machine) memoPut(i uint64, v *Value, off int64) error {
	st := m.st
	if i < uint64(len(st.memo)) {
		if st.memo[i] == nil {
			st.memoCount++
		}
		st.memo[i] = v
		return nil
	}
	if st.memoCount >= m.lim.MaxPickleMemo {
		return limits.Exceeded("MaxPickleMemo", int64(st.memoCount)+1, int64(m.lim.MaxPickleMemo), off)
	}
	if i < uint64(len(st.memo))+4096 {
		for uint64(len(st.memo)) < i {
			st.memo = append(st.memo, nil)
		}
		if old, ok := st.memoMap[i]; ok && old != nil {
			delete(st.memoMap, i)
			st.memoCount--
		}
		st.memo = append(st.memo, v)
		st.memoCount++
		return nil
	}
	if st.memoMap == nil {
		st.memoMap = map[uint64]*Value{}
	}
	if _, ok := st.memoMap[i]; !ok {
		st.memoCount++
	}
	st.memoMap[i] = v
	return nil
}

func (m *Machine) memoGet(i uint64, off int64, op Op) (*Value, error) {
	st := m.st
	if i < uint64(len(st.memo)) && st.memo[i] != nil {
		return st.memo[i], nil
	}
	if v, ok := st.memoMap[i]; ok {
		return v, nil
	}
	return nil, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("memo value not found at index %d", i)}
}

// readLen reads a length argument of width w (signed if signed) and checks
// it against the bytes left before anything is allocated.
func (m *Machine) readLen(op Op, off int64, w int, signed bool) (int64, error) {
	b, ok := m.src.take(w)
	if !ok {
		return 0, m.truncated(off, op)
	}
	var n int64
	switch w {
	case 1:
		n = int64(b[0])
	case 4:
		if signed {
			n = int64(int32(binary.LittleEndian.Uint32(b)))
		} else {
			n = int64(binary.LittleEndian.Uint32(b))
		}
	case 8:
		u := binary.LittleEndian.Uint64(b)
		if u > math.MaxInt64 {
			return 0, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("length %d exceeds the maximum size", u)}
		}
		n = int64(u)
	}
	if n < 0 {
		return 0, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("negative byte count %d", n)}
	}
	if n > m.src.remaining() {
		return 0, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("length %d exceeds the %d bytes left", n, m.src.remaining())}
	}
	return n, nil
}

// readBlob reads a counted string or bytes argument of length n into a value.
func (m *Machine) readBlob(k Kind, n int64, op Op, off int64) (*Value, error) {
	dataOff := m.src.pos()
	inline := m.opts.InlineMax
	if k != KindStr {
		inline = m.opts.BytesInlineMax
	}
	data, full, ok := m.src.readData(n, inline, 256)
	if !ok {
		return nil, m.truncated(off, op)
	}
	m.strBytes += int64(len(data))
	if m.strBytes > m.lim.MaxPickleStringBytes {
		return nil, limits.Exceeded("MaxPickleStringBytes", m.strBytes, m.lim.MaxPickleStringBytes, off)
	}
	v := m.newValue(k, off)
	v.Str = data
	if !full {
		v.Truncated, v.ByRef = true, true
		v.Int = n
		v.Off = dataOff
	}
	return v, nil
}

// readLine reads a text argument (protocol 0 opcodes).
func (m *Machine) readLine(op Op, off int64) ([]byte, bool, error) {
	max := int(m.opts.InlineMax)
	start := m.src.pos()
	line, full, ok := m.src.readLine(max, m.opts.MaxLine)
	if !ok {
		if m.opts.MaxLine > 0 && m.src.pos()-start > m.opts.MaxLine {
			return nil, false, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("argument line longer than %d bytes", m.opts.MaxLine)}
		}
		return nil, false, m.truncated(off, op)
	}
	m.strBytes += int64(len(line))
	if m.strBytes > m.lim.MaxPickleStringBytes {
		return nil, false, limits.Exceeded("MaxPickleStringBytes", m.strBytes, m.lim.MaxPickleStringBytes, off)
	}
	return line, full, nil
}

func (m *Machine) strValue(s string, full bool, off int64) *Value {
	v := m.newValue(KindStr, off)
	v.Str = s
	if !full {
		v.Truncated = true
		v.Int = int64(len(s))
	}
	return v
}

func (m *Machine) readDecimal(op Op, off int64) (uint64, error) {
	line, _, err := m.readLine(op, off)
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseUint(string(trimSpace(line)), 10, 64)
	if perr != nil {
		return 0, &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("invalid index %q", truncate(string(line), 40))}
	}
	return n, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
