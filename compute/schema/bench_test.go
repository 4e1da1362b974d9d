package schema

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// benchEvents returns n card-payment events of 7 fields with varying values.
func benchEvents(n int) [][]byte {
	merchants := []string{"ACME", "Globex Corporation", "Initech", "Umbrella", "Stark Industries"}
	events := make([][]byte, n)
	for i := range events {
		events[i] = fmt.Appendf(nil,
			`{"card_number":"4000-1234-5678-%04d","amount":%d.%02d,"merchant":"%s","ts":%d,"success":%t,"country":"DE","mcc":%d}`,
			i%10000, 1+i%997, i%100, merchants[i%len(merchants)], 1700000000000+int64(i)*37, i%7 != 0, 5000+i%900)
	}
	return events
}

func benchSchema(b *testing.B) *Schema {
	s, err := New(
		Column{Name: "CARD_NUMBER", Type: String},
		Column{Name: "AMOUNT", Type: Double},
		Column{Name: "MERCHANT", Type: String},
		Column{Name: "TS", Type: Timestamp},
		Column{Name: "SUCCESS", Type: Boolean},
		Column{Name: "COUNTRY", Type: String},
		Column{Name: "MCC", Type: Int},
	)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

const benchBatch = 4096

// BenchmarkDecodeJSON decodes JSON events into batches of 4096 rows; one op
// is one row.
func BenchmarkDecodeJSON(b *testing.B) {
	events := benchEvents(benchBatch)
	total := 0
	for _, e := range events {
		total += len(e)
	}
	d, err := NewDecoder(benchSchema(b), Format{}, Format{Kind: JSON}, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Release()
	b.SetBytes(int64(total / len(events)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := d.Append(Record{Offset: int64(i), Timestamp: 1700000000000, Value: events[i%benchBatch]}); err != nil {
			b.Fatal(err)
		}
		if i++; d.Len() == benchBatch {
			d.Flush().Release()
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEncodeJSON encodes rows of a decoded batch of events; one op is
// one row.
func BenchmarkEncodeJSON(b *testing.B) {
	s := benchSchema(b)
	d, err := NewDecoder(s, Format{}, Format{Kind: JSON}, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Release()
	for _, e := range benchEvents(benchBatch) {
		if err := d.Append(Record{Value: e}); err != nil {
			b.Fatal(err)
		}
	}
	rec := d.Flush()
	defer rec.Release()
	enc, err := NewEncoder(s.Values(), Format{Kind: JSON})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	i := 0
	for b.Loop() {
		if buf, err = enc.Encode(rec, i%benchBatch, buf[:0]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "rows/s")
}
