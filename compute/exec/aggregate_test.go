package exec

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/strata-log/strata/compute/expr"
)

func aggStar(name string) AggFunc      { return AggFunc{Name: "COUNT", Arg: -1, OutName: name} }
func aggOf(fn string, arg int) AggFunc { return AggFunc{Name: fn, Arg: arg, OutName: fn} }

func aggTumbling(size, grace time.Duration) WindowSpec {
	return WindowSpec{Kind: Tumbling, Size: size, Grace: grace}
}

func TestAggregate(t *testing.T) {
	ms := time.Millisecond
	everyAgg := []AggFunc{aggStar("C"), aggOf("COUNT", aggColV), aggOf("SUM", aggColV), aggOf("AVG", aggColV),
		aggOf("MIN", aggColV), aggOf("MAX", aggColV), aggOf("COUNT_DISTINCT", aggColV), aggOf("LATEST_BY_OFFSET", aggColV),
		aggOf("EARLIEST_BY_OFFSET", aggColV), aggOf("COLLECT_LIST", aggColV)}
	cases := []struct {
		name     string
		window   WindowSpec
		final    bool
		keys     []int
		aggs     []AggFunc
		steps    []aggStep
		want     []string
		late     int64
		nullKeys int64
		badTime  int64
	}{
		{
			name:   "tumbling changes",
			window: aggTumbling(10*ms, NoGrace),
			steps:  []aggStep{aggPush(aggRow{T: 1, K: "a"}, aggRow{T: 2, K: "b"}, aggRow{T: 5, K: "a"}), aggPush(aggRow{T: 12, K: "a"})},
			want:   []string{"a|0|10|2", "b|0|10|1", "a|10|20|1"},
		},
		{
			name:   "tumbling final",
			window: aggTumbling(10*ms, NoGrace),
			final:  true,
			steps: []aggStep{
				aggPush(aggRow{T: 1, K: "b"}, aggRow{T: 2, K: "a"}, aggRow{T: 5, K: "b"}),
				aggPush(aggRow{T: 12, K: "a"}), aggAdvance(19), aggAdvance(20), aggAdvance(40),
			},
			want: []string{"a|0|10|1", "b|0|10|2", "a|10|20|1"},
		},
		{
			name:   "late records and grace",
			window: aggTumbling(10*ms, 5*ms),
			final:  true,
			steps: []aggStep{
				aggPush(aggRow{T: 12, K: "a"}, aggRow{T: 3, K: "a"}, aggRow{T: 16, K: "b"}, aggRow{T: 4, K: "a"}),
				aggAdvance(24), aggAdvance(25),
			},
			want: []string{"a|0|10|1", "a|10|20|1", "b|10|20|1"},
			late: 1,
		},
		{
			name:   "default grace is 24 hours",
			window: aggTumbling(10*ms, 0),
			final:  true,
			steps: []aggStep{
				aggPush(aggRow{T: 1, K: "a"}, aggRow{T: 100_000, K: "a"}, aggRow{T: 2, K: "a"}),
				aggAdvance(10 + 86_400_000 - 1), aggAdvance(10 + 86_400_000),
			},
			want: []string{"a|0|10|2"},
		},
		{
			name:   "NULL keys and invalid times are dropped",
			window: aggTumbling(10*ms, NoGrace),
			steps:  []aggStep{aggPush(aggRow{T: 1}, aggRow{T: -5, K: "a"}, aggRow{T: 2, K: "a"})},
			want:   []string{"a|0|10|1"}, nullKeys: 1, badTime: 1,
		},
		{
			name: "every aggregate with NULLs",
			aggs: everyAgg,
			steps: []aggStep{
				aggPush(aggRow{K: "a", V: 3}, aggRow{K: "a"}, aggRow{K: "a", V: 1}, aggRow{K: "a", V: 3}, aggRow{K: "b"}),
				aggPush(aggRow{K: "a", V: 5}),
			},
			want: []string{
				"a|4|3|7|2.3333333333333335|1|3|2|3|3|[3,1,3]",
				"b|1|0|0|0|NULL|NULL|0|NULL|NULL|[]",
				"a|5|4|12|3|1|5|3|5|3|[3,1,3,5]",
			},
		},
		{
			name: "strings",
			aggs: []AggFunc{aggOf("MIN", aggColS), aggOf("MAX", aggColS), aggOf("LATEST_BY_OFFSET", aggColS),
				aggOf("EARLIEST_BY_OFFSET", aggColS), aggOf("COLLECT_LIST", aggColS), aggOf("COUNT_DISTINCT", aggColS)},
			steps: []aggStep{aggPush(aggRow{K: "a", S: "pear"}, aggRow{K: "a", S: "apple"}, aggRow{K: "a"},
				aggRow{K: "a", S: "zoo"}, aggRow{K: "a", S: "apple"})},
			want: []string{"a|apple|zoo|apple|pear|[pear,apple,zoo,apple]|3"},
		},
		{
			name: "doubles order and compare as in Java",
			aggs: []AggFunc{aggOf("SUM", aggColD), aggOf("MIN", aggColD), aggOf("MAX", aggColD), aggOf("COUNT_DISTINCT", aggColD)},
			steps: []aggStep{
				aggPush(aggRow{K: "a", D: 1.5}, aggRow{K: "a", D: aggNegZero()}, aggRow{K: "a", D: 0.0}),
				aggPush(aggRow{K: "a", D: aggNaN()}, aggRow{K: "a", D: aggNaN()}, aggRow{K: "a"}),
			},
			want: []string{"a|1.5|-0|1.5|3", "a|NaN|-0|NaN|4"},
		},
		{
			name: "decimal sum overflows to NULL",
			aggs: []AggFunc{aggOf("SUM", aggColN), aggOf("MIN", aggColN), aggOf("MAX", aggColN)},
			steps: []aggStep{
				aggPush(aggRow{K: "a", N: 50_000}, aggRow{K: "a", N: 25}),
				aggPush(aggRow{K: "a", N: 49_975}),
			},
			want: []string{"a|500.25|0.25|500", "a|NULL|0.25|500"},
		},
		{
			name:   "hopping final",
			window: WindowSpec{Kind: Hopping, Size: 10 * ms, Advance: 5 * ms, Grace: NoGrace},
			final:  true,
			steps: []aggStep{
				aggPush(aggRow{T: 2, K: "a"}, aggRow{T: 7, K: "a"}, aggRow{T: 12, K: "b"}),
				aggAdvance(15), aggAdvance(100), aggPush(aggRow{T: 4, K: "a"}),
			},
			want: []string{"a|0|10|2", "a|5|15|1", "b|5|15|1", "b|10|20|1"},
			late: 1,
		},
		{
			name:   "hopping changes overlap",
			window: WindowSpec{Kind: Hopping, Size: 10 * ms, Advance: 5 * ms, Grace: NoGrace},
			steps:  []aggStep{aggPush(aggRow{T: 7, K: "a"}, aggRow{T: 8, K: "a"})},
			want:   []string{"a|0|10|2", "a|5|15|2"},
		},
		{
			name:   "hopping advance not dividing size",
			window: WindowSpec{Kind: Hopping, Size: 10 * ms, Advance: 4 * ms, Grace: NoGrace},
			final:  true,
			steps:  []aggStep{aggPush(aggRow{T: 9, K: "a"}, aggRow{T: 13, K: "a"}), aggAdvance(100)},
			want:   []string{"a|0|10|1", "a|4|14|2", "a|8|18|2", "a|12|22|1"},
		},
		{
			name:   "session merges retract the replaced rows",
			window: WindowSpec{Kind: Session, Gap: 5 * ms, Grace: 100 * ms},
			aggs:   []AggFunc{aggStar("C"), aggOf("COLLECT_LIST", aggColV)},
			steps: []aggStep{
				aggPush(aggRow{T: 1, K: "a", V: 1}),
				aggPush(aggRow{T: 10, K: "a", V: 2}),
				aggPush(aggRow{T: 5, K: "a", V: 3}),
				aggPush(aggRow{T: 3, K: "a", V: 4}),
				aggPush(aggRow{T: 12, K: "a", V: 5}),
				aggPush(aggRow{T: 30, K: "b"}),
			},
			want: []string{
				"a|1|1|1|[1]|false",
				"a|10|10|1|[2]|false",
				"a|10|10|NULL|NULL|true", "a|1|1|NULL|NULL|true", "a|1|10|3|[1,2,3]|false",
				"a|1|10|4|[1,2,3,4]|false",
				"a|1|10|NULL|NULL|true", "a|1|12|5|[1,2,3,4,5]|false",
				"b|30|30|1|[]|false",
			},
		},
		{
			name:   "session merge within a batch",
			window: WindowSpec{Kind: Session, Gap: 5 * ms, Grace: 100 * ms},
			aggs:   []AggFunc{aggStar("C"), aggOf("COLLECT_LIST", aggColV), aggOf("EARLIEST_BY_OFFSET", aggColV)},
			steps:  []aggStep{aggPush(aggRow{T: 1, K: "a", V: 1}, aggRow{T: 10, K: "a", V: 2}, aggRow{T: 5, K: "a", V: 3}, aggRow{T: 40, K: "a", V: 4})},
			want:   []string{"a|1|10|3|[1,2,3]|1|false", "a|40|40|1|[4]|4|false"},
		},
		{
			name:   "session final",
			window: WindowSpec{Kind: Session, Gap: 5 * ms, Grace: NoGrace},
			final:  true,
			steps: []aggStep{
				aggPush(aggRow{T: 2, K: "b"}, aggRow{T: 1, K: "a"}, aggRow{T: 4, K: "a"}, aggRow{T: 20, K: "a"}),
				aggPush(aggRow{T: 3, K: "a"}), aggAdvance(25), aggAdvance(26),
			},
			want: []string{"b|2|2|1", "a|1|4|2", "a|20|20|1"},
			late: 1,
		},
		{
			name:   "multi-column keys",
			window: aggTumbling(10*ms, NoGrace),
			keys:   []int{aggColK, aggColV},
			steps: []aggStep{aggPush(aggRow{T: 1, K: "a", V: 1}, aggRow{T: 2, K: "a", V: 2}, aggRow{T: 3, K: "a", V: 1},
				aggRow{T: 4, V: 1}, aggRow{T: 5, K: "a"})},
			want:     []string{"a|1|0|10|2", "a|2|0|10|1"},
			nullKeys: 2,
		},
		{
			name:  "no window",
			steps: []aggStep{aggPush(aggRow{K: "a"}, aggRow{K: "b"}), aggPush(aggRow{K: "a"}), aggAdvance(1 << 40)},
			want:  []string{"a|1", "b|1", "a|2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, _ := aggTestCtx(t)
			cfg := AggregateConfig{Input: aggTestInput, Keys: tc.keys, Time: aggColTime, Window: tc.window, Aggs: tc.aggs, Final: tc.final}
			if cfg.Keys == nil {
				cfg.Keys = []int{aggColK}
			}
			if cfg.Aggs == nil {
				cfg.Aggs = []AggFunc{aggStar("C")}
			}
			a, sink := aggNew(t, cfg)
			aggRun(t, ctx, a, tc.steps)
			if !slices.Equal(sink.rows, tc.want) {
				t.Errorf("emitted\n%q\nwant\n%q", sink.rows, tc.want)
			}
			if a.LateRecords() != tc.late || a.NullKeyRecords() != tc.nullKeys || a.InvalidTimeRecords() != tc.badTime {
				t.Errorf("late %d, NULL keys %d, invalid times %d; want %d, %d, %d",
					a.LateRecords(), a.NullKeyRecords(), a.InvalidTimeRecords(), tc.late, tc.nullKeys, tc.badTime)
			}
		})
	}
}

