package exec

import (
	"context"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
)

// StreamTableJoin joins a stream (Left()) with a table's changelog
// (Right()): see the Joins section at the top of join.go. Snapshot and
// Restore cover the table.
type StreamTableJoin struct {
	joinRunner
	emit   Emit
	keep   bool // LEFT: stream rows without a match are emitted
	stream *joinInput
	enc    *joinKeyEncoder
	keys   joinKeys
	table  *joinTable
	rows   joinRows
}

// NewStreamTableJoin returns a stream-table join, InnerJoin or LeftJoin.
// emit receives the joined batches, whose schema is Schema().
func NewStreamTableJoin(cfg JoinConfig, emit Emit) (*StreamTableJoin, error) {
	l, err := newJoinLayout(&cfg, joinStreamTable)
	if err != nil {
		return nil, err
	}
	in := &l.in[joinLeft]
	j := &StreamTableJoin{emit: emit, keep: cfg.Type == LeftJoin, stream: in, enc: newJoinKeyEncoder(in.schema, in.keys), table: newJoinTable(&l.in[joinRight])}
	j.init(j, l)
	return j, nil
}

func (j *StreamTableJoin) push(ctx context.Context, s joinSide, rec arrow.Record) error {
	if s == joinRight {
		j.table.apply(rec)
		return j.table.store.compact(ctx)
	}
	j.enc.encode(rec, &j.keys)
	times, _ := joinTimes(rec, j.stream.time)
	j.rows.reset()
	for i, t := range times {
		own := joinRef{rec: 0, row: int32(i)}
		if !j.keys.null[i] {
			if id, ok := j.table.get(j.keys.key(i)); ok {
				j.rows.add(joinLeft, own, j.table.store.refs[id], t)
				continue
			}
		}
		if j.keep {
			j.rows.add(joinLeft, own, joinNullRef, t)
		}
	}
	return j.layout.emit(ctx, j.emit, joinSources(joinLeft, []arrow.Record{rec}, j.table.store.recs), &j.rows, joinLeft)
}

// advance does nothing: a stream-table join has no windows.
func (j *StreamTableJoin) advance(context.Context, int64) error { return nil }

func (j *StreamTableJoin) release() { j.table.reset() }

func (j *StreamTableJoin) snapshot(ctx context.Context, w io.Writer) error {
	rec, err := j.table.snapshotBatch(ctx)
	if err != nil {
		return err
	}
	defer rec.Release()
	return writeJoinSnapshot(ctx, w, joinSnapshotHeader{Kind: joinStreamTable}, rec)
}

func (j *StreamTableJoin) restore(ctx context.Context, r io.Reader) error {
	_, recs, err := readJoinSnapshot(ctx, r, joinStreamTable, j.table.in.schema)
	if err != nil {
		return err
	}
	defer releaseJoinBatches(recs)
	j.table.reset()
	for _, rec := range recs[0] {
		j.table.apply(rec)
	}
	return nil
}
