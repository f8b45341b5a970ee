package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"modelgate/internal/limits"
)

// recorder notes events as strings for table tests.
type recorder struct {
	events []string
}

func (r *recorder) add(f string, a ...any) { r.events = append(r.events, fmt.Sprintf(f, a...)) }

func (r *recorder) Global(g *Global) {
	switch {
	case g.ExtCode != 0:
		r.add("EXT %d", g.ExtCode)
	case g.Computed:
		r.add("COMPUTED %s", GlobalExpr(g))
	default:
		r.add("GLOBAL %s", g.QualName())
	}
}
func (r *recorder) Call(c *Call) {
	if c.Method != "" {
		r.add("METHOD %s %s.%s", c.Op, Repr(c.Callee), c.Method)
		return
	}
	r.add("CALL %s %s", c.Op, (&Renderer{}).CallExpr(c))
}
func (r *recorder) Build(obj, state *Value, off int64)   { r.add("BUILD %s %s", Repr(obj), Repr(state)) }
func (r *recorder) Persistent(pid, _ *Value, off int64)  { r.add("PID %s", Repr(pid)) }
func (r *recorder) Anomaly(off int64, op Op, msg string) { r.add("ANOMALY %s", msg) }
func (r *recorder) StreamStart(int64)                    {}
func (r *recorder) StreamEnd(*Stream)                    {}

func scanBytes(t *testing.T, data []byte, opts Options) (*Result, *recorder, error) {
	t.Helper()
	rec := &recorder{}
	res, err := ScanAll(context.Background(), bytes.NewReader(data), int64(len(data)), rec, opts)
	return res, rec, err
}

func result(res *Result) string {
	if len(res.Streams) == 0 || res.Streams[0].Result == nil {
		return "<none>"
	}
	return Repr(res.Streams[0].Result)
}

