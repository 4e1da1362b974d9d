package expr

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

const benchRows = 64 * 1024

// benchBatch: amount DOUBLE (5% NULL), merchant VARCHAR from a small set and
// amount_dec DECIMAL(10, 2).
func benchBatch(mem memory.Allocator) arrow.Record {
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "amount", Type: Double, Nullable: true}, {Name: "merchant", Type: String, Nullable: true},
		{Name: "amount_dec", Type: Decimal(10, 2), Nullable: true},
	}, nil))
	defer b.Release()
	db := b.Field(2).(*array.Decimal128Builder)
	rng := rand.New(rand.NewSource(7))
	names := []string{"ACME", "Globex", "Initech", "Umbrella", "Hooli"}
	am, mb := b.Field(0).(*array.Float64Builder), b.Field(1).(*array.StringBuilder)
	for range benchRows {
		if rng.Intn(20) == 0 {
			am.AppendNull()
			db.AppendNull()
		} else {
			am.Append(rng.Float64() * 200)
			db.Append(decimal128.FromI64(rng.Int63n(20000)))
		}
		mb.Append(names[rng.Intn(len(names))])
	}
	return b.NewRecord()
}

// benchRun checks one run for leaks with a CheckedAllocator (which records a
// stack trace per allocation, too slow to time), then times the Go allocator.
func benchRun(b *testing.B, run func(ctx context.Context, rec arrow.Record) (func(), error)) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(b, 0)
	for _, mem := range []memory.Allocator{checked, memory.NewGoAllocator()} {
		ctx := compute.WithAllocator(context.Background(), mem)
		rec := benchBatch(mem)
		release, err := run(ctx, rec)
		if err != nil {
			b.Fatal(err)
		}
		release()
		rec.Release()
	}
	ctx := compute.WithAllocator(context.Background(), memory.NewGoAllocator())
	rec := benchBatch(memory.NewGoAllocator())
	defer rec.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		release, err := run(ctx, rec)
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

var (
	amountCol   = Column(0, "amount", Double)
	merchantCol = Column(1, "merchant", String)
)

func BenchmarkFilter(b *testing.B) {
	pred := mustCallT(b, "AND",
		mustCallT(b, ">", amountCol, lit(b, 100, Int)),
		mustCallT(b, "=", merchantCol, lit(b, "ACME", String)))
	benchRun(b, func(ctx context.Context, rec arrow.Record) (func(), error) {
		out, err := Filter(ctx, rec, pred)
		if err != nil {
			return nil, err
		}
		return out.Release, nil
	})
}

func BenchmarkProject(b *testing.B) {
	for _, c := range []struct {
		name string
		e    Expr
	}{
		{"amount*1.1+2", mustCallT(b, "+", mustCallT(b, "*", amountCol, lit(b, 1.1, Double)), lit(b, 2, Int))},
		{"amount_dec*1.1+2", mustCallT(b, "+", mustCallT(b, "*", Column(2, "amount_dec", Decimal(10, 2)), lit(b, "1.1", Decimal(2, 1))), lit(b, 2, Int))},
		{"CAST(amount AS DECIMAL(10,2))", mustCast(b, amountCol, Decimal(10, 2))},
		{"UCASE(merchant)", mustCallT(b, "UCASE", merchantCol)},
		{"SUBSTRING(merchant,2,3)", mustCallT(b, "SUBSTRING", merchantCol, lit(b, 2, Int), lit(b, 3, Int))},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchRun(b, func(ctx context.Context, rec arrow.Record) (func(), error) {
				out, err := Project(ctx, rec, []Expr{c.e}, []string{"x"})
				if err != nil {
					return nil, err
				}
				return out.Release, nil
			})
		})
	}
}

func mustCast(b *testing.B, e Expr, t arrow.DataType) Expr {
	c, err := Cast(e, t)
	if err != nil {
		b.Fatal(fmt.Sprint(err))
	}
	return c
}
