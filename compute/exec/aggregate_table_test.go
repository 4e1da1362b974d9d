package exec

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/expr"
)

// Columns of the test table changelog schema.
const (
	aggTColTime = iota
	aggTColPartition
	aggTColOffset
	aggTColID
	aggTColK
	aggTColV
	aggTColD
	aggTColS
	aggTColN // DECIMAL(5, 2)
	aggTColDeleted
)

// aggTableInput is the schema of the test changelog batches: the pseudo
// columns, the table's primary key ID, the values K (the usual GROUP BY
// column), V BIGINT, D DOUBLE, S VARCHAR, N DECIMAL(5, 2), then Deleted.
var aggTableInput = arrow.NewSchema([]arrow.Field{
	{Name: "ROWTIME", Type: expr.Timestamp},
	{Name: "ROWPARTITION", Type: arrow.PrimitiveTypes.Int32},
	{Name: "ROWOFFSET", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ID", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "K", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "V", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "D", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "S", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "N", Type: aggTestDecimal, Nullable: true},
	{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// aggTRow is a changelog row: Del deletes table key (ID, P); nil fields
// are NULL; N is the unscaled DECIMAL value.
type aggTRow struct {
	ID         any // string
	P          int32
	Del        bool
	K, V, D, S any // string, int, float64, string
	N          any // int
}

// aggTableRecord builds a changelog batch; offsets count from off.
func aggTableRecord(mem memory.Allocator, off int64, rows []aggTRow) arrow.Record {
	b := array.NewRecordBuilder(mem, aggTableInput)
	defer b.Release()
	for i, r := range rows {
		b.Field(aggTColTime).(*array.TimestampBuilder).Append(arrow.Timestamp(off + int64(i)))
		b.Field(aggTColPartition).(*array.Int32Builder).Append(r.P)
		b.Field(aggTColOffset).(*array.Int64Builder).Append(off + int64(i))
		aggAppend(b.Field(aggTColID), r.ID)
		aggAppend(b.Field(aggTColK), r.K)
		aggAppend(b.Field(aggTColV), r.V)
		aggAppend(b.Field(aggTColD), r.D)
		aggAppend(b.Field(aggTColS), r.S)
		aggAppend(b.Field(aggTColN), r.N)
		b.Field(aggTColDeleted).(*array.BooleanBuilder).Append(r.Del)
	}
	return b.NewRecord()
}

// aggTableConfig is a table aggregation of the test changelog grouped by
// K, keyed by ID.
func aggTableConfig(aggs ...AggFunc) AggregateConfig {
	return AggregateConfig{Input: aggTableInput, Keys: []int{aggTColK}, Aggs: aggs, Table: true, TableKeys: []int{aggTColID}}
}

// aggTableRun pushes each batch through a, returning the rows emitted by
// each Push.
func aggTableRun(t testing.TB, ctx context.Context, a *Aggregate, sink *aggSink, batches [][]aggTRow) [][]string {
	t.Helper()
	mem := compute.GetAllocator(ctx)
	var off int64
	var out [][]string
	for _, rows := range batches {
		rec := aggTableRecord(mem, off, rows)
		off += int64(len(rows))
		before := len(sink.rows)
		err := a.Push(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(sink.rows[before:]))
	}
	return out
}

func aggDel(id string) aggTRow { return aggTRow{ID: id, Del: true} }

func TestAggregateTable(t *testing.T) {
	cases := []struct {
		name      string
		cfg       AggregateConfig
		batches   [][]aggTRow
		want      [][]string // per Push
		nullKeys  int64
		tableKeys []int
	}{
		{
			name: "updates move keys between groups",
			cfg:  aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 1}, {ID: "b", K: "x", V: 2}, {ID: "c", K: "y", V: 5}},
				{{ID: "a", K: "y", V: 10}},
				{{ID: "b", K: "y", V: 2}},
				{{ID: "c", K: "y", V: 6}},
			},
			want: [][]string{
				{"x|2|3|false", "y|1|5|false"},
				{"x|1|2|false", "y|2|15|false"},
				{"x|NULL|NULL|true", "y|3|17|false"},
				{"y|3|18|false"},
			},
		},
		{
			name: "deletes and re-inserts",
			cfg:  aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV), aggOf("COLLECT_LIST", aggTColV)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 1}, {ID: "b", K: "x", V: 2}},
				{aggDel("a")},
				{aggDel("b"), {ID: "a", K: "x", V: 7}}, // x empties, then starts again
				{aggDel("a"), aggDel("a")},
				{aggDel("c")},
				{{ID: "a", K: "x", V: 3}},
			},
			want: [][]string{
				{"x|2|3|[1,2]|false"},
				{"x|1|2|[2]|false"},
				{"x|1|7|[7]|false"},
				{"x|NULL|NULL|NULL|true"},
				nil,
				{"x|1|3|[3]|false"},
			},
		},
		{
			name: "a key updated many times in a batch",
			cfg:  aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV), aggOf("COLLECT_LIST", aggTColV)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 1}, {ID: "a", K: "y", V: 2}, {ID: "a", K: "x", V: 3}, {ID: "b", K: "x", V: 4},
					aggDel("a"), {ID: "a", K: "y", V: 5}},
				{{ID: "z", K: "z", V: 1}, aggDel("z")}, // created and emptied: nothing to retract
			},
			want: [][]string{{"x|1|4|[4]|false", "y|1|5|[5]|false"}, nil},
		},
		{
			name: "NULL group and table keys",
			cfg:  aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV)),
			batches: [][]aggTRow{
				{{ID: "a", V: 1}},
				{{ID: "a", K: "x", V: 2}, {ID: "b", K: "x", V: 3}},
				{{ID: "a", V: 9}}, // a leaves x for no group
				{aggDel("a"), {K: "x", V: 100}, {Del: true}}, // a has no row; no table key
				{{ID: "a", K: "x", V: 4}},
			},
			want: [][]string{
				nil,
				{"x|2|5|false"},
				{"x|1|3|false"},
				nil,
				{"x|2|7|false"},
			},
			nullKeys: 4,
		},
		{
			name: "AVG and SUM with subtraction",
			cfg: aggTableConfig(aggOf("COUNT", aggTColV), aggOf("SUM", aggTColV), aggOf("AVG", aggTColV),
				aggOf("SUM", aggTColD), aggOf("AVG", aggTColD), aggOf("SUM", aggTColN)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 4, D: 1.5, N: 100}, {ID: "b", K: "x", D: 2.5, N: 250}, {ID: "c", K: "x", V: 8}},
				{{ID: "c", K: "x", D: 0.5, N: -50}},
				{aggDel("a")},
			},
			want: [][]string{
				{"x|2|12|6|4|2|3.5|false"},
				{"x|1|4|4|4.5|1.5|3|false"},
				{"x|0|0|0|3|1.5|2|false"},
			},
		},
		{
			name: "a DECIMAL sum comes back from overflow",
			cfg:  aggTableConfig(aggOf("SUM", aggTColN)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", N: 50_000}, {ID: "b", K: "x", N: 60_000}},
				{{ID: "c", K: "x", N: -99_999}},
				{aggDel("c"), aggDel("b")},
			},
			want: [][]string{{"x|NULL|false"}, {"x|100.01|false"}, {"x|500|false"}},
		},
		{
			name: "multiset and ordered aggregates",
			cfg: aggTableConfig(aggOf("MIN", aggTColV), aggOf("MAX", aggTColV), aggOf("COUNT_DISTINCT", aggTColV),
				aggOf("LATEST_BY_OFFSET", aggTColV), aggOf("EARLIEST_BY_OFFSET", aggTColV), aggOf("COLLECT_LIST", aggTColV)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 3}, {ID: "b", K: "x", V: 1}, {ID: "c", K: "x", V: 3}},
				{{ID: "b", K: "x", V: 7}},
				{aggDel("a"), {ID: "c", K: "x"}},
				{aggDel("b")},
				{aggDel("c")},
			},
			want: [][]string{
				{"x|1|3|2|3|3|[3,1,3]|false"},
				{"x|3|7|2|7|3|[3,3,7]|false"},
				{"x|7|7|1|7|7|[7]|false"},
				{"x|NULL|NULL|0|NULL|NULL|[]|false"},
				{"x|NULL|NULL|NULL|NULL|NULL|NULL|true"},
			},
		},
		{
			name: "strings",
			cfg: aggTableConfig(aggOf("MIN", aggTColS), aggOf("MAX", aggTColS), aggOf("COUNT_DISTINCT", aggTColS),
				aggOf("LATEST_BY_OFFSET", aggTColS), aggOf("COLLECT_LIST", aggTColS)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", S: "pear"}, {ID: "b", K: "x", S: "apple"}, {ID: "c", K: "x", S: "zoo"}, {ID: "d", K: "x", S: "apple"}},
				{aggDel("b"), aggDel("c")},
				{aggDel("d")},
			},
			want: [][]string{
				{"x|apple|zoo|3|apple|[pear,apple,zoo,apple]|false"},
				{"x|apple|pear|2|apple|[pear,apple]|false"},
				{"x|pear|pear|1|pear|[pear]|false"},
			},
		},
		{
			name: "doubles compare as in Java",
			cfg: aggTableConfig(aggOf("MIN", aggTColD), aggOf("MAX", aggTColD), aggOf("COUNT_DISTINCT", aggTColD),
				aggOf("SUM", aggTColD)),
			batches: [][]aggTRow{
				{{ID: "a", K: "x", D: aggNaN()}, {ID: "b", K: "x", D: math.Float64frombits(0x7ff8000000000123)},
					{ID: "c", K: "x", D: aggNegZero()}, {ID: "d", K: "x", D: 0.0}},
				{aggDel("a")},
				{aggDel("b")},
				{aggDel("d")},
			},
			want: [][]string{
				{"x|-0|NaN|3|NaN|false"},
				{"x|-0|NaN|3|NaN|false"},
				{"x|-0|0|2|0|false"},
				{"x|-0|-0|1|0|false"},
			},
		},
		{
			name:      "a two-column table key",
			cfg:       aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV)),
			tableKeys: []int{aggTColID, aggTColPartition},
			batches: [][]aggTRow{
				{{ID: "a", K: "x", V: 1}, {ID: "a", P: 1, K: "x", V: 2}},
				{{ID: "a", Del: true}},
				{{ID: "a", P: 1, K: "y", V: 3}},
			},
			want: [][]string{{"x|2|3|false"}, {"x|1|2|false"}, {"x|NULL|NULL|true", "y|1|3|false"}},
		},
		{
			name: "no GROUP BY",
			cfg: AggregateConfig{Input: aggTableInput, Aggs: []AggFunc{aggStar("C"), aggOf("MAX", aggTColV)},
				Table: true, TableKeys: []int{aggTColID}},
			batches: [][]aggTRow{
				{{ID: "a", V: 1}, {ID: "b", V: 5}},
				{aggDel("b")},
				{aggDel("a")},
			},
			want: [][]string{{"2|5|false"}, {"1|1|false"}, {"NULL|NULL|true"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, _ := aggTestCtx(t)
			if tc.tableKeys != nil {
				tc.cfg.TableKeys = tc.tableKeys
			}
			a, sink := aggNew(t, tc.cfg)
			got := aggTableRun(t, ctx, a, sink, tc.batches)
			for i := range tc.want {
				if !slices.Equal(got[i], tc.want[i]) {
					t.Errorf("push %d emitted\n%q\nwant\n%q", i, got[i], tc.want[i])
				}
			}
			if a.NullKeyRecords() != tc.nullKeys {
				t.Errorf("NULL keys %d, want %d", a.NullKeyRecords(), tc.nullKeys)
			}
		})
	}
}