// TestOpcodes decodes every value-producing opcode.
func TestOpcodes(t *testing.T) {
	tests := []struct {
		name string
		data pk
		want string
	}{
		{"NONE", pk{}.op(NONE).stop(), "None"},
		{"NEWTRUE/NEWFALSE", pk{}.proto(2).op(NEWTRUE).op(NEWFALSE).op(TUPLE2).stop(), "(True, False)"},
		{"INT bools", pk{}.mark().text(INT, "01").text(INT, "00").text(INT, "-42").text(INT, "0x10").tuple().stop(), "(True, False, -42, 16)"},
		{"INT big", pk{}.text(INT, "123456789012345678901234567890").stop(), "123456789012345678901234567890"},
		{"BININT*", pk{}.mark().binint1(7).raw(byte(BININT2), 0x34, 0x12).binint(-5).tuple().stop(), "(7, 4660, -5)"},
		{"LONG", pk{}.text(LONG, "-99999999999999999999L").stop(), "-99999999999999999999"},
		{"LONG1", pk{}.proto(2).raw(byte(LONG1), 2, 0xff, 0x7f).stop(), "32767"},
		{"LONG1 negative", pk{}.proto(2).raw(byte(LONG1), 1, 0xff).stop(), "-1"},
		{"LONG1 big", pk{}.proto(2).raw(byte(LONG1), 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).stop(), "18446744073709551616"},
		{"LONG4", pk{}.proto(2).raw(byte(LONG4), 1, 0, 0, 0, 0x05).stop(), "5"},
		{"FLOAT", pk{}.text(FLOAT, "1.5").stop(), "1.5"},
		{"BINFLOAT", pk{}.raw(byte(BINFLOAT), 0x3f, 0xf8, 0, 0, 0, 0, 0, 0).stop(), "1.5"},
		{"STRING escapes", pk{}.text(STRING, `'a\n\x41\101\\'`).stop(), `'a\nAA\\'`},
		{"STRING double quotes", pk{}.text(STRING, `"it's"`).stop(), `"it's"`},
		{"BINSTRING", pk{}.raw(byte(BINSTRING), 2, 0, 0, 0).str("hi").stop(), "'hi'"},
		{"SHORT_BINSTRING", pk{}.raw(byte(SHORT_BINSTRING), 2).str("hi").stop(), "'hi'"},
		{"UNICODE raw escape", pk{}.text(UNICODE, `caf\u00e9 \\u0041`).stop(), `'café \\\\u0041'`},
		{"BINUNICODE", pk{}.binunicode("héllo").stop(), "'héllo'"},
		{"SHORT_BINUNICODE", pk{}.proto(4).u("x").stop(), "'x'"},
		{"BINUNICODE8", pk{}.proto(4).u8(BINUNICODE8, 2).str("ok").stop(), "'ok'"},
		{"BINBYTES", pk{}.proto(3).binbytes("\x00\x01").stop(), `b'\x00\x01'`},
		{"SHORT_BINBYTES", pk{}.proto(3).raw(byte(SHORT_BINBYTES), 1, 'z').stop(), "b'z'"},
		{"BINBYTES8", pk{}.proto(4).u8(BINBYTES8, 1).str("q").stop(), "b'q'"},
		{"BYTEARRAY8", pk{}.proto(5).u8(BYTEARRAY8, 2).str("ab").stop(), "bytearray(b'ab')"},
		{"EMPTY_* containers", pk{}.proto(4).mark().op(EMPTY_LIST).op(EMPTY_DICT).op(EMPTY_TUPLE).op(EMPTY_SET).mark().op(FROZENSET).op(MARK).op(TUPLE).tuple().stop(), "([], {}, (), set(), frozenset({}), ())"},
		{"LIST/DICT/TUPLE", pk{}.mark().mark().binint1(1).op(LIST).mark().u("k").binint1(2).op(DICT).tuple().stop(), "([1], {'k': 2})"},
		{"TUPLE1-3", pk{}.proto(2).binint1(1).op(TUPLE1).binint1(1).binint1(2).op(TUPLE2).binint1(1).binint1(2).binint1(3).op(TUPLE3).op(TUPLE3).stop(), "((1,), (1, 2), (1, 2, 3))"},
		{"APPEND/APPENDS", pk{}.op(EMPTY_LIST).binint1(1).op(APPEND).mark().binint1(2).binint1(3).op(APPENDS).stop(), "[1, 2, 3]"},
		{"SETITEM/SETITEMS", pk{}.op(EMPTY_DICT).u("a").binint1(1).op(SETITEM).mark().u("b").binint1(2).op(SETITEMS).stop(), "{'a': 1, 'b': 2}"},
		{"ADDITEMS", pk{}.proto(4).op(EMPTY_SET).mark().binint1(5).op(ADDITEMS).stop(), "{5}"},
		{"memo PUT/GET text", pk{}.mark().u("s").text(PUT, "7").text(GET, "7").tuple().stop(), "('s', 's')"},
		{"memo BINPUT/BINGET", pk{}.mark().u("s").binput(3).binget(3).tuple().stop(), "('s', 's')"},
		{"memo LONG_BINPUT/LONG_BINGET", pk{}.mark().u("s").raw(byte(LONG_BINPUT), 9, 0, 0, 0).raw(byte(LONG_BINGET), 9, 0, 0, 0).tuple().stop(), "('s', 's')"},
		{"MEMOIZE counts entries", pk{}.proto(4).mark().u("a").op(MEMOIZE).u("b").binput(9).u("c").op(MEMOIZE).binget(2).tuple().stop(), "('a', 'b', 'c', 'c')"},
		{"DUP", pk{}.mark().binint1(4).op(DUP).tuple().stop(), "(4, 4)"},
		{"POP", pk{}.mark().binint1(4).binint1(5).op(POP).tuple().stop(), "(4,)"},
		{"POP on empty frame pops the mark", pk{}.mark().binint1(1).mark().op(POP).tuple().stop(), "(1,)"},
		{"POP_MARK", pk{}.mark().binint1(1).mark().binint1(2).op(POP_MARK).tuple().stop(), "(1,)"},
		{"FRAME", pk{}.proto(4).u8(FRAME, 3).u("x").stop(), "'x'"},
		{"PERSID", pk{}.text(PERSID, "key").stop(), "persistent_load('key')"},
		{"BINPERSID", pk{}.proto(2).u("k").op(BINPERSID).stop(), "persistent_load('k')"},
		{"NEXT_BUFFER/READONLY_BUFFER", pk{}.proto(5).op(NEXT_BUFFER).op(READONLY_BUFFER).stop(), "<out-of-band buffer>"},
		{"GLOBAL", pk{}.global("collections", "OrderedDict").stop(), "collections.OrderedDict"},
		{"REDUCE", pk{}.global("collections", "OrderedDict").op(EMPTY_TUPLE).reduce().stop(), "collections.OrderedDict()"},
		{"NEWOBJ", pk{}.proto(2).global("m", "C").op(EMPTY_TUPLE).op(NEWOBJ).stop(), "m.C.__new__(m.C)"},
		{"NEWOBJ_EX", pk{}.proto(4).global("m", "C").op(EMPTY_TUPLE).op(EMPTY_DICT).op(NEWOBJ_EX).stop(), "m.C.__new__(m.C)"},
		{"OBJ", pk{}.mark().global("m", "C").binint1(1).op(OBJ).stop(), "m.C(1)"},
		{"INST", pk{}.mark().binint1(1).inst("m", "C").stop(), "m.C(1)"},
		{"STACK_GLOBAL", pk{}.proto(4).u("m").u("f").op(STACK_GLOBAL).stop(), "m.f"},
		{"EXT1", pk{}.proto(2).raw(byte(EXT1), 5).stop(), "copyreg._inverted_registry[5]"},
		{"EXT2", pk{}.proto(2).raw(byte(EXT2), 1, 1).stop(), "copyreg._inverted_registry[257]"},
		{"EXT4", pk{}.proto(2).raw(byte(EXT4), 0, 0, 1, 0).stop(), "copyreg._inverted_registry[65536]"},
		{"py2 rename under protocol 2", pk{}.proto(2).global("__builtin__", "set").stop(), "builtins.set"},
		{"py2 name rename", pk{}.global("__builtin__", "xrange").stop(), "builtins.range"},
		{"no rename under protocol 3", pk{}.proto(3).global("__builtin__", "set").stop(), "__builtin__.set"},
		{"commands is subprocess", pk{}.global("commands", "getoutput").stop(), "subprocess.getoutput"},
	}
	seen := map[Op]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := scanBytes(t, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st := res.Streams[0]; st.Err != nil {
				t.Fatalf("stream error: %v", st.Err)
			}
			if got := result(res); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
		for _, b := range tt.data {
			seen[Op(b)] = true
		}
	}
	// Every one of the 68 opcodes must appear in some test above.
	n := 0
	for i := range 256 {
		if Op(i).Valid() {
			n++
			if !seen[Op(i)] && Op(i) != BUILD {
				t.Errorf("opcode %s has no table test", Op(i))
			}
		}
	}
	if n != 68 {
		t.Errorf("opcode table has %d entries, want 68", n)
	}
}

