package exec

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/schema"
)

// joinTestCtx returns a context whose allocator must hold nothing when the
// test ends.
func joinTestCtx(t testing.TB) (context.Context, *memory.CheckedAllocator) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return compute.WithAllocator(context.Background(), mem), mem
}

// The test inputs: keys K1 and K2 (fields 3 and 4), then values; table
// inputs end with the Deleted column.
func joinTestSchema(right, table bool) *arrow.Schema {
	fields := []arrow.Field{
		{Name: schema.RowTime, Type: schema.Timestamp.Arrow()},
		{Name: schema.RowPartition, Type: arrow.PrimitiveTypes.Int32},
		{Name: schema.RowOffset, Type: arrow.PrimitiveTypes.Int64},
		{Name: "K1", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "K2", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	if right {
		fields = append(fields, arrow.Field{Name: "W", Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	} else {
		fields = append(fields,
			arrow.Field{Name: "V", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			arrow.Field{Name: "L", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true})
	}
	if table {
		fields = append(fields, arrow.Field{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// joinTestConfig joins on K1 alone, or on K1 and K2.
func joinTestConfig(typ JoinType, leftTable, rightTable, twoKeys bool) JoinConfig {
	keys := []int{3}
	if twoKeys {
		keys = []int{3, 4}
	}
	return JoinConfig{
		Type: typ, Left: joinTestSchema(false, leftTable), Right: joinTestSchema(true, rightTable),
		LeftKeys: keys, RightKeys: keys, LeftPrefix: "A_", RightPrefix: "B_",
	}
}

// jrow is an input row: its time, partition and offset, then its data
// columns (nil is NULL).
type jrow struct {
	t    int64
	part int32
	off  int64
	vals []any
}

func (r jrow) cells() []any { return append([]any{r.t, r.part, r.off}, r.vals...) }

// joinBatch builds a batch of schema sc from rows.
func joinBatch(t testing.TB, mem memory.Allocator, sc *arrow.Schema, rows []jrow) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for _, r := range rows {
		cells := r.cells()
		if len(cells) != sc.NumFields() {
			t.Fatalf("row %v has %d cells, schema %d", cells, len(cells), sc.NumFields())
		}
		for f, v := range cells {
			fb := b.Field(f)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(int64)))
			case *array.Int32Builder:
				fb.Append(v.(int32))
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.ListBuilder:
				fb.Append(true)
				for _, x := range v.([]int32) {
					fb.ValueBuilder().(*array.Int32Builder).Append(x)
				}
			default:
				t.Fatalf("no test builder for %T", fb)
			}
		}
	}
	return b.NewRecord()
}

// joinCell returns the value of a cell as joinBatch takes it.
func joinCell(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.List:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues().(*array.Int32)
		out := []int32{}
		for j := start; j < end; j++ {
			out = append(out, vals.Value(int(j)))
		}
		return out
	}
	panic(fmt.Sprintf("no test reader for %T", a))
}

// joinFormat formats a row of cells.
func joinFormat(cells []any) string {
	parts := make([]string, len(cells))
	for i, c := range cells {
		if c == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = fmt.Sprint(c)
		}
	}
	return strings.Join(parts, " ")
}

// joinSink collects the emitted rows, formatted, keeping only the columns
// named by cols (all if none).
type joinSink struct {
	t       testing.TB
	schema  *arrow.Schema
	cols    []string
	rows    []string
	batches int
}

func (s *joinSink) emit(_ context.Context, rec arrow.Record) error {
	if s.schema != nil && !rec.Schema().Equal(s.schema) {
		s.t.Errorf("emitted schema %s, want %s", rec.Schema(), s.schema)
	}
	if rec.NumRows() == 0 {
		s.t.Errorf("empty batch emitted")
	}
	s.batches++
	idx := make([]int, 0, rec.NumCols())
	for f := range int(rec.NumCols()) {
		idx = append(idx, f)
	}
	if len(s.cols) > 0 {
		idx = idx[:0]
		for _, c := range s.cols {
			is := rec.Schema().FieldIndices(c)
			if len(is) != 1 {
				s.t.Fatalf("no output column %s in %s", c, rec.Schema())
			}
			idx = append(idx, is[0])
		}
	}
	for i := range int(rec.NumRows()) {
		cells := make([]any, len(idx))
		for k, f := range idx {
			cells[k] = joinCell(rec.Column(f), i)
		}
		s.rows = append(s.rows, joinFormat(cells))
	}
	return nil
}

// take returns the rows collected since the last call.
func (s *joinSink) take() []string {
	rows := s.rows
	s.rows = nil
	return rows
}

// joinOp is a step of a test run: rows pushed into a side, or an Advance.
type joinOp struct {
	side    joinSide
	rows    []jrow
	advance int64
}

func (o joinOp) String() string {
	if o.rows == nil {
		return fmt.Sprintf("advance(%d)", o.advance)
	}
	return fmt.Sprintf("%s%v", [2]string{"L", "R"}[o.side], o.rows)
}

// joinPorts is what the tests drive: the two ports of a join.
type joinPorts interface {
	Left() Operator
	Right() Operator
	Schema() *arrow.Schema
	Close() error
	Snapshot(ctx context.Context, w io.Writer) error
	Restore(ctx context.Context, r io.Reader) error
}

// run applies op to j.
func (o joinOp) run(t testing.TB, ctx context.Context, mem memory.Allocator, j joinPorts, cfg *JoinConfig) {
	t.Helper()
	if o.rows == nil {
		for _, p := range []Operator{j.Left(), j.Right()} { // either port advances both
			if err := p.Advance(ctx, o.advance); err != nil {
				t.Fatalf("%v: %v", o, err)
			}
		}
		return
	}
	sc, port := cfg.Left, j.Left()
	if o.side == joinRight {
		sc, port = cfg.Right, j.Right()
	}
	rec := joinBatch(t, mem, sc, o.rows)
	defer rec.Release()
	if err := port.Push(ctx, rec); err != nil {
		t.Fatalf("%v: %v", o, err)
	}
}

// joinSorted returns a sorted copy of rows, for multiset comparisons.
func joinSorted(rows []string) []string {
	out := append([]string(nil), rows...)
	slices.Sort(out)
	return out
}

func joinDiff(t testing.TB, what string, got, want []string) {
	t.Helper()
	g, w := joinSorted(got), joinSorted(want)
	if strings.Join(g, "\n") == strings.Join(w, "\n") {
		return
	}
	missing, extra := joinMultisetMinus(w, g), joinMultisetMinus(g, w)
	t.Errorf("%s: %d rows, want %d\nmissing:\n  %s\nunexpected:\n  %s", what, len(got), len(want),
		strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
}

// joinMultisetMinus returns the rows of a not in b, both sorted.
func joinMultisetMinus(a, b []string) []string {
	var out []string
	j := 0
	for _, r := range a {
		for j < len(b) && b[j] < r {
			j++
		}
		if j < len(b) && b[j] == r {
			j++
			continue
		}
		out = append(out, r)
	}
	return out
}

// joinStep is an op of a test run and the rows it must emit.
type joinStep struct {
	op   joinOp
	want []string
}

func jL(rows ...jrow) joinOp                   { return joinOp{side: joinLeft, rows: rows} }
func jR(rows ...jrow) joinOp                   { return joinOp{side: joinRight, rows: rows} }
func jAdv(w int64) joinOp                      { return joinOp{advance: w} }
func jStep(op joinOp, want ...string) joinStep { return joinStep{op: op, want: want} }

// jk converts an int key to the K1 value; nil stays NULL.
func jk(k any) any {
	if i, ok := k.(int); ok {
		return int64(i)
	}
	return k
}

// Rows of the test inputs: left or right, stream or table (del is the
// Deleted column). Partitions and offsets are set by joinNumber.
func jls(t int64, k1, k2 any) jrow { return jrow{t: t, vals: []any{jk(k1), k2, nil, nil}} }
func jrs(t int64, k1, k2 any) jrow { return jrow{t: t, vals: []any{jk(k1), k2, nil}} }
func jlt(t int64, k1, k2, del any) jrow {
	return jrow{t: t, vals: []any{jk(k1), k2, nil, nil, del}}
}
func jrt(t int64, k1, k2, del any) jrow { return jrow{t: t, vals: []any{jk(k1), k2, nil, del}} }

// joinNumber sets the partition of each row to its side and its offset to
// its position in that side's input.
func joinNumber(ops []joinOp) {
	var next [2]int64
	for _, o := range ops {
		for i := range o.rows {
			o.rows[i].part, o.rows[i].off = int32(o.side), next[o.side]
			next[o.side]++
		}
	}
}

// joinRunSteps runs steps against j, checking what each emits.
func joinRunSteps(t *testing.T, ctx context.Context, mem memory.Allocator, j joinPorts, cfg *JoinConfig, sink *joinSink, steps []joinStep) {
	t.Helper()
	ops := make([]joinOp, len(steps))
	for i, s := range steps {
		ops[i] = s.op
	}
	joinNumber(ops)
	for i, s := range steps {
		before := sink.batches
		s.op.run(t, ctx, mem, j, cfg)
		if n := sink.batches - before; s.op.rows != nil && n > 1 {
			t.Errorf("step %d %v: %d batches emitted, want at most 1", i, s.op, n)
		}
		joinDiff(t, fmt.Sprintf("step %d %v", i, s.op), sink.take(), s.want)
	}
}
