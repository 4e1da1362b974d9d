package exec

import (
	"bytes"
	"context"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/expr"
)

// aggEmitRows is the most rows of one emitted batch.
const aggEmitRows = 1 << 16

// aggRows lists output rows: encoded key, window bounds and group; group
// -1 is a retraction (Deleted true, aggregates NULL).
type aggRows struct {
	keys       [][]byte
	start, end []int64
	gids       []int32
}

func (r *aggRows) add(key []byte, start, end int64, g int32) {
	r.keys = append(r.keys, key)
	r.start = append(r.start, start)
	r.end = append(r.end, end)
	r.gids = append(r.gids, g)
}

func (r *aggRows) len() int { return len(r.gids) }

// reset empties r, keeping room for n rows.
func (r *aggRows) reset(n int) {
	r.keys = slices.Grow(r.keys[:0], n)
	r.start = slices.Grow(r.start[:0], n)
	r.end = slices.Grow(r.end[:0], n)
	r.gids = slices.Grow(r.gids[:0], n)
}

// groupKey returns the encoded key of group g.
func (a *Aggregate) groupKey(g int32) []byte {
	if w := a.groups.win[g]; w != nil {
		return w.table.key(a.groups.slot[g])
	}
	if a.table != nil {
		return a.table.groups.key(a.groups.slot[g])
	}
	return a.sessions.keys.key(a.groups.slot[g])
}

// emitChanges emits the groups the Push changed, after the retractions of
// the session rows merges replaced.
func (a *Aggregate) emitChanges(ctx context.Context) error {
	rows := &a.rows
	rows.reset(len(a.changes.retract) + len(a.changes.changed))
	for _, r := range a.changes.retract {
		rows.add(a.sessions.keys.key(r.key), r.start, r.end, -1)
	}
	s := a.sessions
	for _, g := range a.changes.changed {
		start, end := a.groups.start[g], a.groups.end[g]
		if s != nil {
			if s.emitted[g] && (s.emStart[g] != start || s.emEnd[g] != end) {
				rows.add(a.groupKey(g), s.emStart[g], s.emEnd[g], -1)
			}
			s.emitted[g], s.emStart[g], s.emEnd[g] = true, start, end
		}
		rows.add(a.groupKey(g), start, end, g)
	}
	return a.emitRows(ctx, rows)
}

// emitRows emits rows in batches of at most aggEmitRows.
func (a *Aggregate) emitRows(ctx context.Context, rows *aggRows) error {
	mem := compute.GetAllocator(ctx)
	for lo := 0; lo < rows.len(); lo += aggEmitRows {
		hi := min(lo+aggEmitRows, rows.len())
		rec := a.outputRecord(mem, rows, lo, hi)
		err := a.emit(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *Aggregate) outputRecord(mem memory.Allocator, rows *aggRows, lo, hi int) arrow.Record {
	cols := a.keys.decode(mem, rows.keys[lo:hi])
	if a.kind != NoWindow {
		cols = append(cols,
			aggBuild(mem, expr.Timestamp, rows.start[lo:hi], nil),
			aggBuild(mem, expr.Timestamp, rows.end[lo:hi], nil))
	}
	gids := rows.gids[lo:hi]
	for _, f := range a.aggs {
		cols = append(cols, f.result(mem, gids))
	}
	if a.tombstones() {
		deleted := make([]bool, len(gids))
		for i, g := range gids {
			deleted[i] = g < 0
		}
		cols = append(cols, aggBuild(mem, arrow.FixedWidthTypes.Boolean, deleted, nil))
	}
	rec := array.NewRecord(a.schema, cols, int64(hi-lo))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// closeWindows evicts the time windows stream time closed, oldest first,
// emitting each under EMIT FINAL with its groups ordered by key.
func (a *Aggregate) closeWindows(ctx context.Context) error {
	if a.streamTime < 0 { // no event time yet; windows start at 0 or later
		return nil
	}
	last := a.streamTime - a.grace - a.size // latest start of a closed window
	for {
		w := a.windows.popClosed(last)
		if w == nil {
			return nil
		}
		if !a.cfg.Final {
			a.releaseWindow(w)
			continue
		}
		w, err := a.unspill(ctx, w)
		if err != nil {
			return err
		}
		groups := make([]aggKeyedGroup, len(w.gids))
		for s, g := range w.gids {
			groups[s] = aggKeyedGroup{w.table.key(int32(s)), g}
		}
		slices.SortFunc(groups, func(x, y aggKeyedGroup) int { return bytes.Compare(x.key, y.key) })
		rows := &a.rows
		rows.reset(len(groups))
		for _, kg := range groups {
			rows.add(kg.key, w.start, w.start+a.size, kg.gid)
		}
		err = a.emitRows(ctx, rows)
		a.releaseWindow(w)
		if err != nil {
			return err
		}
	}
}

// aggKeyedGroup is a group with its encoded key, for sorting.
type aggKeyedGroup struct {
	key []byte
	gid int32
}

// releaseWindow frees the groups and spill files of a window.
func (a *Aggregate) releaseWindow(w *aggWindow) {
	for _, g := range w.gids {
		a.groups.release(g)
	}
	a.spill.remove(w)
}
