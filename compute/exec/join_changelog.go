package exec

import (
	"context"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// joinTable is the state of a table input of a join: the current row of
// each key, built from the table's changelog.
type joinTable struct {
	in    *joinInput
	store joinRowStore
	index joinKeyIndex
	enc   *joinKeyEncoder
	keys  joinKeys
	row   []int32 // by key slot: the key's row id
	time  []int64 // by row id
}

func newJoinTable(in *joinInput) *joinTable {
	enc := newJoinKeyEncoder(in.schema, in.keys)
	return &joinTable{in: in, store: newJoinRowStore(in.schema), index: newJoinKeyIndex(enc), enc: enc}
}

// joinChanges is a decoded changelog batch.
type joinChanges struct {
	rec     arrow.Record
	times   []int64
	deleted *array.Boolean // nil without a Deleted column
	batch   int32          // the batch's pinned id in the store once a row is kept, else -1
}

// decode encodes the keys of a changelog batch and reads its times and
// deletion flags. A NULL time reads as 0.
func (t *joinTable) decode(rec arrow.Record) joinChanges {
	t.enc.encode(rec, &t.keys)
	times, valid := joinTimes(rec, t.in.time)
	if valid.mode == 1 {
		times = slices.Clone(times)
		for i := range times {
			if !valid.valid(int32(i)) {
				times[i] = 0
			}
		}
	}
	c := joinChanges{rec: rec, times: times, batch: -1}
	if t.in.deleted >= 0 {
		c.deleted = rec.Column(t.in.deleted).(*array.Boolean)
	}
	return c
}

// isDelete reports whether row i deletes its key.
func (c *joinChanges) isDelete(i int) bool {
	return c.deleted != nil && c.deleted.IsValid(i) && c.deleted.Value(i)
}

// get returns the id of the row of key.
func (t *joinTable) get(key []byte) (int32, bool) {
	slot, ok := t.index.find(key)
	if !ok {
		return -1, false
	}
	return t.row[slot], true
}

// put makes row i of c the row of key.
func (t *joinTable) put(c *joinChanges, i int, key []byte) {
	if c.batch < 0 {
		c.batch = t.store.addBatch(c.rec)
	}
	id := t.store.insert(c.batch, i)
	t.time = joinSetAt(t.time, id, c.times[i])
	slot, ok := t.index.find(key)
	if ok {
		t.store.remove(t.row[slot])
	} else {
		slot = t.index.add(key)
	}
	t.row = joinSetAt(t.row, slot, id)
}

// delete removes the row of key, reporting whether there was one.
func (t *joinTable) delete(key []byte) bool {
	slot, ok := t.index.find(key)
	if ok {
		t.store.remove(t.row[slot])
		t.index.remove(slot)
	}
	return ok
}

// done ends the processing of c.
func (t *joinTable) done(c *joinChanges) {
	if c.batch >= 0 {
		t.store.unpin(c.batch)
	}
}

// apply applies a changelog batch without emitting anything.
func (t *joinTable) apply(rec arrow.Record) {
	c := t.decode(rec)
	defer t.done(&c)
	for i := range c.times {
		switch {
		case t.keys.null[i]:
		case c.isDelete(i):
			t.delete(t.keys.key(i))
		default:
			t.put(&c, i, t.keys.key(i))
		}
	}
}

// snapshotBatch returns the table's rows.
func (t *joinTable) snapshotBatch(ctx context.Context) (arrow.Record, error) {
	return t.store.gather(ctx, t.store.liveIDs())
}

func (t *joinTable) reset() {
	t.store.release()
	t.index.reset()
	*t = joinTable{in: t.in, store: t.store, index: t.index, enc: t.enc}
}
