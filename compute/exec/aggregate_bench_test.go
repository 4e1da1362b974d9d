package exec

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/expr"
)

const (
	aggBenchRows  = 1 << 20
	aggBenchBatch = 1 << 16
	aggBenchKeys  = 10_000
)

// aggBenchInput holds 1M rows in 64k-row batches: one row per millisecond,
// a VARCHAR card number among 10k and a BIGINT amount.
func aggBenchInput(b *testing.B, mem memory.Allocator) (*arrow.Schema, []arrow.Record) {
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ROWTIME", Type: expr.Timestamp},
		{Name: "ROWPARTITION", Type: arrow.PrimitiveTypes.Int32},
		{Name: "ROWOFFSET", Type: arrow.PrimitiveTypes.Int64},
		{Name: "CARD_NUMBER", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "AMOUNT", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	cards := make([]string, aggBenchKeys)
	for i := range cards {
		cards[i] = fmt.Sprintf("4000%012d", i*7919)
	}
	var recs []arrow.Record
	bld := array.NewRecordBuilder(mem, in)
	defer bld.Release()
	x := uint64(1)
	for lo := 0; lo < aggBenchRows; lo += aggBenchBatch {
		for i := lo; i < lo+aggBenchBatch; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			bld.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			bld.Field(1).(*array.Int32Builder).Append(0)
			bld.Field(2).(*array.Int64Builder).Append(int64(i))
			bld.Field(3).(*array.StringBuilder).Append(cards[x%aggBenchKeys])
			bld.Field(4).(*array.Int64Builder).Append(int64(x % 1000))
		}
		recs = append(recs, bld.NewRecord())
	}
	b.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return in, recs
}

func aggBench(b *testing.B, window WindowSpec, final bool) {
	mem := memory.NewGoAllocator()
	ctx := compute.WithAllocator(context.Background(), mem)
	in, recs := aggBenchInput(b, mem)
	cfg := AggregateConfig{
		Input: in, Keys: []int{3}, Time: 0, Window: window, Final: final,
		Aggs: []AggFunc{{Name: "COUNT", Arg: -1, OutName: "C"}, {Name: "SUM", Arg: 4, OutName: "S"}},
	}
	var out int64
	emit := func(_ context.Context, rec arrow.Record) error { out += rec.NumRows(); return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a, err := NewAggregate(cfg, emit)
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range recs {
			if err := a.Push(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.Advance(ctx, 1<<40); err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
	b.ReportMetric(float64(b.N)*aggBenchRows/b.Elapsed().Seconds(), "rows/s")
	if out == 0 {
		b.Fatal("no output")
	}
}

// BenchmarkAggregateTumbling is COUNT(*) and SUM over 5-minute tumbling
// windows of 10k keys.
func BenchmarkAggregateTumbling(b *testing.B) {
	w := WindowSpec{Kind: Tumbling, Size: 5 * time.Minute}
	b.Run("changes", func(b *testing.B) { aggBench(b, w, false) })
	b.Run("final", func(b *testing.B) { aggBench(b, w, true) })
}

// BenchmarkAggregateHopping is COUNT(*) and SUM over 5-minute windows
// advancing by 1 minute: each row updates 5 windows.
func BenchmarkAggregateHopping(b *testing.B) {
	w := WindowSpec{Kind: Hopping, Size: 5 * time.Minute, Advance: time.Minute}
	b.Run("changes", func(b *testing.B) { aggBench(b, w, false) })
	b.Run("final", func(b *testing.B) { aggBench(b, w, true) })
}

// aggBenchTableInput holds 1M changelog rows in 64k-row batches over 100k
// BIGINT table keys: each row moves its key to one of 10k VARCHAR groups
// with a new BIGINT amount, or (1 in 20) deletes it.
func aggBenchTableInput(b *testing.B, mem memory.Allocator) (*arrow.Schema, []arrow.Record) {
	in := arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: arrow.PrimitiveTypes.Int64},
		{Name: "REGION", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "AMOUNT", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	regions := make([]string, aggBenchKeys)
	for i := range regions {
		regions[i] = fmt.Sprintf("region-%06d", i*7919%aggBenchKeys)
	}
	var recs []arrow.Record
	bld := array.NewRecordBuilder(mem, in)
	defer bld.Release()
	x := uint64(1)
	for lo := 0; lo < aggBenchRows; lo += aggBenchBatch {
		for range aggBenchBatch {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			bld.Field(0).(*array.Int64Builder).Append(int64(x % 100_000))
			bld.Field(1).(*array.StringBuilder).Append(regions[(x>>20)%aggBenchKeys])
			bld.Field(2).(*array.Int64Builder).Append(int64(x>>40) % 1000)
			bld.Field(3).(*array.BooleanBuilder).Append((x>>50)%20 == 0)
		}
		recs = append(recs, bld.NewRecord())
	}
	b.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return in, recs
}

// BenchmarkAggregateTable aggregates a table's changelog: COUNT(*) and
// SUM (invertible), and with MIN and MAX (multisets) too.
func BenchmarkAggregateTable(b *testing.B) {
	for _, bc := range []struct {
		name string
		aggs []AggFunc
	}{
		{"count_sum", []AggFunc{{Name: "COUNT", Arg: -1, OutName: "C"}, {Name: "SUM", Arg: 2, OutName: "S"}}},
		{"min_max", []AggFunc{{Name: "COUNT", Arg: -1, OutName: "C"}, {Name: "MIN", Arg: 2, OutName: "LO"},
			{Name: "MAX", Arg: 2, OutName: "HI"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			ctx := compute.WithAllocator(context.Background(), mem)
			in, recs := aggBenchTableInput(b, mem)
			cfg := AggregateConfig{Input: in, Keys: []int{1}, Aggs: bc.aggs, Table: true, TableKeys: []int{0}}
			var out int64
			emit := func(_ context.Context, rec arrow.Record) error { out += rec.NumRows(); return nil }
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				a, err := NewAggregate(cfg, emit)
				if err != nil {
					b.Fatal(err)
				}
				for _, rec := range recs {
					if err := a.Push(ctx, rec); err != nil {
						b.Fatal(err)
					}
				}
				a.Close()
			}
			b.ReportMetric(float64(b.N)*aggBenchRows/b.Elapsed().Seconds(), "rows/s")
			if out == 0 {
				b.Fatal("no output")
			}
		})
	}
}
