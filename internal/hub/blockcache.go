package hub

import (
	"container/list"
	"sync"
)

// blockCache keeps recently read blocks of remote files, shared by every
// open file of a client, so that a repository check and the scan that
// follows it read a file's head over the network once. It is bounded in
// bytes and evicts the least recently used block.
type blockCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	ll   *list.List
	m    map[blockKey]*list.Element
}

// blockKey names a block: idx -1 is a whole small file.
type blockKey struct {
	file string
	idx  int64
}

type cacheEntry struct {
	key  blockKey
	data []byte
}

func newBlockCache(max int64) *blockCache {
	return &blockCache{max: max, ll: list.New(), m: map[blockKey]*list.Element{}}
}

func (c *blockCache) get(k blockKey) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).data
}

func (c *blockCache) has(k blockKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

// put stores a block; callers must not change data afterwards.
func (c *blockCache) put(k blockKey, data []byte) {
	if int64(len(data)) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.ll.MoveToFront(el)
		return
	}
	c.m[k] = c.ll.PushFront(&cacheEntry{key: k, data: data})
	c.used += int64(len(data))
	for c.used > c.max {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.m, e.key)
		c.used -= int64(len(e.data))
	}
}