// TestAggregateSeedQuery runs SELECT card_number, count(*) FROM
// authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY
// card_number (EMIT CHANGES; HAVING is a downstream filter).
func TestAggregateSeedQuery(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ROWTIME", Type: expr.Timestamp},
		{Name: "ROWPARTITION", Type: arrow.PrimitiveTypes.Int32},
		{Name: "ROWOFFSET", Type: arrow.PrimitiveTypes.Int64},
		{Name: "CARD_NUMBER", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "AMOUNT", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	a, sink := aggNew(t, AggregateConfig{
		Input:  in,
		Keys:   []int{3},
		Time:   0,
		Window: WindowSpec{Kind: Tumbling, Size: 5 * time.Minute},
		Aggs:   []AggFunc{{Name: "count", Arg: -1, OutName: "KSQL_COL_0"}},
	})
	want := arrow.NewSchema([]arrow.Field{
		{Name: "CARD_NUMBER", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: WindowStart, Type: expr.Timestamp},
		{Name: WindowEnd, Type: expr.Timestamp},
		{Name: "KSQL_COL_0", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	if !a.Schema().Equal(want) {
		t.Fatalf("schema %v, want %v", a.Schema(), want)
	}
	const minute = 60_000
	b := array.NewRecordBuilder(mem, in)
	defer b.Release()
	for i, r := range []struct {
		t    int64
		card string
	}{{0, "4111"}, {minute, "4111"}, {2 * minute, "5500"}, {4*minute + 59_999, "4111"}, {5 * minute, "4111"}} {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.t))
		b.Field(1).(*array.Int32Builder).Append(0)
		b.Field(2).(*array.Int64Builder).Append(int64(i))
		b.Field(3).(*array.StringBuilder).Append(r.card)
		b.Field(4).(*array.Float64Builder).Append(9.99)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	wantRows := []string{"4111|0|300000|3", "5500|0|300000|1", "4111|300000|600000|1"}
	if !slices.Equal(sink.rows, wantRows) {
		t.Errorf("emitted %q, want %q", sink.rows, wantRows)
	}
}

func TestAggregateConfigErrors(t *testing.T) {
	aggTestCtx(t)
	base := func() AggregateConfig {
		return AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
			Window: aggTumbling(time.Second, 0), Aggs: []AggFunc{aggStar("C")}}
	}
	cases := []struct {
		name   string
		modify func(*AggregateConfig)
		want   error
	}{
		{"windowed table", func(c *AggregateConfig) { c.Table = true; c.TableKeys = []int{aggColK} }, ErrAggregateConfig},
		{"final without window", func(c *AggregateConfig) { c.Window = WindowSpec{}; c.Final = true }, ErrAggregateConfig},
		{"unknown function", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("MEDIAN", aggColV)} }, ErrAggregateConfig},
		{"SUM of VARCHAR", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("SUM", aggColS)} }, ErrAggregateConfig},
		{"AVG of DECIMAL", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("AVG", aggColN)} }, ErrAggregateConfig},
		{"argument out of range", func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("MAX", 99)} }, ErrAggregateConfig},
		{"key out of range", func(c *AggregateConfig) { c.Keys = []int{-1} }, ErrAggregateConfig},
		{"time not a timestamp", func(c *AggregateConfig) { c.Time = aggColS }, ErrAggregateConfig},
		{"advance over size", func(c *AggregateConfig) {
			c.Window = WindowSpec{Kind: Hopping, Size: time.Second, Advance: 2 * time.Second}
		}, ErrAggregateConfig},
		{"zero size", func(c *AggregateConfig) { c.Window = WindowSpec{Kind: Tumbling} }, ErrAggregateConfig},
		{"zero gap", func(c *AggregateConfig) { c.Window = WindowSpec{Kind: Session} }, ErrAggregateConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.modify(&cfg)
			if _, err := NewAggregate(cfg, nil); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAggregateSlicedInput pushes batches that are slices of larger ones
// (non-zero Arrow offsets).
func TestAggregateSlicedInput(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	a, sink := aggNew(t, AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
		Aggs: []AggFunc{aggOf("SUM", aggColV), aggOf("MAX", aggColS), aggOf("COUNT", aggColD), aggOf("COLLECT_LIST", aggColV)}})
	rec := aggRecord(mem, 0, []aggRow{{K: "x", V: 100, S: "q"}, {K: "a", V: 1, S: "b"}, {K: "a", S: "c", D: 1.0}, {K: "b", V: 2}})
	defer rec.Release()
	part := rec.NewSlice(1, 4)
	defer part.Release()
	if err := a.Push(ctx, part); err != nil {
		t.Fatal(err)
	}
	want := []string{"a|1|c|1|[1]", "b|2|NULL|0|[2]"}
	if !slices.Equal(sink.rows, want) {
		t.Errorf("emitted %q, want %q", sink.rows, want)
	}
}

