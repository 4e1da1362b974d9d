package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/schema"
)

const joinBenchBatch = 1024

// joinBenchSchema is ROWTIME, ROWPARTITION, ROWOFFSET, K BIGINT, then a
// STRING (left) or DOUBLE (right) value, then the Deleted column for a table.
func joinBenchSchema(right, table bool) *arrow.Schema {
	fields := []arrow.Field{
		{Name: schema.RowTime, Type: schema.Timestamp.Arrow()},
		{Name: schema.RowPartition, Type: arrow.PrimitiveTypes.Int32},
		{Name: schema.RowOffset, Type: arrow.PrimitiveTypes.Int64},
		{Name: "K", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}
	if right {
		fields = append(fields, arrow.Field{Name: "W", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	} else {
		fields = append(fields, arrow.Field{Name: "V", Type: arrow.BinaryTypes.String, Nullable: true})
	}
	if table {
		fields = append(fields, arrow.Field{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// joinBenchBatches returns n rows in batches: row i has time i*step ms and
// key key(i).
func joinBenchBatches(sc *arrow.Schema, n int, step int64, key func(i int) int64) []arrow.Record {
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	var recs []arrow.Record
	for i := range n {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * step))
		b.Field(1).(*array.Int32Builder).Append(0)
		b.Field(2).(*array.Int64Builder).Append(int64(i))
		b.Field(3).(*array.Int64Builder).Append(key(i))
		switch fb := b.Field(4).(type) {
		case *array.StringBuilder:
			fb.Append(fmt.Sprintf("value-%d", i%1000))
		case *array.Float64Builder:
			fb.Append(float64(i))
		}
		if sc.NumFields() > 5 {
			b.Field(5).(*array.BooleanBuilder).Append(false)
		}
		if (i+1)%joinBenchBatch == 0 || i == n-1 {
			recs = append(recs, b.NewRecord())
		}
	}
	return recs
}

func joinBenchRelease(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// BenchmarkStreamStreamJoin joins two streams of 500k rows each, one row
// per millisecond, over 10k keys, WITHIN 1 MINUTE: about 12 matches a row.
func BenchmarkStreamStreamJoin(b *testing.B) {
	const rows, keys = 500_000, 10_000
	rng := rand.New(rand.NewPCG(1, 2))
	key := func(int) int64 { return rng.Int64N(keys) }
	left := joinBenchBatches(joinBenchSchema(false, false), rows, 1, key)
	right := joinBenchBatches(joinBenchSchema(true, false), rows, 1, key)
	defer joinBenchRelease(left)
	defer joinBenchRelease(right)
	cfg := JoinConfig{
		Type: InnerJoin, Left: left[0].Schema(), Right: right[0].Schema(),
		LeftKeys: []int{3}, RightKeys: []int{3}, Before: time.Minute, After: time.Minute,
		LeftPrefix: "A_", RightPrefix: "B_",
	}
	ctx := context.Background()
	var out int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		j, err := NewStreamStreamJoin(cfg, func(_ context.Context, rec arrow.Record) error {
			out += rec.NumRows()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for i := range left {
			if err := j.Left().Push(ctx, left[i]); err != nil {
				b.Fatal(err)
			}
			if err := j.Right().Push(ctx, right[i]); err != nil {
				b.Fatal(err)
			}
			if err := j.Left().Advance(ctx, int64((i+1)*joinBenchBatch-1)); err != nil {
				b.Fatal(err)
			}
		}
		j.Close()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(2*rows*b.N)/sec, "rows/s")
	b.ReportMetric(float64(out)/sec, "out-rows/s")
}

// BenchmarkStreamTableJoin joins 1M stream rows with a table of 100k keys
// (loaded outside the timer); every stream row matches.
func BenchmarkStreamTableJoin(b *testing.B) {
	const rows, keys = 1_000_000, 100_000
	table := joinBenchBatches(joinBenchSchema(true, true), keys, 0, func(i int) int64 { return int64(i) })
	rng := rand.New(rand.NewPCG(3, 4))
	stream := joinBenchBatches(joinBenchSchema(false, false), rows, 1, func(int) int64 { return rng.Int64N(keys) })
	defer joinBenchRelease(table)
	defer joinBenchRelease(stream)
	cfg := JoinConfig{
		Type: LeftJoin, Left: stream[0].Schema(), Right: table[0].Schema(),
		LeftKeys: []int{3}, RightKeys: []int{3}, LeftPrefix: "A_", RightPrefix: "B_",
	}
	ctx := context.Background()
	var out int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		j, err := NewStreamTableJoin(cfg, func(_ context.Context, rec arrow.Record) error {
			out += rec.NumRows()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range table {
			if err := j.Right().Push(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for _, r := range stream {
			if err := j.Left().Push(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
	if out != int64(rows*b.N) {
		b.Fatalf("%d rows joined, want %d", out, rows*b.N)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
