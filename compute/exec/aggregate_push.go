package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// aggChanges tracks, during one Push in EMIT CHANGES mode, the groups the
// batch changed in the order it first changed them, and the session rows
// to retract.
type aggChanges struct {
	marks   []uint32 // per group: epoch of the Push that last changed it
	epoch   uint32
	changed []int32
	retract []aggRetraction
}

// aggRetraction is an emitted session row that no longer holds.
type aggRetraction struct {
	key        int32 // session key id
	start, end int64
}

func (c *aggChanges) begin() {
	c.epoch++
	if c.epoch == 0 {
		clear(c.marks)
		c.epoch = 1
	}
	c.changed = c.changed[:0]
	c.retract = c.retract[:0]
}

// note records the groups of gids as changed.
func (c *aggChanges) note(gids []int32) {
	marks, epoch := c.marks, c.epoch
	for _, g := range gids {
		if g >= 0 && marks[g] != epoch {
			marks[g] = epoch
			c.changed = append(c.changed, g)
		}
	}
}

// Push aggregates a batch. It drops the rows with a NULL or negative event
// time, a NULL key or a closed window, and emits the changed groups (EMIT
// CHANGES) or the windows the batch closed (EMIT FINAL).
func (a *Aggregate) Push(ctx context.Context, rec arrow.Record) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if err := a.checkInput(rec); err != nil {
		return err
	}
	if a.table != nil {
		return a.pushTable(ctx, rec)
	}
	a.prepare(rec)
	for _, f := range a.aggs {
		f.bind(rec)
	}
	defer func() {
		for _, f := range a.aggs {
			f.unbind()
		}
	}()
	seq := a.seq
	a.seq += int64(n)
	if !a.cfg.Final {
		a.changes.begin()
	}
	if a.kind == Session {
		a.pushSessions(seq)
	} else {
		a.pushWindows(seq)
	}
	if a.kind != NoWindow {
		a.streamTime = max(a.streamTime, a.marks[n-1])
	}
	var err error
	if !a.cfg.Final {
		err = a.emitChanges(ctx)
	}
	if a.kind == Session {
		a.releaseMerged()
	}
	if err != nil {
		return err
	}
	return a.closeAndSpill(ctx)
}

// Advance moves stream time to watermark, if it is later, and closes the
// windows that ends (emitting them under EMIT FINAL).
func (a *Aggregate) Advance(ctx context.Context, watermark int64) error {
	if watermark <= a.streamTime {
		return nil
	}
	a.streamTime = watermark
	return a.closeAndSpill(ctx)
}

func (a *Aggregate) closeAndSpill(ctx context.Context) error {
	var err error
	switch a.kind {
	case NoWindow:
		return nil
	case Session:
		err = a.closeSessions(ctx)
	default:
		err = a.closeWindows(ctx)
	}
	if err != nil {
		return err
	}
	return a.maybeSpill(ctx)
}

// checkInput checks that the columns the aggregation reads have the types
// of the configured input.
func (a *Aggregate) checkInput(rec arrow.Record) error {
	if int(rec.NumCols()) != a.cfg.Input.NumFields() {
		return fmt.Errorf("%w: a batch of %d columns, want %d", ErrAggregateInput, rec.NumCols(), a.cfg.Input.NumFields())
	}
	for _, c := range a.reads {
		if got, want := rec.Column(c).DataType(), a.cfg.Input.Field(c).Type; !arrow.TypeEqual(got, want) {
			return fmt.Errorf("%w: column %d is %s, want %s", ErrAggregateInput, c, got, want)
		}
	}
	return nil
}

// prepare marks the rows to drop, computes the stream time after each row
// and encodes the keys of rec.
func (a *Aggregate) prepare(rec arrow.Record) {
	n := int(rec.NumRows())
	a.drop = aggResize(a.drop, n)
	a.gids = aggResize(a.gids, n)
	if a.kind != NoWindow {
		a.times = aggResize(a.times, n)
		a.marks = aggResize(a.marks, n)
		var tv aggVec[int64]
		tv.bind(rec.Column(a.cfg.Time))
		st := a.streamTime
		for i, t := range tv.vals {
			if !tv.valid(i) || t < 0 {
				a.drop[i] = true
				a.badTime++
			} else {
				a.times[i] = t
				st = max(st, t)
			}
			a.marks[i] = st
		}
		tv.unbind()
	}
	keyCols := make([]arrow.Array, len(a.cfg.Keys))
	for j, k := range a.cfg.Keys {
		keyCols[j] = rec.Column(k)
	}
	a.nullKeys += a.keys.encode(keyCols, a.drop)
}

// newGroup allocates a group and grows the per-group bookkeeping with it.
func (a *Aggregate) newGroup(start, end int64, w *aggWindow, slot int32) int32 {
	g, grown := a.groups.alloc(start, end, w, slot)
	if grown {
		n := len(a.groups.start)
		a.changes.marks = aggGrow(a.changes.marks, n)
		if a.sessions != nil {
			a.sessions.grow(n)
		}
		if a.table != nil {
			a.table.rows = aggGrow(a.table.rows, n)
		}
	}
	return g
}

// pushWindows aggregates the prepared batch into tumbling or hopping
// windows, or the single window of an unwindowed aggregation. A hopping
// row falls in up to ⌈size/advance⌉ = k windows of consecutive indexes
// (start/advance); pass q assigns each row to its window whose index is q
// modulo k, so all the rows of a window come in one pass, in arrival order.
func (a *Aggregate) pushWindows(seq int64) {
	passes := int64(1)
	if a.kind == Hopping {
		passes = (a.size + a.advance - 1) / a.advance
	}
	drop, times, marks, gids := a.drop, a.times, a.marks, a.gids
	for q := range passes {
		var w *aggWindow
		// Rows in the same advance-long span [lo, hi) share their start
		// for the pass: divide only when a row leaves the span.
		var start, lo, hi int64 = 0, 1, 0
		for i := range gids {
			gids[i] = -1
			if drop[i] {
				continue
			}
			if a.kind != NoWindow {
				t := times[i]
				if t < lo || t >= hi {
					last := t / a.advance
					lo, hi = last*a.advance, (last+1)*a.advance
					start = (last - ((last-q)%passes+passes)%passes) * a.advance
				}
				if start < 0 || start <= t-a.size {
					continue
				}
				if aggAddSat(start+a.size, a.grace) <= marks[i] {
					a.late++
					continue
				}
			}
			if w == nil || w.start != start {
				w = a.windows.get(start)
			}
			slot, inserted := w.table.findOrInsert(a.keys.hashes[i], a.keys.key(i))
			if inserted {
				w.gids = append(w.gids, a.newGroup(start, start+a.size, w, slot))
			}
			gids[i] = w.gids[slot]
		}
		for _, f := range a.aggs {
			f.update(gids, seq)
		}
		if !a.cfg.Final {
			a.changes.note(gids)
		}
	}
}
