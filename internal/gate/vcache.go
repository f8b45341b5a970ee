package gate

import (
	"sync"

	"modelgate/internal/store"
)

// verdictCache keeps current verdicts in memory for lookups. A verdict is
// immutable once recorded under its (tenant, sha256, scanner, policy) key,
// so a cached one can never be wrong, in this process or any other on the
// same store; only "current" answers are cached, since a stale or missing
// one can change. The cache has two generations: when the newer fills half
// the byte budget it becomes the older and the old one is dropped, which
// approximates least-recently-used eviction at the cost of a map per half.
type verdictCache struct {
	mu       sync.Mutex
	budget   int
	cur, old map[vkey]*store.Verdict
	curBytes int
}

type vkey struct {
	tenant, sha string
	v           store.Versions
}

func newVerdictCache(budget int) *verdictCache {
	return &verdictCache{budget: budget, cur: map[vkey]*store.Verdict{}, old: map[vkey]*store.Verdict{}}
}

func cost(v *store.Verdict) int { return len(v.Result) + len(v.Path) + 256 }

func (c *verdictCache) get(k vkey) (*store.Verdict, bool) {
	if c.budget <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	if v, ok := c.old[k]; ok {
		c.putLocked(k, v) // promote what is still in use
		return v, true
	}
	return nil, false
}

func (c *verdictCache) put(k vkey, v *store.Verdict) {
	if c.budget <= 0 || cost(v) > c.budget/8 {
		return
	}
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
}

func (c *verdictCache) putLocked(k vkey, v *store.Verdict) {
	if _, ok := c.cur[k]; ok {
		return
	}
	if c.curBytes+cost(v) > c.budget/2 {
		c.old, c.cur, c.curBytes = c.cur, map[vkey]*store.Verdict{}, 0
	}
	c.cur[k] = v
	c.curBytes += cost(v)
}
