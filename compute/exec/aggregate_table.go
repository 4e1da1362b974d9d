package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// aggTable is the state of a table aggregation besides its groups: the
// current row of each table key (its group, arrival number and, in the
// argument stores, its arguments), and the GROUP BY keys of the groups.
type aggTable struct {
	tkeys   *aggKeyCodec  // encodes the table key columns
	keys    aggKeyTable   // encoded table key → key slot
	kgid    []int32       // by key slot: the group of the key's row; -1 none
	kseq    []int64       // by key slot: the arrival number of the key's row
	klive   int           // key slots with a group
	argCols []int         // input columns of the aggregates' arguments
	args    []aggArgStore // parallel to argCols
	deleted int           // input column of Deleted; -1 without one
	groups  aggKeyTable   // encoded GROUP BY key → group slot
	ggid    []int32       // by group slot: its live group; -1 none
	glive   int           // group slots with a live group
	rows    []int64       // by group: the table keys whose row is in it

	// The batch being applied.
	b       aggTableBatch
	skip    []bool // per row: ignored (NULL table key)
	gone    []bool // per row: joins no group (deleted, NULL GROUP BY key)
	arrs    []arrow.Array
	dels    aggVec[bool]
	marks   []uint32 // by group slot: epoch of the batch that last changed it
	epoch   uint32
	changed []int32 // group slots the batch changed, first change first
	wasLive []bool  // per changed slot: whether it had a live group then
	retired []int32 // groups the batch emptied
}

// newTable returns the empty table state of the aggregation and the
// argument store of each input column, for the aggregates.
func (a *Aggregate) newTable() (*aggTable, map[int]aggArgStore) {
	cfg := a.cfg
	types := make([]arrow.DataType, len(cfg.TableKeys))
	for i, k := range cfg.TableKeys {
		types[i] = cfg.Input.Field(k).Type
	}
	tkeys, _ := newAggKeyCodec(types) // validated by NewAggregate
	t := &aggTable{tkeys: tkeys, deleted: -1}
	if idx := cfg.Input.FieldIndices(Deleted); len(idx) > 0 {
		t.deleted = idx[0]
	}
	values := map[int]bool{}
	for _, f := range cfg.Aggs {
		if f.Arg >= 0 {
			_, seen := values[f.Arg]
			values[f.Arg] = values[f.Arg] || aggTableNeedsValues(f)
			if !seen {
				t.argCols = append(t.argCols, f.Arg)
			}
		}
	}
	stores := map[int]aggArgStore{}
	for _, c := range t.argCols {
		st := aggArgStore(&aggArgNulls{})
		if values[c] {
			st = newAggArgs(cfg.Input.Field(c).Type)
		}
		t.args = append(t.args, st)
		stores[c] = st
	}
	return t, stores
}

// pushTable applies a changelog batch and emits the groups it changed.
func (a *Aggregate) pushTable(ctx context.Context, rec arrow.Record) error {
	t := a.table
	n := int(rec.NumRows())
	t.skip = aggResize(t.skip, n)
	t.gone = aggResize(t.gone, n)
	t.arrs = t.arrs[:0]
	for _, k := range a.cfg.TableKeys {
		t.arrs = append(t.arrs, rec.Column(k))
	}
	a.nullKeys += t.tkeys.encode(t.arrs, t.skip)
	copy(t.gone, t.skip)
	if t.deleted >= 0 {
		d := &t.dels
		d.bind(rec.Column(t.deleted))
		for i, del := range d.vals {
			if del && d.valid(i) {
				t.gone[i] = true
			}
		}
		d.unbind()
	}
	t.arrs = t.arrs[:0]
	for _, k := range a.cfg.Keys {
		t.arrs = append(t.arrs, rec.Column(k))
	}
	a.nullKeys += a.keys.encode(t.arrs, t.gone)
	t.b.newSeq = aggResize(t.b.newSeq, n)
	for i := range t.b.newSeq {
		t.b.newSeq[i] = a.seq + int64(i) + 1
	}
	a.seq += int64(n)
	t.arrs = t.arrs[:0]
	for _, c := range t.argCols {
		t.arrs = append(t.arrs, rec.Column(c))
	}
	a.tableApply(t.arrs)
	clear(t.arrs)
	err := a.emitTable(ctx)
	a.endTable()
	return err
}

// tableApply applies the rows whose table keys t.tkeys and GROUP BY keys
// a.keys have encoded, skipping t.skip and giving t.gone no group, with
// arrival numbers t.b.newSeq and arguments args (parallel to t.argCols).
// Rows are matched with their keys' current rows one by one, then every
// aggregate updates column at a time.
func (a *Aggregate) tableApply(args []arrow.Array) {
	t := a.table
	b := &t.b
	n := len(t.skip)
	b.slots = aggResize(b.slots, n)
	b.oldG, b.newG = aggResize(b.oldG, n), aggResize(b.newG, n)
	b.oldSeq = aggResize(b.oldSeq, n)
	t.begin()
	for i := range n {
		b.slots[i], b.oldG[i], b.newG[i] = -1, -1, -1
		if t.skip[i] {
			continue
		}
		var slot int32
		if t.gone[i] {
			var ok bool
			if slot, ok = t.keys.find(t.tkeys.hashes[i], t.tkeys.key(i)); !ok {
				continue // a deletion or NULL group of a key without a row
			}
		} else {
			var inserted bool
			if slot, inserted = t.keys.findOrInsert(t.tkeys.hashes[i], t.tkeys.key(i)); inserted {
				t.kgid = append(t.kgid, -1)
				t.kseq = append(t.kseq, 0)
			}
		}
		old, ng := t.kgid[slot], int32(-1)
		var gs int32
		existed := true
		if !t.gone[i] {
			var inserted bool
			if gs, inserted = t.groups.findOrInsert(a.keys.hashes[i], a.keys.key(i)); inserted {
				t.ggid = append(t.ggid, -1)
				t.marks = append(t.marks, 0)
			}
			if ng = t.ggid[gs]; ng < 0 {
				existed = false
				ng = a.newGroup(0, 0, nil, gs)
				t.ggid[gs] = ng
				t.glive++
			}
		}
		if old != ng {
			if old >= 0 {
				ogs := a.groups.slot[old]
				t.note(ogs, true)
				if t.rows[old]--; t.rows[old] == 0 {
					// Forgotten: a later row of the batch for this group
					// key starts a new group.
					t.ggid[ogs] = -1
					t.glive--
					t.retired = append(t.retired, old)
				}
			}
			if ng >= 0 {
				t.note(gs, existed)
				t.rows[ng]++
			}
			if old < 0 {
				t.klive++
			} else if ng < 0 {
				t.klive--
			}
		} else if old >= 0 {
			t.note(gs, true)
		}
		t.kgid[slot] = ng
		b.oldSeq[i] = t.kseq[slot]
		t.kseq[slot] = b.newSeq[i]
		b.slots[i], b.oldG[i], b.newG[i] = slot, old, ng
	}
	for j, st := range t.args {
		st.grow(t.keys.len())
		st.swap(args[j], b)
	}
	for _, f := range a.taggs {
		f.tableUpdate(b)
	}
	for _, st := range t.args {
		st.done()
	}
}