func TestAggregateEmptyBatch(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	a, sink := aggNew(t, AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
		Window: aggTumbling(10*time.Millisecond, NoGrace), Aggs: []AggFunc{aggStar("C")}})
	rec := aggRecord(mem, 0, nil)
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if sink.batches != 0 {
		t.Errorf("an empty batch emitted %d batches", sink.batches)
	}
}

func aggNaN() float64     { z := 0.0; return z / z }
func aggNegZero() float64 { z := 0.0; return -z }

func TestAggregateRejectsOtherInput(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ROWTIME", Type: expr.Timestamp},
		{Name: "K", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	a, _ := aggNew(t, AggregateConfig{Input: in, Keys: []int{1}, Time: 0,
		Window: WindowSpec{Kind: Tumbling, Size: time.Second}, Aggs: []AggFunc{aggStar("C")}})
	rec := aggRecord(mem, 0, []aggRow{{T: 1, K: "a"}})
	defer rec.Release()
	if err := a.Push(ctx, rec); !errors.Is(err, ErrAggregateInput) {
		t.Errorf("push error %v, want ErrAggregateInput", err)
	}
	part := rec.NewSlice(0, 1)
	defer part.Release()
	cols := []arrow.Array{part.Column(aggColTime), part.Column(aggColK)}
	other := array.NewRecord(arrow.NewSchema([]arrow.Field{in.Field(0), {Name: "K", Type: arrow.BinaryTypes.String}}, nil), cols, 1)
	defer other.Release()
	if err := a.Push(ctx, other); !errors.Is(err, ErrAggregateInput) {
		t.Errorf("push error %v, want ErrAggregateInput", err)
	}
}