func TestAggregateTableSchema(t *testing.T) {
	aggTestCtx(t)
	a, _ := aggNew(t, aggTableConfig(aggStar("C"), aggOf("COLLECT_LIST", aggTColS)))
	want := arrow.NewSchema([]arrow.Field{
		{Name: "K", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "C", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "COLLECT_LIST", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	if !a.Schema().Equal(want) {
		t.Errorf("schema %v, want %v", a.Schema(), want)
	}
}

// TestAggregateTableWithoutDeleted aggregates a changelog without a
// Deleted column: rows only insert and update.
func TestAggregateTableWithoutDeleted(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: arrow.PrimitiveTypes.Int64},
		{Name: "REGION", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "X", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	a, sink := aggNew(t, AggregateConfig{Input: in, Keys: []int{1}, Table: true, TableKeys: []int{0},
		Aggs: []AggFunc{{Name: "count", Arg: -1, OutName: "KSQL_COL_0"}, {Name: "sum", Arg: 2, OutName: "KSQL_COL_1"}}})
	b := array.NewRecordBuilder(mem, in)
	defer b.Release()
	for _, r := range []struct {
		id     int64
		region string
		x      int32
	}{{1, "eu", 5}, {2, "eu", 7}, {3, "us", 1}, {1, "us", 4}} {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		b.Field(1).(*array.StringBuilder).Append(r.region)
		b.Field(2).(*array.Int32Builder).Append(r.x)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	want := []string{"eu|1|7|false", "us|2|5|false"}
	if !slices.Equal(sink.rows, want) {
		t.Errorf("emitted %q, want %q", sink.rows, want)
	}
}

// TestAggregateTableSlicedInput pushes a slice of a larger batch.
func TestAggregateTableSlicedInput(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	a, sink := aggNew(t, aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV), aggOf("MAX", aggTColS), aggOf("COUNT", aggTColD)))
	rec := aggTableRecord(mem, 0, []aggTRow{{ID: "q", K: "x", V: 100, S: "z", D: 1.0},
		{ID: "a", K: "x", V: 1, S: "b"}, {ID: "b", K: "x", V: 2, D: 2.0}, {ID: "a", Del: true}, {ID: "c", K: "y", V: 3}})
	defer rec.Release()
	part := rec.NewSlice(1, 5)
	defer part.Release()
	if err := a.Push(ctx, part); err != nil {
		t.Fatal(err)
	}
	want := []string{"x|1|2|NULL|1|false", "y|1|3|NULL|0|false"}
	if !slices.Equal(sink.rows, want) {
		t.Errorf("emitted %q, want %q", sink.rows, want)
	}
}

func TestAggregateTableConfigErrors(t *testing.T) {
	aggTestCtx(t)
	withDeleted := func(dt arrow.DataType) *arrow.Schema {
		fields := slices.Clone(aggTableInput.Fields())
		fields[aggTColDeleted].Type = dt
		return arrow.NewSchema(fields, nil)
	}
	cases := []struct {
		name   string
		modify func(*AggregateConfig)
	}{
		{"windowed", func(c *AggregateConfig) { c.Window = aggTumbling(time.Second, 0); c.Time = aggTColTime }},
		{"session windowed", func(c *AggregateConfig) { c.Window = WindowSpec{Kind: Session, Gap: time.Second}; c.Time = aggTColTime }},
		{"emit final", func(c *AggregateConfig) { c.Final = true }},
		{"no table keys", func(c *AggregateConfig) { c.TableKeys = nil }},
		{"table key out of range", func(c *AggregateConfig) { c.TableKeys = []int{42} }},
		{"table keys of a stream", func(c *AggregateConfig) { c.Table = false }},
		{"Deleted not a BOOLEAN", func(c *AggregateConfig) { c.Input = withDeleted(arrow.PrimitiveTypes.Int32) }},
		{"SUM of VARCHAR", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("SUM", aggTColS)} }},
		{"unknown function", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("TOPK", aggTColV)} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := aggTableConfig(aggStar("C"))
			tc.modify(&cfg)
			_, err := NewAggregate(cfg, nil)
			if !errors.Is(err, ErrAggregateConfig) {
				t.Errorf("error %v, want ErrAggregateConfig", err)
			}
		})
	}
}

