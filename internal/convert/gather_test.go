package convert

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// naiveGather copies a view element by element, the definition gather
// must match.
func naiveGather(t *tensorRef, storage []byte) []byte {
	var out []byte
	n := t.Numel()
	idx := make([]int64, len(t.Shape))
	for i := int64(0); i < n; i++ {
		off := t.Offset
		for d := range idx {
			off += idx[d] * t.Stride[d]
		}
		out = append(out, storage[off*t.ElemSize:(off+1)*t.ElemSize]...)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// randomView makes a view that fits its storage: random sizes, strides
// of either a permuted contiguous layout, a slice of one, or zero.
func randomView(r *rand.Rand) *tensorRef {
	el := []int64{1, 2, 4, 8}[r.IntN(4)]
	nd := r.IntN(5)
	shape := make([]int64, nd)
	for i := range shape {
		shape[i] = int64(r.IntN(5) + 1)
		if r.IntN(20) == 0 {
			shape[i] = 0
		}
	}
	// A contiguous layout of a bigger tensor, permuted, then sliced.
	step := make([]int64, nd)
	stride := make([]int64, nd)
	acc := int64(1)
	for _, i := range r.Perm(nd) {
		step[i] = int64(r.IntN(3) + 1)
		stride[i] = acc * step[i]
		acc *= shape[i]*step[i] + int64(r.IntN(2))
		if r.IntN(10) == 0 {
			stride[i] = 0
		}
	}
	offset := int64(r.IntN(7))
	t := &tensorRef{DType: "x", ElemSize: el, Offset: offset, Shape: shape, Stride: stride}
	last := offset
	for i := range shape {
		if shape[i] > 0 {
			last += (shape[i] - 1) * stride[i]
		}
	}
	t.Storage = &storageRef{Key: "0", ElemSize: el, Numel: last + 1 + int64(r.IntN(5))}
	return t
}

func TestGatherMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for i := range 1500 {
		v := randomView(r)
		storage := make([]byte, v.Storage.Bytes())
		for j := range storage {
			storage[j] = byte(r.Uint32())
		}
		reg := &region{r: bytes.NewReader(append([]byte("prefix"), storage...)), off: 6, size: int64(len(storage))}
		want := naiveGather(v, storage)
		// Whole-span mode, then the windowed mode with tiny windows,
		// reusing one scratch buffer as a job does.
		var sc scratch
		for _, b := range [][2]int64{{1 << 20, 1 << 20}, {0, 3}, {0, 16}, {0, 1}} {
			var got bytes.Buffer
			if err := gatherWithin(ctx, v, reg, &got, b[0], b[1], &sc); err != nil {
				t.Fatalf("view %d (%v %v +%d, el %d) budgets %v: %v", i, v.Shape, v.Stride, v.Offset, v.ElemSize, b, err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("view %d (%v %v +%d, el %d) budgets %v: got %x, want %x", i, v.Shape, v.Stride, v.Offset, v.ElemSize, b, got.Bytes(), want)
			}
		}
		if v.contiguous() {
			off, n := v.contiguousRange()
			if !bytes.Equal(storage[off:off+n], want) {
				t.Fatalf("view %d (%v %v) called contiguous but is not", i, v.Shape, v.Stride)
			}
		}
	}
}

func TestCheckBounds(t *testing.T) {
	st := &storageRef{Key: "0", ElemSize: 4, Numel: 12}
	cases := []struct {
		offset        int64
		shape, stride []int64
		ok            bool
	}{
		{0, []int64{3, 4}, []int64{4, 1}, true},
		{0, []int64{4, 3}, []int64{1, 4}, true},
		{1, []int64{3, 4}, []int64{4, 1}, false}, // one past the end
		{11, []int64{}, []int64{}, true},
		{12, []int64{}, []int64{}, false},
		{12, []int64{0}, []int64{1}, true}, // empty: no bytes read
		{0, []int64{1 << 40, 1 << 40}, []int64{1, 1}, false},
		{0, []int64{2}, []int64{1 << 62}, false},
		{-1, []int64{1}, []int64{1}, false},
		{0, []int64{2}, []int64{-1}, false},
		{0, []int64{2, 2}, []int64{1}, false},
		{0, []int64{1 << 20}, []int64{0}, true}, // expanded: 4 MiB from 4 bytes
	}
	for _, c := range cases {
		tr := &tensorRef{Storage: st, DType: "float32", ElemSize: 4, Offset: c.offset, Shape: c.shape, Stride: c.stride}
		if err := tr.check(max(st.Bytes(), 8<<20)); (err == nil) != c.ok {
			t.Errorf("offset %d shape %v stride %v: err %v, want ok=%v", c.offset, c.shape, c.stride, err, c.ok)
		}
	}
	big := &tensorRef{Storage: st, DType: "float32", ElemSize: 4, Shape: []int64{1 << 30}, Stride: []int64{0}}
	if err := big.check(max(st.Bytes(), defaultMaxExpansion)); err == nil {
		t.Error("a 4 GiB expansion of a 48-byte storage passed")
	}
}

// TestGatherBlocked covers the blocked path of transposed views: rows
// filled in blocks, with a last partial block, for every element size.
func TestGatherBlocked(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	for _, el := range []int64{1, 2, 4, 8, 16} {
		for _, c := range []struct {
			offset        int64
			shape, stride []int64
		}{
			{0, []int64{70, 33}, []int64{1, 70}},             // transposed, 64 + 6 rows
			{5, []int64{130, 17}, []int64{1, 140}},           // transposed slice of a wider matrix
			{3, []int64{2, 65, 20}, []int64{1400, 1, 70}},    // batched transpose
			{0, []int64{3, 4, 5, 20}, []int64{1, 3, 12, 60}}, // fully reversed order
		} {
			v := &tensorRef{DType: "x", ElemSize: el, Offset: c.offset, Shape: c.shape, Stride: c.stride}
			last := c.offset
			for i := range c.shape {
				last += (c.shape[i] - 1) * c.stride[i]
			}
			v.Storage = &storageRef{Key: "0", ElemSize: el, Numel: last + 1}
			storage := make([]byte, v.Storage.Bytes())
			for j := range storage {
				storage[j] = byte(r.Uint32())
			}
			if ds := v.dims(); !(len(ds) >= 2 && ds[len(ds)-2].src < ds[len(ds)-1].src && ds[len(ds)-1].size >= 16) {
				t.Fatalf("%v %v does not take the blocked path", c.shape, c.stride)
			}
			var got bytes.Buffer
			reg := &region{r: bytes.NewReader(storage), size: int64(len(storage))}
			if err := gather(ctx, v, reg, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), naiveGather(v, storage)) {
				t.Errorf("el %d, %v %v +%d: blocked gather differs", el, c.shape, c.stride, c.offset)
			}
		}
	}
}