func (t *aggTable) begin() {
	t.epoch++
	if t.epoch == 0 {
		clear(t.marks)
		t.epoch = 1
	}
	t.changed = t.changed[:0]
	t.wasLive = t.wasLive[:0]
}

// note records group slot gs as changed; live tells whether it had a live
// group before the batch changed it.
func (t *aggTable) note(gs int32, live bool) {
	if t.marks[gs] != t.epoch {
		t.marks[gs] = t.epoch
		t.changed = append(t.changed, gs)
		t.wasLive = append(t.wasLive, live)
	}
}

// emitTable emits the new value of each group the batch changed, and a
// deletion for each group it emptied that existed before it.
func (a *Aggregate) emitTable(ctx context.Context) error {
	t := a.table
	rows := &a.rows
	rows.reset(len(t.changed))
	for j, gs := range t.changed {
		if g := t.ggid[gs]; g >= 0 {
			rows.add(t.groups.key(gs), 0, 0, g)
		} else if t.wasLive[j] {
			rows.add(t.groups.key(gs), 0, 0, -1)
		}
	}
	return a.emitRows(ctx, rows)
}

// endTable frees the groups the batch emptied and compacts the key tables
// once most of their keys are dead.
func (a *Aggregate) endTable() {
	t := a.table
	for _, g := range t.retired {
		a.groups.release(g)
	}
	t.retired = t.retired[:0]
	if dead := t.groups.len() - t.glive; dead >= 1024 && dead >= t.glive {
		var groups aggKeyTable
		ggid := make([]int32, 0, t.glive)
		for gs, g := range t.ggid {
			if g >= 0 {
				ns, _ := groups.findOrInsert(t.groups.hashes[gs], t.groups.key(int32(gs)))
				a.groups.slot[g] = ns
				ggid = append(ggid, g)
			}
		}
		t.groups, t.ggid, t.marks = groups, ggid, make([]uint32, len(ggid))
	}
	if dead := t.keys.len() - t.klive; dead >= 1024 && dead >= t.klive {
		var keys aggKeyTable
		keep := make([]int32, 0, t.klive)
		for s, g := range t.kgid {
			if g >= 0 {
				keys.findOrInsert(t.keys.hashes[s], t.keys.key(int32(s)))
				keep = append(keep, int32(s))
			}
		}
		t.keys = keys
		t.kgid, t.kseq = aggCompact(t.kgid, keep), aggCompact(t.kseq, keep)
		for _, st := range t.args {
			st.compact(keep)
		}
	}
}

// bytes estimates the memory of the table state.
func (t *aggTable) bytes() int64 {
	total := t.keys.bytes() + t.groups.bytes() + int64(12*cap(t.kgid)+8*cap(t.ggid))
	for _, st := range t.args {
		total += st.bytes()
	}
	return total
}

// checkTableConfig checks the table part of the configuration.
func checkTableConfig(cfg AggregateConfig) error {
	if cfg.Window.Kind != NoWindow {
		return fmt.Errorf("%w: a table aggregation cannot be windowed (%v)", ErrAggregateConfig, cfg.Window.Kind)
	}
	if cfg.Final {
		return fmt.Errorf("%w: a table aggregation emits changes: EMIT FINAL needs a windowed stream", ErrAggregateConfig)
	}
	if len(cfg.TableKeys) == 0 {
		return fmt.Errorf("%w: a table aggregation needs the table's primary key columns (TableKeys)", ErrAggregateConfig)
	}
	types := make([]arrow.DataType, len(cfg.TableKeys))
	for i, k := range cfg.TableKeys {
		if k < 0 || k >= cfg.Input.NumFields() {
			return fmt.Errorf("%w: table key column %d is not in the input", ErrAggregateConfig, k)
		}
		types[i] = cfg.Input.Field(k).Type
	}
	if _, ok := newAggKeyCodec(types); !ok {
		return fmt.Errorf("%w: a nested table key column", ErrAggregateConfig)
	}
	if idx := cfg.Input.FieldIndices(Deleted); len(idx) > 0 && cfg.Input.Field(idx[0]).Type.ID() != arrow.BOOL {
		return fmt.Errorf("%w: the %s column is %s, want BOOLEAN", ErrAggregateConfig, Deleted, cfg.Input.Field(idx[0]).Type)
	}
	return nil
}
