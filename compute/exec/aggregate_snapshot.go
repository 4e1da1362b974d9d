package exec

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggSnapshotVersion is the version of the snapshot format Snapshot
// writes. Restore also reads version 1 snapshots of stream aggregations,
// whose format version 2 keeps.
const (
	aggSnapshotVersion   = "2"
	aggSnapshotVersionV1 = "1"
)

// Snapshot metadata keys.
const (
	aggMetaVersion = "strata.aggregate.version"
	aggMetaWindow  = "strata.aggregate.window" // fingerprint of window and mode
	aggMetaStream  = "strata.aggregate.stream_time"
	aggMetaSeq     = "strata.aggregate.seq"
	aggMetaLate    = "strata.aggregate.late"
	aggMetaNull    = "strata.aggregate.null_keys"
	aggMetaBadTime = "strata.aggregate.invalid_time"
	aggMetaSpilled = "strata.aggregate.spilled_bytes"
)

// windowFingerprint identifies the window and emit mode a state belongs to.
func (a *Aggregate) windowFingerprint() string {
	fp := fmt.Sprintf("%v size=%d advance=%d gap=%d grace=%d final=%t", a.kind, a.size, a.advance, a.gap, a.grace, a.cfg.Final)
	if a.table != nil {
		fp += " table"
	}
	return fp
}

// Snapshot writes the state to w in the format Aggregate describes.
func (a *Aggregate) Snapshot(ctx context.Context, w io.Writer) error {
	md := arrow.NewMetadata(
		[]string{aggMetaVersion, aggMetaWindow, aggMetaStream, aggMetaSeq, aggMetaLate, aggMetaNull, aggMetaBadTime, aggMetaSpilled},
		[]string{aggSnapshotVersion, a.windowFingerprint(), strconv.FormatInt(a.streamTime, 10), strconv.FormatInt(a.seq, 10),
			strconv.FormatInt(a.late, 10), strconv.FormatInt(a.nullKeys, 10), strconv.FormatInt(a.badTime, 10), strconv.FormatInt(a.spill.bytes, 10)})
	iw := ipc.NewWriter(w, ipc.WithSchema(arrow.NewSchema(a.state.Fields(), &md)), ipc.WithAllocator(compute.GetAllocator(ctx)))
	err := a.writeSnapshot(ctx, iw)
	if cerr := iw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("exec: aggregation snapshot: %w", err)
	}
	return nil
}

func (a *Aggregate) writeSnapshot(ctx context.Context, iw *ipc.Writer) error {
	if a.table != nil {
		return a.writeTableSnapshot(ctx, iw)
	}
	if a.sessions != nil {
		var gids []int32
		for _, list := range a.sessions.lists {
			gids = append(gids, list...)
		}
		return a.writeGroups(ctx, iw, gids)
	}
	for _, start := range a.windows.starts {
		w := a.windows.byStart[start]
		for _, path := range w.spills {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			err = a.readState(ctx, bufio.NewReader(f), iw.Write)
			f.Close()
			if err != nil {
				return err
			}
		}
		if err := a.writeGroups(ctx, iw, w.gids); err != nil {
			return err
		}
	}
	return nil
}

