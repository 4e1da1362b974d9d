package exec

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/strata-log/strata/compute/expr"
)

// TestAggregateKeyTypes groups by a key of every non-nested type and
// checks that the keys come back intact, also through a snapshot.
func TestAggregateKeyTypes(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	in := arrow.NewSchema([]arrow.Field{
		{Name: "B", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "I", Type: arrow.PrimitiveTypes.Int32},
		{Name: "D", Type: arrow.PrimitiveTypes.Float64},
		{Name: "N", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		{Name: "DT", Type: arrow.FixedWidthTypes.Date32},
		{Name: "TM", Type: arrow.FixedWidthTypes.Time32ms},
		{Name: "TS", Type: expr.Timestamp},
		{Name: "BY", Type: arrow.BinaryTypes.Binary},
		{Name: "S", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, in)
	defer b.Release()
	// Rows 0 and 1 differ only in their NaN's bits: one group. Rows 2 and
	// 3 differ only in -0.0 and 0.0: two groups, as in Java.
	for i, d := range []float64{aggNaN(), math.Float64frombits(0x7ff8000000000123), aggNegZero(), 0} {
		k := i / 2
		b.Field(0).(*array.BooleanBuilder).Append(k == 0)
		b.Field(1).(*array.Int32Builder).Append(int32(-k))
		b.Field(2).(*array.Float64Builder).Append(d)
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(k) * 1234))
		b.Field(4).(*array.Date32Builder).Append(arrow.Date32(k))
		b.Field(5).(*array.Time32Builder).Append(arrow.Time32(1000 * k))
		b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000000 + k))
		b.Field(7).(*array.BinaryBuilder).Append([]byte{0, byte(k)})
		b.Field(8).(*array.StringBuilder).Append(fmt.Sprint("s", k))
	}
	rec := b.NewRecord()
	defer rec.Release()
	cfg := AggregateConfig{Input: in, Keys: []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, Aggs: []AggFunc{aggStar("C")}}
	a, sink := aggNew(t, cfg)
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"true|0|NaN|0|1970-01-01|00:00:00.000|1700000000000|AAA=|s0|2",
		"false|-1|-0|12.34|1970-01-02|00:00:01.000|1700000000001|AAE=|s1|1",
		"false|-1|0|12.34|1970-01-02|00:00:01.000|1700000000001|AAE=|s1|1",
	}
	if !slices.Equal(sink.rows, want) {
		t.Fatalf("emitted %q, want %q", sink.rows, want)
	}
	n := len(sink.rows)
	var snap bytes.Buffer
	if err := a.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	r, sink2 := aggNew(t, cfg)
	if err := r.Restore(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sink2.rows, sink.rows[n:]) {
		t.Errorf("restored operator emitted %q, want %q", sink2.rows, sink.rows[n:])
	}
}

// TestAggregateManySessionKeys closes thousands of single-record sessions,
// which compacts the session key table, and checks the output against the
// reference.
func TestAggregateManySessionKeys(t *testing.T) {
	for _, final := range []bool{false, true} {
		ctx, _ := aggTestCtx(t)
		cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
			Window: WindowSpec{Kind: Session, Gap: 2 * time.Millisecond, Grace: NoGrace}, Aggs: aggDiffAggs, Final: final}
		rng := rand.New(rand.NewPCG(1, 2))
		var steps []aggStep
		var ts int64
		for range 40 {
			rows := make([]aggRow, 200)
			for i := range rows {
				ts += int64(rng.IntN(3))
				rows[i] = aggRow{T: ts, K: fmt.Sprint("key", rng.IntN(5000)), V: rng.IntN(5), S: "s"}
			}
			steps = append(steps, aggStep{rows: rows})
		}
		steps = append(steps, aggAdvance(1<<40))
		got, a := aggDiffRun(t, ctx, cfg, steps, 0)
		if a.sessions.keys.len() > 2048 {
			t.Errorf("session key table holds %d keys after closing every session", a.sessions.keys.len())
		}
		ref := newAggRef(cfg)
		for _, s := range steps {
			if s.rows == nil {
				ref.advance(s.watermark)
			} else {
				ref.push(s.rows)
			}
		}
		aggDiffCompare(t, 0, Session, final, got, ref)
	}
}

// TestAggregateLargeOutput emits more groups than one batch holds.
func TestAggregateLargeOutput(t *testing.T) {
	ctx, _ := aggTestCtx(t)
	a, sink := aggNew(t, AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
		Window: WindowSpec{Kind: Tumbling, Size: time.Second, Grace: NoGrace}, Final: true, Aggs: []AggFunc{aggStar("C")}})
	rows := make([]aggRow, aggEmitRows+10)
	for i := range rows {
		rows[i] = aggRow{T: 1, K: fmt.Sprint(i)}
	}
	aggRun(t, ctx, a, []aggStep{{rows: rows}, aggAdvance(1000)})
	if sink.batches != 2 || len(sink.rows) != len(rows) {
		t.Errorf("emitted %d rows in %d batches, want %d in 2", len(sink.rows), sink.batches, len(rows))
	}
}

// TestAggregateSessionReusedGroup merges two sessions, which releases a
// group whose end stays in the heap, then reuses its id for another key's
// session: closing must close that session once (it used to be found
// twice and panic) and emit what the reference does.
func TestAggregateSessionReusedGroup(t *testing.T) {
	for _, final := range []bool{false, true} {
		ctx, _ := aggTestCtx(t)
		cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
			Window: WindowSpec{Kind: Session, Gap: 100 * time.Millisecond, Grace: time.Second}, Aggs: aggDiffAggs, Final: final}
		steps := []aggStep{
			{rows: []aggRow{{T: 0, K: "a", V: 1, S: "s"}, {T: 150, K: "a", V: 2, S: "s"}}},
			{rows: []aggRow{{T: 75, K: "a", V: 3, S: "s"}}}, // merges a's two sessions
			{rows: []aggRow{{T: 150, K: "b", V: 4, S: "s"}}},
			aggAdvance(10000),
		}
		got, _ := aggDiffRun(t, ctx, cfg, steps, 0)
		ref := newAggRef(cfg)
		for _, s := range steps {
			if s.rows == nil {
				ref.advance(s.watermark)
			} else {
				ref.push(s.rows)
			}
		}
		aggDiffCompare(t, 0, Session, final, got, ref)
	}
}
