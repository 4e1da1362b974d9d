package exec

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Table aggregations snapshot the current row of each table key (key
// rows, by arrival), then the state of the aggregates that replaying those
// rows would not reproduce (group rows); see Aggregate.

// tableStateSchema returns the columns of a table aggregation's snapshot:
// group_row, tkey0…, seq, key0…, arg<column>… and the kept aggregate state
// columns agg<i>_….
func (a *Aggregate) tableStateSchema() *arrow.Schema {
	t := a.table
	fields := []arrow.Field{{Name: "group_row", Type: arrow.FixedWidthTypes.Boolean}}
	for i, k := range a.cfg.TableKeys {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("tkey%d", i), Type: a.cfg.Input.Field(k).Type, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: "seq", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	for i, k := range a.cfg.Keys {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("key%d", i), Type: a.cfg.Input.Field(k).Type})
	}
	for j, c := range t.argCols {
		fields = append(fields, t.args[j].field(fmt.Sprintf("arg%d", c)))
	}
	for i, f := range a.aggs {
		if aggKeepsGroupState(f) {
			for _, sf := range f.stateFields(fmt.Sprintf("agg%d_", i)) {
				sf.Nullable = true
				fields = append(fields, sf)
			}
		}
	}
	return arrow.NewSchema(fields, nil)
}

// writeTableSnapshot writes the key rows, then the group rows.
func (a *Aggregate) writeTableSnapshot(ctx context.Context, iw *ipc.Writer) error {
	t := a.table
	mem := compute.GetAllocator(ctx)
	slots := make([]int32, 0, t.klive)
	for s, g := range t.kgid {
		if g >= 0 {
			slots = append(slots, int32(s))
		}
	}
	slices.SortFunc(slots, func(x, y int32) int { return cmp.Compare(t.kseq[x], t.kseq[y]) })
	keeps := false
	for _, f := range a.aggs {
		keeps = keeps || aggKeepsGroupState(f)
	}
	var gids []int32
	if keeps {
		for _, g := range t.ggid {
			if g >= 0 {
				gids = append(gids, g)
			}
		}
	}
	for _, part := range []struct {
		ids    []int32
		groups bool
	}{{slots, false}, {gids, true}} {
		for lo := 0; lo < len(part.ids); lo += aggEmitRows {
			rec := a.tableStateRecord(mem, part.ids[lo:min(lo+aggEmitRows, len(part.ids))], part.groups)
			err := iw.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// tableStateRecord builds the key rows of key slots ids, or the group
// rows of groups ids; the columns of the other kind are NULL.
func (a *Aggregate) tableStateRecord(mem memory.Allocator, ids []int32, groups bool) arrow.Record {
	t := a.table
	n := len(ids)
	flags := make([]bool, n)
	if groups {
		for i := range flags {
			flags[i] = true
		}
	}
	gkeys := make([][]byte, n)
	for i, id := range ids {
		g := id
		if !groups {
			g = t.kgid[id]
		}
		gkeys[i] = a.groupKey(g)
	}
	nulls := func(k int) arrow.Array { return array.MakeArrayOfNull(mem, a.state.Field(k).Type, n) }
	cols := []arrow.Array{aggBuild(mem, arrow.FixedWidthTypes.Boolean, flags, nil)}
	if groups {
		for range len(a.cfg.TableKeys) + 1 {
			cols = append(cols, nulls(len(cols)))
		}
	} else {
		tkeys := make([][]byte, n)
		seqs := make([]int64, n)
		for i, s := range ids {
			tkeys[i], seqs[i] = t.keys.key(s), t.kseq[s]
		}
		cols = append(cols, t.tkeys.decode(mem, tkeys)...)
		cols = append(cols, aggBuild(mem, arrow.PrimitiveTypes.Int64, seqs, nil))
	}
	cols = append(cols, a.keys.decode(mem, gkeys)...)
	for _, st := range t.args {
		if groups {
			cols = append(cols, nulls(len(cols)))
		} else {
			cols = append(cols, st.export(mem, ids))
		}
	}
	for _, f := range a.aggs {
		if !aggKeepsGroupState(f) {
			continue
		}
		if groups {
			cols = append(cols, f.exportState(mem, ids)...)
		} else {
			for range f.stateFields("") {
				cols = append(cols, nulls(len(cols)))
			}
		}
	}
	rec := array.NewRecord(a.state, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// importTableRecord restores the key and group rows of rec.
func (a *Aggregate) importTableRecord(rec arrow.Record) error {
	flags := rec.Column(0).(*array.Boolean)
	n := int(rec.NumRows())
	if flags.NullN() > 0 {
		return fmt.Errorf("%w: NULL group_row", ErrAggregateSnapshot)
	}
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && flags.Value(hi) == flags.Value(lo) {
			hi++
		}
		part := rec.NewSlice(int64(lo), int64(hi))
		var err error
		if flags.Value(lo) {
			err = a.importTableGroups(part)
		} else {
			err = a.importTableKeys(part)
		}
		part.Release()
		if err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// importTableKeys replays key rows, which arrived in order, as a changelog
// batch.
func (a *Aggregate) importTableKeys(rec arrow.Record) error {
	t := a.table
	n := int(rec.NumRows())
	nt, nk := len(a.cfg.TableKeys), len(a.cfg.Keys)
	cols := rec.Columns()
	t.skip, t.gone = aggResize(t.skip, n), aggResize(t.gone, n)
	seqCol := cols[1+nt].(*array.Int64)
	if t.tkeys.encode(cols[1:1+nt], t.skip) > 0 || a.keys.encode(cols[2+nt:2+nt+nk], t.gone) > 0 || seqCol.NullN() > 0 {
		return fmt.Errorf("%w: a key row with a NULL key or arrival number", ErrAggregateSnapshot)
	}
	seqs := seqCol.Int64Values()
	last := int64(0)
	if len(t.kseq) > 0 {
		last = slices.Max(t.kseq)
	}
	for _, s := range seqs {
		if s <= last || s > a.seq {
			return fmt.Errorf("%w: key rows out of arrival order", ErrAggregateSnapshot)
		}
		last = s
	}
	t.b.newSeq = append(t.b.newSeq[:0], seqs...)
	live := t.klive
	a.tableApply(cols[2+nt+nk : 2+nt+nk+len(t.argCols)])
	if t.klive != live+n || len(t.retired) > 0 {
		return fmt.Errorf("%w: a table key in two key rows", ErrAggregateSnapshot)
	}
	return nil
}

// importTableGroups sets the kept aggregate state of the groups of group
// rows, which the key rows created.
func (a *Aggregate) importTableGroups(rec arrow.Record) error {
	t := a.table
	n := int(rec.NumRows())
	nt, nk := len(a.cfg.TableKeys), len(a.cfg.Keys)
	cols := rec.Columns()
	t.gone = aggResize(t.gone, n)
	if a.keys.encode(cols[2+nt:2+nt+nk], t.gone) > 0 {
		return fmt.Errorf("%w: a group row with a NULL key", ErrAggregateSnapshot)
	}
	gids := make([]int32, n)
	for i := range gids {
		gs, ok := t.groups.find(a.keys.hashes[i], a.keys.key(i))
		if !ok || t.ggid[gs] < 0 {
			return fmt.Errorf("%w: a group row without key rows", ErrAggregateSnapshot)
		}
		gids[i] = t.ggid[gs]
	}
	col := 2 + nt + nk + len(t.argCols)
	for _, f := range a.aggs {
		if aggKeepsGroupState(f) {
			k := len(f.stateFields(""))
			f.importState(cols[col:col+k], 0, gids)
			col += k
		}
	}
	return nil
}
