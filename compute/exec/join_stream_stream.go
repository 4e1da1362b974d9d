package exec

import (
	"cmp"
	"context"
	"io"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
)

// StreamStreamJoin joins two streams within a time window (ksqlDB's
// stream-stream join, WITHIN (Before, After) GRACE PERIOD Grace): see the
// Joins section at the top of join.go. Left() and Right() are its inputs;
// Snapshot and Restore (as in Stateful) cover both.
type StreamStreamJoin struct {
	joinRunner
	emit      Emit
	sides     [2]*joinStreamSide
	index     joinKeyIndex // the keys buffered on either side
	grace     int64
	watermark int64 // math.MinInt64 until the first Advance
	late      int64
	rows      joinRows
	evicted   []int32
}

// joinStreamSide is the buffer of one input of a stream-stream join. The
// rows of a key are kept together, in arrival order, so that a probe reads
// them sequentially; keys are slots of the join's index.
type joinStreamSide struct {
	in       *joinInput
	snapshot *arrow.Schema // the input's, plus joinMatchedField
	store    joinRowStore
	enc      *joinKeyEncoder
	keys     joinKeys
	keep     bool  // rows without a match are emitted (outer side)
	lo, hi   int64 // a row at t matches rows of the other side in [t-lo, t+hi]
	timers   joinTimers
	nextSeq  uint64
	slot     []int32          // by row id: the row's key slot
	rows     [][]joinKeyEntry // by key slot: the key's rows
}

// joinKeyEntry is a buffered row in its key's list.
type joinKeyEntry struct {
	t       int64
	id      int32
	matched bool
}

// joinMatchedField is the column of a stream-stream snapshot that tells
// whether a row has matched.
var joinMatchedField = arrow.Field{Name: "__JOIN_MATCHED", Type: arrow.FixedWidthTypes.Boolean}

// NewStreamStreamJoin returns a stream-stream join of any JoinType. emit
// receives the joined batches, whose schema is Schema().
func NewStreamStreamJoin(cfg JoinConfig, emit Emit) (*StreamStreamJoin, error) {
	l, err := newJoinLayout(&cfg, joinStreamStream)
	if err != nil {
		return nil, err
	}
	before, after := cfg.Before.Milliseconds(), cfg.After.Milliseconds()
	j := &StreamStreamJoin{emit: emit, grace: cfg.Grace.Milliseconds(), watermark: math.MinInt64}
	for s := range j.sides {
		in := &l.in[s]
		side := &joinStreamSide{in: in, store: newJoinRowStore(in.schema), enc: newJoinKeyEncoder(in.schema, in.keys), keep: cfg.Type.keeps(joinSide(s))}
		side.lo, side.hi = before, after
		if joinSide(s) == joinRight {
			side.lo, side.hi = after, before
		}
		side.snapshot = arrow.NewSchema(append(in.schema.Fields(), joinMatchedField), nil)
		j.sides[s] = side
	}
	j.index = newJoinKeyIndex(j.sides[0].enc)
	j.init(j, l)
	return j, nil
}

// LateRecords returns the number of rows dropped because they came too late
// (or had a NULL time).
func (j *StreamStreamJoin) LateRecords() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.late
}

func (j *StreamStreamJoin) push(ctx context.Context, s joinSide, rec arrow.Record) error {
	me, other := j.sides[s], j.sides[s.other()]
	me.enc.encode(rec, &me.keys)
	times, tvalid := joinTimes(rec, me.in.time)
	lateBefore := joinSatSub(j.watermark, me.hi+j.grace)
	j.rows.reset()
	b := int32(-1)
	for i, t := range times {
		if !tvalid.valid(int32(i)) || t < lateBefore {
			j.late++
			continue
		}
		own := joinRef{rec: 0, row: int32(i)}
		if me.keys.null[i] {
			if me.keep {
				j.rows.add(s, own, joinNullRef, t)
			}
			continue
		}
		slot := j.slot(me.keys.key(i))
		matched := false
		from, to := t-me.lo, t+me.hi
		rows := other.rows[slot]
		for k := range rows {
			if e := &rows[k]; e.t >= from && e.t <= to {
				e.matched, matched = true, true
				j.rows.add(s, own, other.store.refs[e.id], max(t, e.t))
			}
		}
		if b < 0 {
			b = me.store.addBatch(rec)
		}
		me.add(b, i, slot, t, matched)
	}
	if b >= 0 {
		me.store.unpin(b)
	}
	err := j.layout.emit(ctx, j.emit, joinSources(s, []arrow.Record{rec}, other.store.recs), &j.rows, s)
	if err != nil {
		return err
	}
	return me.store.compact(ctx)
}