// TestCalls checks that every call site is seen with its arguments, and
// that values flow between calls.
func TestCalls(t *testing.T) {
	tests := []struct {
		name string
		data pk
		want []string
	}{
		{"REDUCE", pk{}.global("os", "system").mark().u("echo pwned").tuple().reduce().stop(),
			[]string{"GLOBAL os.system", "CALL REDUCE os.system('echo pwned')"}},
		{"call chain", pk{}.proto(2).global("builtins", "getattr").global("builtins", "__import__").mark().u("os").tuple().reduce().u("system").op(TUPLE2).reduce().mark().u("id").tuple().reduce().stop(),
			[]string{"GLOBAL builtins.getattr", "GLOBAL builtins.__import__", "CALL REDUCE builtins.__import__('os')",
				"CALL REDUCE builtins.getattr(builtins.__import__('os'), 'system')",
				"CALL REDUCE builtins.getattr(builtins.__import__('os'), 'system')('id')"}},
		{"INST", pk{}.mark().u("id").inst("os", "system").stop(), []string{"GLOBAL os.system", "CALL INST os.system('id')"}},
		{"OBJ", pk{}.mark().global("os", "system").u("id").op(OBJ).stop(), []string{"GLOBAL os.system", "CALL OBJ os.system('id')"}},
		{"NEWOBJ_EX kwargs", pk{}.proto(4).global("subprocess", "Popen").mark().u("id").tuple().op(EMPTY_DICT).u("shell").op(NEWTRUE).op(SETITEM).op(NEWOBJ_EX).stop(),
			[]string{"GLOBAL subprocess.Popen", "CALL NEWOBJ_EX subprocess.Popen.__new__(subprocess.Popen, 'id', shell=True)"}},
		{"names from the memo", pk{}.proto(4).u("os").binput(0).op(POP).u("posix").u("system").op(STACK_GLOBAL).binget(0).op(POP).stop(),
			[]string{"GLOBAL posix.system"}},
		{"computed STACK_GLOBAL", pk{}.proto(4).global("codecs", "decode").mark().u("bf").u("rot13").tuple().reduce().u("system").op(STACK_GLOBAL).stop(),
			[]string{"GLOBAL codecs.decode", "CALL REDUCE codecs.decode('bf', 'rot13')", "COMPUTED find_class(codecs.decode('bf', 'rot13'), 'system')"}},
		{"dotted name kept whole", pk{}.proto(4).u("posixpath").u("os.system").op(STACK_GLOBAL).stop(), []string{"GLOBAL posixpath.os.system"}},
		{"STACK_GLOBAL with STRING names and no PROTO", pk{}.stringOp("os").stringOp("system").op(STACK_GLOBAL).stringOp("ls").raw(byte(TUPLE1)).reduce().stop(),
			[]string{"GLOBAL os.system", "CALL REDUCE os.system('ls')"}},
		{"BUILD on object", pk{}.proto(2).global("m", "C").op(EMPTY_TUPLE).op(NEWOBJ).op(EMPTY_DICT).u("a").binint1(1).op(SETITEM).op(BUILD).stop(),
			[]string{"GLOBAL m.C", "CALL NEWOBJ m.C.__new__(m.C)", "BUILD m.C.__new__(m.C) {'a': 1}"}},
		{"BUILD calls a __setstate__ the stream set", pk{}.proto(2).global("types", "SimpleNamespace").op(EMPTY_TUPLE).reduce().op(NONE).op(EMPTY_DICT).u("__setstate__").global("os", "system").op(SETITEM).op(TUPLE2).op(BUILD).u("echo pwned").op(BUILD).stop(),
			[]string{"GLOBAL types.SimpleNamespace", "CALL REDUCE types.SimpleNamespace()", "GLOBAL os.system",
				"BUILD types.SimpleNamespace() (None, {'__setstate__': os.system})", "CALL BUILD os.system('echo pwned')"}},
		{"SETITEMS on an object", pk{}.proto(2).global("collections", "OrderedDict").op(EMPTY_TUPLE).reduce().mark().u("k").binint1(1).op(SETITEMS).stop(),
			[]string{"GLOBAL collections.OrderedDict", "CALL REDUCE collections.OrderedDict()", "METHOD SETITEMS collections.OrderedDict().__setitem__"}},
		{"APPENDS on a global", pk{}.proto(2).global("sys", "path").mark().u("/tmp").op(APPENDS).stop(),
			[]string{"GLOBAL sys.path", "METHOD APPENDS sys.path.extend"}},
		{"persistent id", pk{}.proto(2).mark().u("storage").global("torch", "FloatStorage").u("0").u("cpu").binint1(4).tuple().op(BINPERSID).stop(),
			[]string{"GLOBAL torch.FloatStorage", "PID ('storage', torch.FloatStorage, '0', 'cpu', 4)"}},
		{"second PROTO", pk{}.proto(2).proto(4).op(NONE).stop(), []string{"ANOMALY second PROTO opcode (protocol 4 after 2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec, err := scanBytes(t, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st := res.Streams[0]; st.Err != nil {
				t.Fatalf("stream error: %v", st.Err)
			}
			if got := strings.Join(rec.events, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestBrokenStreams: a load runs everything before a break; the scan must
// see it, report the break, and read on.
func TestBrokenStreams(t *testing.T) {
	payload := pk{}.proto(2).global("os", "system").mark().u("echo pwned").tuple().reduce()
	tests := []struct {
		name     string
		data     pk
		errPart  string
		streams  int
		wantCall bool
	}{
		{"unknown opcode after payload", payload.raw(0xff, 0xfe), "unknown opcode 0xff", 1, true},
		{"missing STOP", payload, "truncated", 1, true},
		{"truncated argument", payload.raw(byte(BINUNICODE), 9, 0, 0, 0, 'x'), "exceeds", 1, true},
		{"GET of an unset memo index", payload.binget(7).stop(), "memo value not found", 1, true},
		{"stack underflow", payload.op(POP).op(POP).stop(), "underflow", 1, true},
		{"missing MARK", payload.op(TUPLE).stop(), "could not find MARK", 1, true},
		{"bad protocol", pk{}.proto(9).stop(), "unsupported pickle protocol", 1, false},
		{"STACK_GLOBAL needs str", pk{}.proto(4).binint1(1).binint1(2).op(STACK_GLOBAL).stop(), "requires str", 1, false},
		{"call of a literal", pk{}.binint1(1).op(EMPTY_TUPLE).reduce().stop(), "not callable", 1, false},
		{"payload after a broken stream", pk{}.raw(0xff).raw(payload...).stop(), "", 1, true},
		{"payload after STOP", pk{}.op(NONE).stop().raw(payload...).stop(), "", 2, true},
		{"payload after junk", pk{}.op(NONE).stop().str("\x00\x01junk\n").raw(payload...).stop(), "", 2, true},
		{"frame longer than the data", pk{}.proto(4).u8(FRAME, 1000).op(NONE).stop(), "frame of 1000 bytes", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec, err := scanBytes(t, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, st := range res.Streams {
				if st.Err != nil {
					errs = append(errs, st.Err.Msg)
				}
			}
			if tt.errPart != "" && !strings.Contains(strings.Join(errs, ";"), tt.errPart) {
				t.Errorf("errors %q, want one containing %q", errs, tt.errPart)
			}
			got := strings.Join(rec.events, "\n")
			if tt.wantCall != strings.Contains(got, "CALL REDUCE os.system('echo pwned')") {
				t.Errorf("payload call seen = %v, want %v; events:\n%s", !tt.wantCall, tt.wantCall, got)
			}
			if tt.streams > 0 && countOK(res) < tt.streams-len(errs) {
				t.Errorf("streams: %d ok, want %d", countOK(res), tt.streams)
			}
		})
	}
}

func countOK(res *Result) int {
	n := 0
	for _, st := range res.Streams {
		if st.Err == nil {
			n++
		}
	}
	return n
}

// TestLimits: hostile sizes end in a clear error or limit, never an
// allocation of what the stream announces.
func TestLimits(t *testing.T) {
	small := limits.Default()
	small.MaxPickleOps = 1000
	small.MaxPickleStack = 100
	small.MaxPickleMemo = 10
	small.MaxPickleStringBytes = 64
	many := pk{}.proto(4)
	for range 2000 {
		many = many.op(NONE).op(POP)
	}
	deep := pk{}
	for range 200 {
		deep = deep.mark()
	}
	memo := pk{}.proto(4).op(NONE)
	for i := range 20 {
		memo = memo.binput(byte(i))
	}
	tests := []struct {
		name  string
		data  pk
		limit string // a limits.Error for this field, or "" for a stream error
		msg   string
	}{
		{"1 TB BINBYTES8 in 11 bytes", pk{}.proto(4).u8(BINBYTES8, 1<<40), "", "exceeds the 0 bytes left"},
		{"BINUNICODE8 beyond int64", pk{}.proto(4).u8(BINUNICODE8, 1<<63+5), "", "exceeds the maximum size"},
		{"negative BINSTRING", pk{}.raw(byte(BINSTRING), 0xff, 0xff, 0xff, 0xff), "", "negative byte count"},
		{"huge FRAME", pk{}.proto(4).u8(FRAME, 1<<62), "", "exceeds"},
		{"ops", many.stop(), "MaxPickleOps", ""},
		{"marks", deep, "MaxPickleStack", ""},
		{"memo", memo.stop(), "MaxPickleMemo", ""},
		{"string bytes", pk{}.mark().binunicode(strings.Repeat("a", 40)).binunicode(strings.Repeat("b", 40)).tuple().stop(), "MaxPickleStringBytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := scanBytes(t, tt.data, Options{Limits: small})
			if tt.limit != "" {
				var le *limits.Error
				if !errors.As(err, &le) || le.Limit != tt.limit || !errors.Is(err, limits.ErrLimit) {
					t.Fatalf("err = %v, want a %s limit error", err, tt.limit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Streams) == 0 || res.Streams[0].Err == nil || !strings.Contains(res.Streams[0].Err.Msg, tt.msg) {
				t.Fatalf("streams %+v, want an error containing %q", res.Streams, tt.msg)
			}
		})
	}
}

// TestLargeArgumentsByReference: arguments beyond InlineMax keep a prefix
// and their offset instead of being read into memory.
func TestLargeArgumentsByReference(t *testing.T) {
	big := strings.Repeat("z", 5000)
	data := pk{}.proto(3).binbytes(big).stop()
	res, _, err := scanBytes(t, data, Options{BytesInlineMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Streams[0].Result
	if !v.Truncated || !v.ByRef || v.Len() != 5000 || len(v.Str) != 256 || v.Off != 7 {
		t.Fatalf("value: truncated=%v len=%d held=%d off=%d", v.Truncated, v.Len(), len(v.Str), v.Off)
	}
}

// TestHostileTrailingData: bytes crafted so that every position looks like
// a pickle start cost a bounded amount of work, and what was not searched
// is reported rather than passed.
func TestHostileTrailingData(t *testing.T) {
	junk := strings.Repeat("S'os'\n", 2<<20/6)
	data := []byte("N." + junk)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := ScanAll(ctx, bytes.NewReader(data), int64(len(data)), nopVisitor{}, Options{})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("err %v ctx %v", err, ctx.Err())
	}
	if res.Unsearched == nil && len(res.Streams) < 2 {
		t.Errorf("neither searched nor reported unsearched: %+v", res)
	}
}

// TestPayloadAfterLargeJunk: a payload after a megabyte of random bytes is
// still found.
func TestPayloadAfterLargeJunk(t *testing.T) {
	junk := make([]byte, 1<<20)
	seed := uint32(1)
	for i := range junk {
		seed = seed*1664525 + 1013904223
		junk[i] = byte(seed >> 24)
	}
	data := append(append([]byte("N."), junk...), pk{}.proto(2).global("os", "system").mark().u("id").tuple().reduce().stop()...)
	_, rec, err := scanBytes(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rec.events, "\n"), "CALL REDUCE os.system('id')") {
		t.Errorf("payload after junk missed")
	}
}

// TestProbe: what counts as a pickle start, and what the probe reads.
func TestProbe(t *testing.T) {
	preamble := pk{}.op(EMPTY_LIST)
	for range 5000 {
		preamble = preamble.text(INT, "1").op(APPEND)
	}
	noNewline := append([]byte("p"), bytes.Repeat([]byte("x"), 1<<20)...)
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"long harmless preamble before a payload", preamble.global("os", "system").stop(), true},
		{"PROTO then a clean start", pk{}.proto(4).u8(FRAME, 2).op(NONE).stop(), true},
		{"PROTO then a few clean opcodes, broken", pk{}.proto(2).op(EMPTY_DICT).op(EMPTY_LIST).op(NONE).raw(0xff), true},
		{"PROTO then junk", []byte{0x80, 0x02, 0xff, 0x13, 0x00}, false},
		{"a text opcode with no newline for a megabyte", noNewline, false},
		{"JSON", []byte(`{"a": 1}`), false},
		{"text", []byte("Hello world, this is a README.\n"), false},
		{"protocol 0 import", []byte("cos\nsystem\n"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(tt.data)}
			if got := LooksLikePickle(r, 0, int64(len(tt.data))); got != tt.want {
				t.Errorf("LooksLikePickle = %v, want %v", got, tt.want)
			}
			if r.n > 1<<17 {
				t.Errorf("the probe read %d bytes", r.n)
			}
		})
	}
}

type countingReader struct {
	r *bytes.Reader
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}
