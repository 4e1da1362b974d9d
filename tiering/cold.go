package tiering

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/segment"
)

// ErrNoOffset is returned by OffsetForTimestamp and MaxTimestamp when no
// tiered record qualifies. The broker's adapter maps it to its own.
var ErrNoOffset = fmt.Errorf("no such tiered offset")

// Read returns whole batches of the partition holding offsets at or after
// offset from its tiered segments, up to maxBytes (the first batch
// whatever its size when minOne is set). It returns nothing if no segment
// holds offset or later (compaction can empty the end of the tiered log).
func (t *Tierer) Read(ctx context.Context, id PartitionID, offset int64, maxBytes int, minOne bool) ([]byte, error) {
	t.m.coldReads.Inc()
	m := t.manifest(id)
	var out []byte
	i := sort.Search(len(m.Segments), func(i int) bool { return m.Segments[i].LastOffset >= offset })
	for ; i < len(m.Segments); i++ {
		s := &m.Segments[i]
		r, err := t.readers.open(ctx, t.bucket, s.Object)
		if err != nil {
			return out, err
		}
		limit := maxBytes - len(out)
		if limit <= 0 {
			limit = 1 // ReadBatches always returns one batch; it is dropped below
		}
		batches, err := r.ReadBatches(id.Topic, id.Partition, max(offset, s.FirstOffset), limit)
		if err != nil {
			return out, fmt.Errorf("object %s: %w", s.Object, err)
		}
		for _, b := range batches {
			if len(out)+len(b) > maxBytes && !(minOne && len(out) == 0) {
				return out, nil
			}
			out = append(out, b...)
		}
		// Go on to the next segment only if this one was read to its end
		// (or holds nothing more: compaction leaves gaps). If ReadBatches
		// stopped at the limit, the next read continues here.
		if len(batches) > 0 {
			h, err := batch.ReadHeader(batches[len(batches)-1])
			if err != nil || h.LastOffset() < s.LastOffset {
				return out, err
			}
		}
	}
	return out, nil
}

// OffsetForTimestamp returns the first tiered record at or after offset
// from whose timestamp is at or after ts.
func (t *Tierer) OffsetForTimestamp(ctx context.Context, id PartitionID, from, ts int64) (int64, int64, error) {
	m := t.manifest(id)
	for _, s := range m.Segments {
		if s.LastOffset < from || s.MaxTimestamp < ts {
			continue
		}
		off, rts, err := t.findRecord(ctx, id, &s, from, ts, func(o, rt int64) bool { return o >= from && rt >= ts })
		if err == ErrNoOffset {
			continue // only records below from matched
		}
		return off, rts, err
	}
	return -1, -1, ErrNoOffset
}

// MaxTimestamp returns the first tiered record at or after offset from
// with the largest timestamp.
func (t *Tierer) MaxTimestamp(ctx context.Context, id PartitionID, from int64) (int64, int64, error) {
	m := t.manifest(id)
	var best *meta.SegmentRef
	for i := range m.Segments {
		s := &m.Segments[i]
		if s.LastOffset >= from && (best == nil || s.MaxTimestamp > best.MaxTimestamp) {
			best = s
		}
	}
	if best == nil {
		return -1, -1, ErrNoOffset
	}
	want := best.MaxTimestamp
	return t.findRecord(ctx, id, best, from, want, func(o, rt int64) bool { return o >= from && rt >= want })
}

// findRecord returns the first record of the partition in segment s that
// matches, reading only row groups that may hold offsets at or after from
// and timestamps at or after minTS.
func (t *Tierer) findRecord(ctx context.Context, id PartitionID, s *meta.SegmentRef, from, minTS int64, match func(offset, ts int64) bool) (int64, int64, error) {
	r, err := t.readers.open(ctx, t.bucket, s.Object)
	if err != nil {
		return -1, -1, err
	}
	found := false
	var off, ts int64
	err = r.ScanRecords(id.Topic, id.Partition, from, minTS, func(o, rt int64) bool {
		if match(o, rt) {
			found, off, ts = true, o, rt
			return false
		}
		return true
	})
	if err != nil {
		return -1, -1, fmt.Errorf("object %s: %w", s.Object, err)
	}
	if !found {
		return -1, -1, ErrNoOffset
	}
	return off, ts, nil
}

// readerCache keeps open segment readers (their parsed footers), least
// recently used first out.
type readerCache struct {
	mu    sync.Mutex
	limit int
	lru   *list.List // of *cachedReader, most recent at the front
	byKey map[string]*list.Element
}

type cachedReader struct {
	name string
	r    *segment.Reader
}

func (c *readerCache) init(limit int) {
	c.limit = limit
	c.lru = list.New()
	c.byKey = map[string]*list.Element{}
}

// open returns the reader of object name, opening it if needed. Readers
// read through b with a background context: a cached reader outlives the
// request that opened it.
func (c *readerCache) open(ctx context.Context, b bucket.Bucket, name string) (*segment.Reader, error) {
	c.mu.Lock()
	if e := c.byKey[name]; e != nil {
		c.lru.MoveToFront(e)
		r := e.Value.(*cachedReader).r
		c.mu.Unlock()
		return r, nil
	}
	c.mu.Unlock()
	attrs, err := b.Attributes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	r, err := segment.Open(&objectReaderAt{b: b, name: name}, attrs.Size)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[name]; e != nil {
		return e.Value.(*cachedReader).r, nil
	}
	c.byKey[name] = c.lru.PushFront(&cachedReader{name: name, r: r})
	for c.lru.Len() > c.limit {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.byKey, last.Value.(*cachedReader).name)
	}
	return r, nil
}

// forget drops a deleted object's reader.
func (c *readerCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[name]; e != nil {
		c.lru.Remove(e)
		delete(c.byKey, name)
	}
}

// objectReaderAt reads an object by ranges.
type objectReaderAt struct {
	b    bucket.Bucket
	name string
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := o.b.GetRange(context.Background(), o.name, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