// advance raises the watermark: it emits the final rows of the outer sides
// that never matched and evicts all final rows.
func (j *StreamStreamJoin) advance(ctx context.Context, watermark int64) error {
	if watermark <= j.watermark {
		return nil
	}
	j.watermark = watermark
	for s, me := range j.sides {
		before := joinSatSub(watermark, me.lo+me.hi+j.grace)
		j.rows.reset()
		j.evicted = j.evicted[:0]
		for len(me.timers) > 0 && me.timers[0].t < before {
			tm := me.timers.pop()
			if me.keep && !me.entry(tm.id).matched {
				j.rows.add(joinSide(s), me.store.refs[tm.id], joinNullRef, tm.t)
			}
			j.evicted = append(j.evicted, tm.id)
		}
		err := j.layout.emit(ctx, j.emit, joinSources(joinSide(s), me.store.recs, nil), &j.rows, joinSide(s))
		for _, id := range j.evicted {
			if slot := me.remove(id); len(j.sides[0].rows[slot])+len(j.sides[1].rows[slot]) == 0 {
				j.index.remove(slot)
			}
		}
		if err == nil {
			err = me.store.compact(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// slot returns the slot of key in the join's index, adding it if needed.
func (j *StreamStreamJoin) slot(key []byte) int32 {
	slot, ok := j.index.find(key)
	if !ok {
		slot = j.index.add(key)
		for _, s := range j.sides {
			if int(slot) == len(s.rows) {
				s.rows = append(s.rows, nil)
			}
		}
	}
	return slot
}

// add buffers row row of batch b of the store, of key slot slot.
func (s *joinStreamSide) add(b int32, row int, slot int32, t int64, matched bool) {
	id := s.store.insert(b, row)
	s.slot = joinSetAt(s.slot, id, slot)
	if s.rows[slot] == nil {
		s.rows[slot] = make([]joinKeyEntry, 0, 8)
	}
	s.rows[slot] = append(s.rows[slot], joinKeyEntry{t: t, id: id, matched: matched})
	s.timers.push(joinTimer{t: t, seq: s.nextSeq, id: id})
	s.nextSeq++
}

// entry returns the key entry of row id.
func (s *joinStreamSide) entry(id int32) *joinKeyEntry {
	rows := s.rows[s.slot[id]]
	for k := range rows {
		if rows[k].id == id {
			return &rows[k]
		}
	}
	panic("exec: stream-stream join row not in its key's list")
}

// remove evicts row id and returns its key slot.
func (s *joinStreamSide) remove(id int32) int32 {
	slot := s.slot[id]
	rows := s.rows[slot]
	k := 0
	for rows[k].id != id {
		k++
	}
	s.rows[slot] = append(rows[:k], rows[k+1:]...)
	s.store.remove(id)
	return slot
}

func (s *joinStreamSide) reset() {
	s.store.release()
	*s = joinStreamSide{in: s.in, snapshot: s.snapshot, store: s.store, enc: s.enc, keep: s.keep, lo: s.lo, hi: s.hi}
}

func (j *StreamStreamJoin) release() {
	for _, s := range j.sides {
		s.reset()
	}
	j.index.reset()
}

func (j *StreamStreamJoin) snapshot(ctx context.Context, w io.Writer) error {
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, s := range j.sides {
		rec, err := s.snapshotBatch(ctx)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	h := joinSnapshotHeader{Kind: joinStreamStream, Watermark: j.watermark, Late: j.late}
	return writeJoinSnapshot(ctx, w, h, recs...)
}

// snapshotBatch returns the buffered rows in arrival order, with their
// matched flags.
func (s *joinStreamSide) snapshotBatch(ctx context.Context) (arrow.Record, error) {
	timers := slices.Clone(s.timers)
	slices.SortFunc(timers, func(a, b joinTimer) int { return cmp.Compare(a.seq, b.seq) })
	ids := make([]int32, len(timers))
	for i, tm := range timers {
		ids[i] = tm.id
	}
	rec, err := s.store.gather(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	mb := array.NewBooleanBuilder(compute.GetAllocator(ctx))
	defer mb.Release()
	for _, id := range ids {
		mb.Append(s.entry(id).matched)
	}
	matched := mb.NewArray()
	defer matched.Release()
	return array.NewRecord(s.snapshot, append(rec.Columns(), matched), rec.NumRows()), nil
}

func (j *StreamStreamJoin) restore(ctx context.Context, r io.Reader) error {
	h, recs, err := readJoinSnapshot(ctx, r, joinStreamStream, j.sides[0].snapshot, j.sides[1].snapshot)
	if err != nil {
		return err
	}
	defer releaseJoinBatches(recs)
	j.release()
	j.watermark, j.late = h.Watermark, h.Late
	for s, side := range j.sides {
		for _, rec := range recs[s] {
			if rec.NumRows() == 0 {
				continue
			}
			side.enc.encode(rec, &side.keys)
			times, _ := joinTimes(rec, side.in.time)
			matched := rec.Column(int(rec.NumCols()) - 1).(*array.Boolean)
			b := side.store.addBatch(rec)
			for i, t := range times {
				side.add(b, i, j.slot(side.keys.key(i)), t, matched.Value(i))
			}
			side.store.unpin(b)
		}
	}
	return nil
}

// joinTimes returns the values and validity of a time column.
func joinTimes(rec arrow.Record, col int) ([]int64, joinValidity) {
	d := rec.Column(col).Data()
	v := joinValidityOf(d)
	if v.mode == 2 {
		return make([]int64, d.Len()), v
	}
	return arrow.GetValues[int64](d, 1), v
}

// joinSatSub returns a-b for b >= 0, or math.MinInt64 if that overflows.
func joinSatSub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// joinTimer orders the buffered rows of a side by time, then arrival.
type joinTimer struct {
	t   int64
	seq uint64
	id  int32
}

// joinTimers is a min-heap of joinTimer.
type joinTimers []joinTimer

func (h joinTimers) less(i, j int) bool {
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].seq < h[j].seq
}

func (h *joinTimers) push(x joinTimer) {
	*h = append(*h, x)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *joinTimers) pop() joinTimer {
	q := *h
	top, n := q[0], len(q)-1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && q.less(c+1, c) {
			c++
		}
		if !q.less(c, i) {
			break
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
	*h = q
	return top
}
