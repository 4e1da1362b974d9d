package exec

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/expr"
)

// aggTestCtx returns a context whose allocator must be empty when the test
// ends.
func aggTestCtx(t testing.TB) (context.Context, *memory.CheckedAllocator) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return compute.WithAllocator(context.Background(), mem), mem
}

// Columns of the test input schema.
const (
	aggColTime = iota
	aggColPartition
	aggColOffset
	aggColK
	aggColV
	aggColD
	aggColS
	aggColN // DECIMAL(5, 2)
)

var aggTestDecimal = &arrow.Decimal128Type{Precision: 5, Scale: 2}

// aggTestInput is the schema of the test batches: the pseudo columns, a
// VARCHAR key K, then V BIGINT, D DOUBLE, S VARCHAR, N DECIMAL(5, 2).
var aggTestInput = arrow.NewSchema([]arrow.Field{
	{Name: "ROWTIME", Type: expr.Timestamp},
	{Name: "ROWPARTITION", Type: arrow.PrimitiveTypes.Int32},
	{Name: "ROWOFFSET", Type: arrow.PrimitiveTypes.Int64},
	{Name: "K", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "V", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "D", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "S", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "N", Type: aggTestDecimal, Nullable: true},
}, nil)

// aggRow is a test input row; nil fields are NULL. N is the unscaled
// DECIMAL value.
type aggRow struct {
	T    int64
	K, V any // string, int64
	D, S any // float64, string
	N    any // int64
}

// aggRecord builds a test batch; offsets count from off.
func aggRecord(mem memory.Allocator, off int64, rows []aggRow) arrow.Record {
	b := array.NewRecordBuilder(mem, aggTestInput)
	defer b.Release()
	for i, r := range rows {
		b.Field(aggColTime).(*array.TimestampBuilder).Append(arrow.Timestamp(r.T))
		b.Field(aggColPartition).(*array.Int32Builder).Append(0)
		b.Field(aggColOffset).(*array.Int64Builder).Append(off + int64(i))
		aggAppend(b.Field(aggColK), r.K)
		aggAppend(b.Field(aggColV), r.V)
		aggAppend(b.Field(aggColD), r.D)
		aggAppend(b.Field(aggColS), r.S)
		aggAppend(b.Field(aggColN), r.N)
	}
	return b.NewRecord()
}

func aggAppend(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.Int64Builder:
		b.Append(int64(v.(int)))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.Decimal128Builder:
		b.Append(decimal128.FromI64(int64(v.(int))))
	default:
		panic(fmt.Sprintf("aggAppend: %T", b))
	}
}

// aggFormat renders each row of rec as its values joined by '|': NULL for
// NULL, integers for timestamps, ValueStr otherwise.
func aggFormat(rec arrow.Record) []string {
	rows := make([]string, rec.NumRows())
	for i := range rows {
		vals := make([]string, rec.NumCols())
		for j, col := range rec.Columns() {
			vals[j] = aggFormatValue(col, i)
		}
		rows[i] = strings.Join(vals, "|")
	}
	return rows
}

func aggFormatValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch c := col.(type) {
	case *array.Timestamp:
		return strconv.FormatInt(int64(c.Value(i)), 10)
	case *array.Float64:
		return strconv.FormatFloat(c.Value(i), 'g', -1, 64)
	case *array.List:
		lo, hi := c.ValueOffsets(i)
		parts := make([]string, 0, hi-lo)
		for j := lo; j < hi; j++ {
			parts = append(parts, aggFormatValue(c.ListValues(), int(j)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return col.ValueStr(i)
}

// aggSink collects emitted rows.
type aggSink struct {
	rows    []string
	batches int
	schema  *arrow.Schema
}

func (s *aggSink) emit(_ context.Context, rec arrow.Record) error {
	if s.schema != nil && !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("emitted schema %v, want %v", rec.Schema(), s.schema)
	}
	s.rows = append(s.rows, aggFormat(rec)...)
	s.batches++
	return nil
}

// aggNew builds an aggregation emitting into a new sink.
func aggNew(t testing.TB, cfg AggregateConfig) (*Aggregate, *aggSink) {
	t.Helper()
	sink := &aggSink{}
	a, err := NewAggregate(cfg, sink.emit)
	if err != nil {
		t.Fatal(err)
	}
	sink.schema = a.Schema()
	t.Cleanup(func() { a.Close() })
	return a, sink
}

// aggStep is a Push of rows or, when rows is nil, an Advance to watermark.
type aggStep struct {
	rows      []aggRow
	watermark int64
}

func aggPush(rows ...aggRow) aggStep     { return aggStep{rows: rows} }
func aggAdvance(watermark int64) aggStep { return aggStep{watermark: watermark} }

// aggRun runs steps through a.
func aggRun(t testing.TB, ctx context.Context, a *Aggregate, steps []aggStep) {
	t.Helper()
	mem := compute.GetAllocator(ctx)
	var off int64
	for _, s := range steps {
		if s.rows == nil {
			if err := a.Advance(ctx, s.watermark); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rec := aggRecord(mem, off, s.rows)
		off += int64(len(s.rows))
		err := a.Push(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}
