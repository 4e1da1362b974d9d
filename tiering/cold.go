package tiering

import (
	"container/list"
	"context"
	"fmt"
	"math"
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
	var out []byte
	err := t.walk(ctx, t.manifest(id).Segments, offset, nil, func(s *meta.SegmentRef) error {
		r, err := t.readers.open(ctx, t.bucket, s.Object)
		if err != nil {
			return err
		}
		limit := maxBytes - len(out)
		if limit <= 0 {
			limit = 1 // ReadBatches always returns one batch; it is dropped below
		}
		batches, err := r.ReadBatches(id.Topic, id.Partition, max(offset, s.FirstOffset), limit)
		if err != nil {
			return fmt.Errorf("object %s: %w", s.Object, err)
		}
		for _, b := range batches {
			if len(out)+len(b) > maxBytes && !(minOne && len(out) == 0) {
				return errStop
			}
			out = append(out, b...)
		}
		// Go on to the next segment only if this one was read to its end
		// (or holds nothing more: compaction leaves gaps). If ReadBatches
		// stopped at the limit, the next read continues here.
		if len(batches) > 0 {
			h, err := batch.ReadHeader(batches[len(batches)-1])
			if err != nil {
				return err
			}
			if h.LastOffset() < s.LastOffset {
				return errStop
			}
		}
		return nil
	})
	if err == errStop {
		err = nil
	}
	return out, err
}

// OffsetForTimestamp returns the first tiered record at or after offset
// from whose timestamp is at or after ts. Segments and pages whose
// records are all older than ts are not read.
func (t *Tierer) OffsetForTimestamp(ctx context.Context, id PartitionID, from, ts int64) (int64, int64, error) {
	off, rts := int64(-1), int64(-1)
	skip := func(r *meta.SegmentRef) bool { return r.MaxTimestamp < ts }
	err := t.walk(ctx, t.manifest(id).Segments, from, skip, func(s *meta.SegmentRef) error {
		o, st, err := t.findRecord(ctx, id, s, from, ts, func(o, rt int64) bool { return o >= from && rt >= ts })
		switch {
		case err == ErrNoOffset:
			return nil // only records below from matched
		case err != nil:
			return err
		}
		off, rts = o, st
		return errStop
	})
	switch {
	case err == errStop:
		return off, rts, nil
	case err != nil:
		return -1, -1, err
	}
	return -1, -1, ErrNoOffset
}

// MaxTimestamp returns the first tiered record at or after offset from
// with the largest timestamp.
func (t *Tierer) MaxTimestamp(ctx context.Context, id PartitionID, from int64) (int64, int64, error) {
	var segs []*meta.SegmentRef
	err := t.walk(ctx, t.manifest(id).Segments, from, nil, func(s *meta.SegmentRef) error {
		if s.FirstOffset < from {
			// Its max timestamp may belong to a record below from: use
			// the max of the records at or after from.
			exact, err := t.maxTimestampFrom(ctx, id, s, from)
			if err != nil || exact == nil {
				return err
			}
			s = exact
		}
		segs = append(segs, s)
		return nil
	})
	if err != nil {
		return -1, -1, err
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].MaxTimestamp > segs[j].MaxTimestamp })
	for _, s := range segs {
		want := s.MaxTimestamp
		off, ts, err := t.findRecord(ctx, id, s, from, want, func(o, rt int64) bool { return o >= from && rt >= want })
		if err != ErrNoOffset {
			return off, ts, err
		}
	}
	return -1, -1, ErrNoOffset
}

// maxTimestampFrom returns a copy of s whose MaxTimestamp is that of its
// records at or after from, or nil if it has none.
func (t *Tierer) maxTimestampFrom(ctx context.Context, id PartitionID, s *meta.SegmentRef, from int64) (*meta.SegmentRef, error) {
	r, err := t.readers.open(ctx, t.bucket, s.Object)
	if err != nil {
		return nil, err
	}
	found, best := false, int64(0)
	err = r.ScanRecords(id.Topic, id.Partition, from, math.MinInt64, func(o, ts int64) bool {
		if o >= from && (!found || ts > best) {
			found, best = true, ts
		}
		return true
	})
	if err != nil || !found {
		return nil, err
	}
	c := *s
	c.MaxTimestamp = best
	return &c, nil
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
	rows  *segment.RowGroupCache // decoded row groups, shared by the readers
}

// decodedRowGroupBytes bounds the decoded row groups kept for sequential
// cold readers: a few per concurrent consumer.
const decodedRowGroupBytes = 64 << 20

type cachedReader struct {
	name string
	r    *segment.Reader
}

func (c *readerCache) init(limit int) {
	c.limit = limit
	c.lru = list.New()
	c.byKey = map[string]*list.Element{}
	c.rows = segment.NewRowGroupCache(decodedRowGroupBytes)
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
	r, err := segment.Open(&bucket.ReaderAt{Ctx: context.Background(), Bucket: b, Name: name}, attrs.Size)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	r.SetCache(c.rows)
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
