package gate

import (
	"sync"

	"modelgate/internal/store"
)

// flight joins concurrent scans of the same content: an upload storm of
// one file scans it once.
type flight struct {
	mu sync.Mutex
	m  map[string]*call
}

type call struct {
	done chan struct{}
	v    *store.Verdict
	err  error
}

// do runs fn once for concurrent callers with the same non-empty key.
func (f *flight) do(key string, fn func() (*store.Verdict, error)) (*store.Verdict, error) {
	if key == "" {
		return fn()
	}
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*call{}
	}
	if c, ok := f.m[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.v, c.err
	}
	c := &call{done: make(chan struct{})}
	f.m[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.v, c.err = fn()
	return c.v, c.err
}