// TestAggregateTableCountNested counts a LIST column, whose values a table
// aggregation does not keep, through a snapshot.
func TestAggregateTableCountNested(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: arrow.PrimitiveTypes.Int64},
		{Name: "K", Type: arrow.BinaryTypes.String},
		{Name: "L", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	cfg := AggregateConfig{Input: in, Keys: []int{1}, Table: true, TableKeys: []int{0},
		Aggs: []AggFunc{aggStar("C"), {Name: "COUNT", Arg: 2, OutName: "CL"}}}
	batch := func(rows ...[3]int) arrow.Record { // id, has a list, deleted
		b := array.NewRecordBuilder(mem, in)
		defer b.Release()
		for _, r := range rows {
			b.Field(0).(*array.Int64Builder).Append(int64(r[0]))
			b.Field(1).(*array.StringBuilder).Append("x")
			l := b.Field(2).(*array.ListBuilder)
			if r[1] == 1 {
				l.Append(true)
				l.ValueBuilder().(*array.Int64Builder).Append(7)
			} else {
				l.AppendNull()
			}
			b.Field(3).(*array.BooleanBuilder).Append(r[2] == 1)
		}
		return b.NewRecord()
	}
	push := func(a *Aggregate, rec arrow.Record) {
		defer rec.Release()
		if err := a.Push(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	a, sink := aggNew(t, cfg)
	push(a, batch([3]int{1, 1, 0}, [3]int{2, 1, 0}, [3]int{3, 0, 0}))
	var snap bytes.Buffer
	if err := a.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	b, _ := aggNew(t, cfg)
	b.emit = sink.emit
	if err := b.Restore(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	push(b, batch([3]int{1, 0, 1}, [3]int{3, 1, 0}))
	push(b, batch([3]int{2, 0, 0}))
	want := []string{"x|3|2|false", "x|2|2|false", "x|2|1|false"}
	if !slices.Equal(sink.rows, want) {
		t.Errorf("emitted %q, want %q", sink.rows, want)
	}
}
