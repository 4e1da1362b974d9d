package exec

import (
	"context"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
)

// TableTableJoin joins the changelogs of two tables on their primary keys
// and emits the changelog of the joined table: see the Joins section at the
// top of join.go. Snapshot and Restore cover both tables.
type TableTableJoin struct {
	joinRunner
	emit   Emit
	keep   [2]bool // the side's rows are emitted without a match
	tables [2]*joinTable
	rows   joinRows
}

// NewTableTableJoin returns a table-table join of any JoinType. emit
// receives the joined changelog batches, whose schema is Schema() and ends
// with the Deleted column.
func NewTableTableJoin(cfg JoinConfig, emit Emit) (*TableTableJoin, error) {
	l, err := newJoinLayout(&cfg, joinTableTable)
	if err != nil {
		return nil, err
	}
	j := &TableTableJoin{emit: emit}
	for s := range j.tables {
		j.tables[s] = newJoinTable(&l.in[s])
		j.keep[s] = cfg.Type.keeps(joinSide(s))
	}
	j.init(j, l)
	return j, nil
}

func (j *TableTableJoin) push(ctx context.Context, s joinSide, rec arrow.Record) error {
	me, other := j.tables[s], j.tables[s.other()]
	keepMe, keepOther := j.keep[s], j.keep[s.other()]
	c := me.decode(rec)
	j.rows.reset()
	for i, t := range c.times {
		if me.keys.null[i] {
			continue
		}
		key, own := me.keys.key(i), joinRef{rec: 0, row: int32(i)}
		oid, found := other.get(key)
		ref := joinNullRef
		if found {
			ref = other.store.refs[oid]
			t = max(t, other.time[oid])
		}
		switch {
		case !c.isDelete(i):
			me.put(&c, i, key)
			if found || keepMe {
				j.rows.add(s, own, ref, t)
			}
		case !me.delete(key):
		case found && keepOther: // the other side's row stays, alone
			j.rows.put(s, own, joinNullRef, ref, t, false)
		case found || keepMe: // the key's joined row disappears
			j.rows.put(s, own, own, joinNullRef, t, true)
		}
	}
	me.done(&c)
	err := j.layout.emit(ctx, j.emit, joinSources(s, []arrow.Record{rec}, other.store.recs), &j.rows, s)
	if err != nil {
		return err
	}
	return me.store.compact(ctx)
}

// advance does nothing: a table-table join has no windows.
func (j *TableTableJoin) advance(context.Context, int64) error { return nil }

func (j *TableTableJoin) release() {
	for _, t := range j.tables {
		t.reset()
	}
}

func (j *TableTableJoin) snapshot(ctx context.Context, w io.Writer) error {
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, t := range j.tables {
		rec, err := t.snapshotBatch(ctx)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	return writeJoinSnapshot(ctx, w, joinSnapshotHeader{Kind: joinTableTable}, recs...)
}

func (j *TableTableJoin) restore(ctx context.Context, r io.Reader) error {
	_, recs, err := readJoinSnapshot(ctx, r, joinTableTable, j.tables[0].in.schema, j.tables[1].in.schema)
	if err != nil {
		return err
	}
	defer releaseJoinBatches(recs)
	j.release()
	for s, t := range j.tables {
		for _, rec := range recs[s] {
			t.apply(rec)
		}
	}
	return nil
}
