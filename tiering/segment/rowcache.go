package segment

import (
	"container/list"
	"sync"
)

// RowGroupCache keeps recently decoded row groups for the Readers that
// share it, bounded by the decoded size. A consumer reading a partition
// in fetch-sized pieces asks for the same row group several times (each
// fetch ends inside one); with the cache each row group is decoded once.
// It is safe for concurrent use.
type RowGroupCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *cachedRows, most recent first
	byKey map[rowGroupKey]*list.Element
}

type rowGroupKey struct {
	r     *Reader
	index int
}

type cachedRows struct {
	key  rowGroupKey
	rows []Row
	size int64
}

// NewRowGroupCache returns a cache holding up to maxBytes of decoded rows.
func NewRowGroupCache(maxBytes int64) *RowGroupCache {
	return &RowGroupCache{max: maxBytes, lru: list.New(), byKey: map[rowGroupKey]*list.Element{}}
}

func (c *RowGroupCache) get(k rowGroupKey) ([]Row, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedRows).rows, true
}

func (c *RowGroupCache) put(k rowGroupKey, rows []Row) {
	size := int64(0)
	for i := range rows {
		size += rowOverhead + int64(len(rows[i].Key)+len(rows[i].Value))
		for _, h := range rows[i].Headers {
			size += int64(len(h.Key) + len(h.Value))
		}
	}
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey[k] != nil {
		return
	}
	c.byKey[k] = c.lru.PushFront(&cachedRows{key: k, rows: rows, size: size})
	c.size += size
	for c.size > c.max {
		last := c.lru.Back()
		ent := c.lru.Remove(last).(*cachedRows)
		delete(c.byKey, ent.key)
		c.size -= ent.size
	}
}

// rowOverhead approximates a decoded Row's fixed size.
const rowOverhead = 160
