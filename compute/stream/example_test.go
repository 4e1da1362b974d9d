package stream_test

import (
	"bytes"
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"

	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/stream"
)

func Example() {
	b := stream.NewBuilder(stream.Config{
		Brokers:  []string{"127.0.0.1:9092"},
		StateDir: "/var/lib/shop-streams", // resume where the last run stopped
	})

	// Records as they are: every caterpillar becomes a butterfly.
	b.Stream("caterpillars", stream.Raw()).
		Map(func(r stream.Record) (stream.Record, bool) {
			r.Value = bytes.ToUpper(r.Value)
			return r, true
		}).
		To("butterflies")

	// Declared columns: a BIGINT key, JSON values.
	orders := b.Stream("orders", stream.JSON(
		schema.Column{Name: "ID", Type: schema.BigInt, Key: true},
		schema.Column{Name: "CUSTOMER", Type: schema.String},
		schema.Column{Name: "AMOUNT", Type: schema.Double},
	))
	payments := b.Stream("payments", stream.JSON(
		schema.Column{Name: "ORDER_ID", Type: schema.BigInt},
		schema.Column{Name: "PAID", Type: schema.Double},
	))

	// SQL expressions, evaluated a batch at a time.
	orders.Where("AMOUNT > 100").
		Select("ID", "AMOUNT * 1.1 AS WITH_TAX", "UCASE(CUSTOMER) AS CUSTOMER").
		To("big_orders")

	// Orders and their total per customer and 5 minutes, updated with
	// every order: {"CUSTOMER":…,"WINDOWSTART":…,"WINDOWEND":…} →
	// {"COUNT":…,"TOTAL":…}.
	orders.GroupBy("CUSTOMER").
		WindowedBy(stream.Tumbling(5*time.Minute)).
		Aggregate(stream.Count(), stream.Sum("AMOUNT").As("TOTAL")).
		To("order_stats")

	// Orders paid within a minute: ORDERS_CUSTOMER, …, PAYMENTS_PAID.
	orders.Join(payments, stream.Within(time.Minute), "ID = ORDER_ID").
		Where("PAYMENTS_PAID < ORDERS_AMOUNT").
		Print(os.Stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := b.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// MapBatch runs vectorized code over the Arrow batches of a stream.
func ExampleStream_MapBatch() {
	b := stream.NewBuilder(stream.Config{Brokers: []string{"127.0.0.1:9092"}})
	orders := b.Stream("orders", stream.JSON(
		schema.Column{Name: "ID", Type: schema.BigInt, Key: true},
		schema.Column{Name: "AMOUNT", Type: schema.Double},
	))
	cents := schema.Column{Name: "CENTS", Type: schema.BigInt}
	orders.MapBatch(func(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
		// Columns: ROWTIME, ROWPARTITION, ROWOFFSET, ID, AMOUNT.
		amount := rec.Column(4).(*array.Float64)
		bld := array.NewInt64Builder(compute.GetAllocator(ctx))
		defer bld.Release()
		for i := range amount.Len() {
			if amount.IsNull(i) {
				bld.AppendNull()
			} else {
				bld.Append(int64(amount.Value(i) * 100))
			}
		}
		col := bld.NewArray()
		defer col.Release()
		// As many rows as the input, without the pseudo columns: the
		// stream puts the input's in front.
		out := arrow.NewSchema([]arrow.Field{{Name: "CENTS", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		return array.NewRecord(out, []arrow.Array{col}, rec.NumRows()), nil
	}, cents).To("order_cents")
	if err := b.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