// writeGroups writes the state rows of gids.
func (a *Aggregate) writeGroups(ctx context.Context, iw *ipc.Writer, gids []int32) error {
	mem := compute.GetAllocator(ctx)
	for lo := 0; lo < len(gids); lo += aggEmitRows {
		rec := a.stateRecord(mem, gids[lo:min(lo+aggEmitRows, len(gids))])
		err := iw.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// stateRecord builds the state rows of gids: window bounds, (for session
// windows with EMIT CHANGES) the bounds last emitted, keys and the
// aggregates' state columns.
func (a *Aggregate) stateRecord(mem memory.Allocator, gids []int32) arrow.Record {
	n := len(gids)
	keys := make([][]byte, n)
	starts, ends := make([]int64, n), make([]int64, n)
	for i, g := range gids {
		keys[i], starts[i], ends[i] = a.groupKey(g), a.groups.start[g], a.groups.end[g]
	}
	i64 := arrow.PrimitiveTypes.Int64
	cols := []arrow.Array{aggBuild(mem, i64, starts, nil), aggBuild(mem, i64, ends, nil)}
	if a.tombstones() {
		s := a.sessions
		emitted := make([]bool, n)
		for i, g := range gids {
			starts[i], ends[i], emitted[i] = s.emStart[g], s.emEnd[g], s.emitted[g]
		}
		cols = append(cols, aggBuild(mem, i64, starts, emitted), aggBuild(mem, i64, ends, emitted))
	}
	cols = append(cols, a.keys.decode(mem, keys)...)
	for _, f := range a.aggs {
		cols = append(cols, f.exportState(mem, gids)...)
	}
	rec := array.NewRecord(a.state, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// stateKeyCol is the first key column of the state rows.
func (a *Aggregate) stateKeyCol() int {
	if a.tombstones() {
		return 4
	}
	return 2
}

// Restore replaces the state with a snapshot's. The snapshot must come
// from an aggregation with the same window, emit mode, keys and aggregates
// (ErrAggregateSnapshot otherwise); after another error the state is
// undefined.
func (a *Aggregate) Restore(ctx context.Context, r io.Reader) error {
	rdr, err := ipc.NewReader(r, ipc.WithAllocator(compute.GetAllocator(ctx)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAggregateSnapshot, err)
	}
	defer rdr.Release()
	md := rdr.Schema().Metadata()
	meta := func(key string) string {
		if i := md.FindKey(key); i >= 0 {
			return md.Values()[i]
		}
		return ""
	}
	if v := meta(aggMetaVersion); v != aggSnapshotVersion && (v != aggSnapshotVersionV1 || a.table != nil) {
		return fmt.Errorf("%w: version %q, want %q", ErrAggregateSnapshot, v, aggSnapshotVersion)
	}
	if w := meta(aggMetaWindow); w != a.windowFingerprint() || !rdr.Schema().Equal(a.state) {
		return fmt.Errorf("%w: snapshot of another aggregation (%s)", ErrAggregateSnapshot, w)
	}
	var counters [6]int64
	for i, key := range []string{aggMetaStream, aggMetaSeq, aggMetaLate, aggMetaNull, aggMetaBadTime, aggMetaSpilled} {
		if counters[i], err = strconv.ParseInt(meta(key), 10, 64); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrAggregateSnapshot, key, err)
		}
	}
	a.clear()
	a.streamTime, a.seq, a.late, a.nullKeys, a.badTime, a.spill.bytes =
		counters[0], counters[1], counters[2], counters[3], counters[4], counters[5]
	for rdr.Next() {
		if a.table != nil {
			if err := a.importTableRecord(rdr.Record()); err != nil {
				return err
			}
			continue
		}
		a.importRecord(rdr.Record())
		if err := a.maybeSpill(ctx); err != nil {
			return err
		}
	}
	if err := rdr.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrAggregateSnapshot, err)
	}
	return nil
}

// importRecord adds the state rows of rec; rows of a window the state has
// already are merged after it.
func (a *Aggregate) importRecord(rec arrow.Record) {
	n := int(rec.NumRows())
	a.encodeStateKeys(rec)
	starts := rec.Column(0).(*array.Int64).Int64Values()
	ends := rec.Column(1).(*array.Int64).Int64Values()
	if a.sessions == nil {
		for lo := 0; lo < n; {
			hi := lo + 1
			for hi < n && starts[hi] == starts[lo] {
				hi++
			}
			a.importWindow(a.windows.get(starts[lo]), rec, lo, hi)
			lo = hi
		}
		return
	}
	s := a.sessions
	gids := make([]int32, n)
	for i := range gids {
		g := a.openSession(a.keys.hashes[i], a.keys.key(i), starts[i], ends[i])
		if a.tombstones() && rec.Column(2).IsValid(i) {
			s.emitted[g] = true
			s.emStart[g] = rec.Column(2).(*array.Int64).Value(i)
			s.emEnd[g] = rec.Column(3).(*array.Int64).Value(i)
		}
		gids[i] = g
	}
	a.importAggState(rec, 0, gids)
}

// encodeStateKeys encodes the keys of state rows.
func (a *Aggregate) encodeStateKeys(rec arrow.Record) {
	k := a.stateKeyCol()
	a.drop = aggResize(a.drop, int(rec.NumRows()))
	a.keys.encode(rec.Columns()[k:k+len(a.cfg.Keys)], a.drop)
}

// importWindow adds state rows lo…hi-1 of rec, whose keys are encoded, to
// window w, merging them after the groups w has for their keys.
func (a *Aggregate) importWindow(w *aggWindow, rec arrow.Record, lo, hi int) {
	gids := make([]int32, hi-lo)
	for i := range gids {
		gids[i] = a.newGroup(w.start, w.start+a.size, nil, 0)
	}
	a.importAggState(rec, lo, gids)
	for i, g := range gids {
		slot, inserted := w.table.findOrInsert(a.keys.hashes[lo+i], a.keys.key(lo+i))
		if inserted {
			w.gids = append(w.gids, g)
			a.groups.win[g], a.groups.slot[g] = w, slot
		} else {
			a.mergeGroups(w.gids[slot], g)
		}
	}
}

// importAggState sets the aggregates' state of gids from rows lo… of rec.
func (a *Aggregate) importAggState(rec arrow.Record, lo int, gids []int32) {
	col := a.stateKeyCol() + len(a.cfg.Keys)
	for _, f := range a.aggs {
		n := len(f.stateFields(""))
		f.importState(rec.Columns()[col:col+n], lo, gids)
		col += n
	}
}

// mergeGroups folds src, whose rows arrived later, into dst and frees it.
func (a *Aggregate) mergeGroups(dst, src int32) {
	for _, f := range a.aggs {
		f.merge(dst, src)
	}
	a.groups.release(src)
}
