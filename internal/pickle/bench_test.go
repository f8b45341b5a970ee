package pickle

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// numpyArrayPickle builds what pickle.dumps(ndarray, protocol=4) writes for
// an array of n bytes: a reconstruct call and a BUILD whose state holds the
// raw data as one BINBYTES8.
func numpyArrayPickle(n int) []byte {
	p := pk{}.proto(4).u8(FRAME, 0).
		u("numpy.core.multiarray").op(MEMOIZE).u("_reconstruct").op(MEMOIZE).op(STACK_GLOBAL).op(MEMOIZE).
		u("numpy").op(MEMOIZE).u("ndarray").op(MEMOIZE).op(STACK_GLOBAL).op(MEMOIZE).
		binint1(0).op(TUPLE1).op(MEMOIZE).raw(byte(SHORT_BINBYTES), 1, 'b').op(MEMOIZE).op(TUPLE3).op(MEMOIZE).reduce().op(MEMOIZE).
		mark().binint1(1).binint(int32(n / 4)).op(TUPLE1).op(MEMOIZE).
		u("numpy").u("dtype").op(STACK_GLOBAL).op(MEMOIZE).u("f4").binint1(0).binint1(1).op(TUPLE3).reduce().op(MEMOIZE).
		mark().binint1(3).u("<").op(NONE).op(NONE).op(NONE).binint(-1).binint(-1).binint1(0).tuple().op(BUILD).
		op(NEWFALSE)
	b := []byte(p.op(BINBYTES8))
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	b = append(b, make([]byte, n)...)
	return append(b, byte(MEMOIZE), byte(TUPLE), byte(BUILD), byte(STOP))
}

// smallObjectsPickle builds a protocol 4 pickle of a list of n small dicts
// {'a': i, 'b': 'x'}, memoized and batched as CPython's pickler writes them.
func smallObjectsPickle(n int) ([]byte, int) {
	p := pk{}.proto(4).op(EMPTY_LIST).op(MEMOIZE)
	ops := 3
	var b bytes.Buffer
	b.Write(p)
	for i := 0; i < n; i += 1000 {
		b.WriteByte(byte(MARK))
		ops++
		for j := i; j < n && j < i+1000; j++ {
			if j == 0 {
				b.Write(pk{}.op(EMPTY_DICT).op(MEMOIZE).mark().u("a").op(MEMOIZE).binint(int32(j)).u("b").op(MEMOIZE).u("x").op(MEMOIZE).op(SETITEMS))
				ops += 11
				continue
			}
			b.Write(pk{}.op(EMPTY_DICT).op(MEMOIZE).mark().binget(1).binint(int32(j)).binget(2).binget(3).op(SETITEMS))
			ops += 8
		}
		b.WriteByte(byte(APPENDS))
		ops++
	}
	b.WriteByte(byte(STOP))
	return b.Bytes(), ops + 1
}

func benchScan(b *testing.B, data []byte, ops int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		res, err := ScanAll(ctx, bytes.NewReader(data), int64(len(data)), nopVisitor{}, Options{})
		if err != nil || len(res.Streams) != 1 || res.Streams[0].Err != nil {
			b.Fatalf("scan: %v %+v", err, res)
		}
	}
	if ops > 0 {
		b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mops/s")
	}
}

// BenchmarkBinaryHeavy: a 200 MB pickled NumPy array.
func BenchmarkBinaryHeavy(b *testing.B) {
	benchScan(b, numpyArrayPickle(200<<20), 0)
}

// BenchmarkObjectHeavy: a pickle of one million small objects.
func BenchmarkObjectHeavy(b *testing.B) {
	data, ops := smallObjectsPickle(1_000_000)
	benchScan(b, data, ops)
}

// manyArraysPickle builds a list of n arrays of size bytes each, as a
// scikit-learn forest or an optimizer state holds them.
func manyArraysPickle(n, size int) []byte {
	var b bytes.Buffer
	b.Write(pk{}.proto(4).op(EMPTY_LIST).op(MEMOIZE).mark())
	one := numpyArrayPickle(size)
	one = one[2+9 : len(one)-1] // drop PROTO, FRAME and STOP: the body pushes one array
	for range n {
		b.Write(one)
	}
	b.Write(pk{}.op(APPENDS).stop())
	return b.Bytes()
}

// BenchmarkManyArrays: 200 MB as 100,000 arrays of 2 KiB, held in memory.
func BenchmarkManyArrays(b *testing.B) {
	benchScan(b, manyArraysPickle(100_000, 2<<10), 0)
}

// BenchmarkManyLargeArrays: 200 MB as 10,000 arrays of 20 KiB, skipped.
func BenchmarkManyLargeArrays(b *testing.B) {
	benchScan(b, manyArraysPickle(10_000, 20<<10), 0)
}
