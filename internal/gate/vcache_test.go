package gate

import (
	"fmt"
	"testing"

	"modelgate/internal/store"
)

func TestVerdictCacheBound(t *testing.T) {
	c := newVerdictCache(64 << 10)
	v := func(i int) *store.Verdict { return &store.Verdict{ID: int64(i), Result: make([]byte, 700)} }
	key := func(i int) vkey { return vkey{"t", fmt.Sprint(i), store.Versions{Scanner: "s", Policy: "p"}} }
	for i := range 1000 {
		c.put(key(i), v(i))
		if i%7 == 0 {
			c.get(key(3)) // kept in use
		}
		bytes := 0
		for _, m := range []map[vkey]*store.Verdict{c.cur, c.old} {
			for _, x := range m {
				bytes += cost(x)
			}
		}
		if bytes > c.budget {
			t.Fatalf("cache holds %d bytes over its %d budget", bytes, c.budget)
		}
	}
	if got, ok := c.get(key(3)); !ok || got.ID != 3 {
		t.Error("an entry in use was evicted")
	}
	if _, ok := c.get(key(10)); ok {
		t.Error("an old unused entry survived")
	}
	if got, ok := c.get(key(999)); !ok || got.ID != 999 {
		t.Error("the newest entry is missing")
	}
	off := newVerdictCache(-1)
	off.put(key(1), v(1))
	if _, ok := off.get(key(1)); ok {
		t.Error("a disabled cache returned an entry")
	}
	c.put(key(5000), &store.Verdict{Result: make([]byte, 20<<10)})
	if _, ok := c.get(key(5000)); ok {
		t.Error("an entry over an eighth of the budget was cached")
	}
}
