package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/sql"
)

// aggregateMemory bounds an EMIT FINAL aggregation's in-memory windows;
// beyond it they spill to temporary files.
const aggregateMemory = 256 << 20

// aggregate builds the aggregation stages of q: its input projection, the
// windowed hash aggregation, HAVING, then next. A pull query (final) emits
// each group's final value once its input is read.
func (e *Engine) aggregate(q *plan.Query, p *pipeline, final bool, next stage) (stage, error) {
	a := q.Agg
	pre := make([]arrow.Field, len(a.Pre))
	for i, x := range a.Pre {
		pre[i] = arrow.Field{Name: a.PreNames[i], Type: x.Type(), Nullable: true}
	}
	// A pull query wants each group once: windows close at the end of
	// its input (EMIT FINAL); without windows the last change of each
	// group is its answer.
	cfg := exec.AggregateConfig{Input: arrow.NewSchema(pre, nil), Keys: a.Keys, Time: a.Time,
		Final: (final && a.Window != nil) || q.Emit == sql.EmitFinal, MaxMemoryBytes: aggregateMemory, SpillDir: os.TempDir(),
		Table: a.Table, TableKeys: a.TableKeys}
	if w := a.Window; w != nil {
		cfg.Window = exec.WindowSpec{Size: w.Size, Advance: w.Advance}
		switch w.Kind {
		case sql.Tumbling:
			cfg.Window.Kind = exec.Tumbling
		case sql.Hopping:
			cfg.Window.Kind = exec.Hopping
		case sql.Session:
			cfg.Window = exec.WindowSpec{Kind: exec.Session, Gap: w.Size}
		}
		if w.HasGrace {
			cfg.Window.Grace = w.Grace
			if w.Grace == 0 {
				cfg.Window.Grace = exec.NoGrace
			}
		}
	}
	for _, c := range a.Calls {
		cfg.Aggs = append(cfg.Aggs, exec.AggFunc{Name: c.Name, Arg: c.Arg, OutName: c.Out})
	}
	post := filter(q.Having, next)
	// The plan keeps session windows' retractions (plan.Query.WithRetractions).
	retract := q.Deleted && !a.Table && cfg.Window.Kind == exec.Session && !cfg.Final
	if q.Deleted && !a.Table && !retract {
		return nil, fmt.Errorf("the plan keeps retractions this aggregation does not emit (only session windows that emit changes do)")
	}
	if retract && q.Having != nil {
		// HAVING does not hold back a retraction (NULL aggregates): the
		// retracted session may have passed it.
		keep, err := expr.Call("OR", expr.Column(a.Output.NumFields(), exec.Deleted, arrow.FixedWidthTypes.Boolean), q.Having)
		if err != nil {
			return nil, err
		}
		post = filter(keep, next)
	}
	if a.Table && !final {
		// A table aggregation's changes: a group that fails HAVING leaves
		// the result, as one that became empty does (a tombstone).
		var err error
		if post, err = havingDeletes(q.Having, a.Output, next); err != nil {
			return nil, err
		}
	}
	var last *lastPerGroup
	if final && !cfg.Final {
		// The current groups: a table aggregation's last change of a
		// group that became empty (Deleted) leaves it out.
		last = &lastPerGroup{keys: seq(len(a.Keys)), deleted: -1, next: post}
		if a.Table {
			last.deleted = a.Output.NumFields()
		}
		post = last.add
	}
	var agg *exec.Aggregate
	agg, err := exec.NewAggregate(cfg, func(ctx context.Context, rec arrow.Record) error {
		if !a.Table && !retract && !sameColumns(rec.Schema(), a.Output) {
			// Session windows' changes retract merged sessions with a
			// trailing Deleted column: the merged session's new row
			// follows, so unless the plan keeps them, the retractions
			// are dropped here.
			return dropRetractions(ctx, rec, a.Output, post)
		}
		return post(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	// HAVING and the select list were bound to the output the planner
	// expects: the operator must produce exactly that (and perhaps the
	// Deleted column).
	got := agg.Schema()
	if got.NumFields() == a.Output.NumFields()+1 && got.Field(got.NumFields()-1).Name == exec.Deleted {
		got = arrow.NewSchema(got.Fields()[:a.Output.NumFields()], nil)
	}
	if !sameColumns(got, a.Output) {
		agg.Close()
		return nil, fmt.Errorf("the aggregation produces %s, the plan expects %s", agg.Schema(), a.Output)
	}
	p.state = append(p.state, countedAggregate{agg, &p.late})
	p.close = func() {
		agg.Close()
		last.release()
	}
	p.end = func(ctx context.Context) error {
		if err := agg.Advance(ctx, math.MaxInt64); err != nil {
			return err
		}
		return last.flush(ctx)
	}
	return project(a.Pre, a.PreNames, func(ctx context.Context, rec arrow.Record) error {
		err := agg.Push(ctx, rec)
		p.late.Store(agg.LateRecords())
		return err
	}), nil
}

// countedAggregate is an aggregation whose restored late-record counter a
// pipeline publishes (pipeline.late), as it does after each batch.
type countedAggregate struct {
	*exec.Aggregate
	late *atomic.Int64
}

func (c countedAggregate) Restore(ctx context.Context, r io.Reader) error {
	err := c.Aggregate.Restore(ctx, r)
	c.late.Store(c.Aggregate.LateRecords())
	return err
}

// havingDeletes returns the stage that applies HAVING to the changes of a
// table aggregation (out's columns, then exec.Deleted): a row that fails it
// (NULL fails) becomes a deletion of its group, since the group may have
// passed it before, and goes on to next with the others.
func havingDeletes(having expr.Expr, out *arrow.Schema, next stage) (stage, error) {
	if having == nil {
		return next, nil
	}
	n := out.NumFields()
	exprs := make([]expr.Expr, 0, n+1)
	names := make([]string, 0, n+1)
	for i, f := range out.Fields() {
		exprs = append(exprs, expr.Column(i, f.Name, f.Type))
		names = append(names, f.Name)
	}
	del, err := plan.DeletedUnless(expr.Column(n, exec.Deleted, arrow.FixedWidthTypes.Boolean), having)
	if err != nil {
		return nil, err
	}
	return project(append(exprs, del), append(names, exec.Deleted), next), nil
}

// dropRetractions passes on the rows of rec whose Deleted column (the
// last) is not true, without that column.
func dropRetractions(ctx context.Context, rec arrow.Record, out *arrow.Schema, next stage) error {
	del, ok := rec.Column(int(rec.NumCols()) - 1).(*array.Boolean)
	if !ok {
		return fmt.Errorf("aggregation output %s: want a trailing %s column", rec.Schema(), exec.Deleted)
	}
	keep, err := compute.CallFunction(ctx, "invert", nil, compute.NewDatum(del))
	if err != nil {
		return err
	}
	defer keep.Release()
	cols := array.NewRecord(out, rec.Columns()[:out.NumFields()], rec.NumRows())
	defer cols.Release()
	kept, err := compute.FilterRecordBatch(ctx, cols, keep.(*compute.ArrayDatum).MakeArray(), compute.DefaultFilterOptions())
	if err != nil {
		return err
	}
	defer kept.Release()
	if kept.NumRows() == 0 {
		return nil
	}
	return next(ctx, kept)
}

// lastPerGroup keeps batches and, at flush, passes on the last row of
// each key (the columns keys), leaving out the keys whose last row is a
// deletion (column deleted is true; -1: none): a pull query's answer over
// a non-windowed aggregation's changes, or over a table's changelog.
type lastPerGroup struct {
	keys    []int
	deleted int
	next    stage
	recs    []arrow.Record
}

// seq returns 0, 1, …, n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (l *lastPerGroup) add(_ context.Context, rec arrow.Record) error {
	rec.Retain()
	l.recs = append(l.recs, rec)
	return nil
}

func (l *lastPerGroup) flush(ctx context.Context) error {
	if l == nil || len(l.recs) == 0 {
		return nil
	}
	all, err := concatRecords(ctx, l.recs)
	if err != nil {
		return err
	}
	defer all.Release()
	seen := map[string]bool{}
	var idx []int64
	var key []byte
	var del *array.Boolean
	if l.deleted >= 0 {
		del, _ = all.Column(l.deleted).(*array.Boolean)
	}
	for i := int(all.NumRows()) - 1; i >= 0; i-- {
		key = key[:0]
		for _, c := range l.keys {
			key = append(key, all.Column(c).ValueStr(i)...)
			key = append(key, 0)
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		if del == nil || !del.Value(i) {
			idx = append(idx, int64(i))
		}
	}
	if len(idx) == 0 {
		return nil
	}
	b := array.NewInt64Builder(compute.GetAllocator(ctx))
	defer b.Release()
	for i := len(idx) - 1; i >= 0; i-- {
		b.Append(idx[i])
	}
	ids := b.NewArray()
	defer ids.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(all), compute.NewDatumWithoutOwning(ids))
	if err != nil {
		return err
	}
	defer out.Release()
	return l.next(ctx, out.(*compute.RecordDatum).Value)
}

func (l *lastPerGroup) release() {
	if l == nil {
		return
	}
	for _, r := range l.recs {
		r.Release()
	}
	l.recs = nil
}

// concatRecords concatenates batches of one schema.
func concatRecords(ctx context.Context, recs []arrow.Record) (arrow.Record, error) {
	mem := compute.GetAllocator(ctx)
	s := recs[0].Schema()
	cols := make([]arrow.Array, s.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for c := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, x := range cols[:c] {
				x.Release()
			}
			return nil, err
		}
		cols[c] = a
	}
	out := array.NewRecord(s, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// sameColumns reports whether two schemas have the same column names and
// types (nullability aside).
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Field(i)
		if f.Name != g.Name || !arrow.TypeEqual(f.Type, g.Type) {
			return false
		}
	}
	return true
}
