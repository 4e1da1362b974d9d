package engine

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/segment"
)

// fakeTiered serves one segment per partition.
type fakeTiered map[int32]meta.SegmentRef

func (f fakeTiered) Segments(_ context.Context, _ [16]byte, p int32, from int64) ([]meta.SegmentRef, meta.Manifest, error) {
	s, ok := f[p]
	if !ok || s.LastOffset < from {
		return nil, meta.Manifest{End: s.LastOffset + 1}, nil
	}
	return []meta.SegmentRef{s}, meta.Manifest{End: s.LastOffset + 1}, nil
}

func testSource(t testing.TB, stmt string) *plan.Source {
	t.Helper()
	st, err := sql.ParseStatement(stmt)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sourceOf(st.(*sql.CreateSource))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// coldTestParts makes two partitions of records: partition 0's event
// times start later than partition 1's. Every 7th value does not decode,
// every 5th record of partition 1 is a tombstone, and partition 0 ends
// with a control batch.
func coldTestParts(t *testing.T, topic [16]byte) []segment.PartitionData {
	t.Helper()
	var parts []segment.PartitionData
	for p := int32(0); p < 2; p++ {
		var batches [][]byte
		base := int64(1000) + int64(1-p)*500
		for b := int64(0); b < 4; b++ {
			var recs []kmsg.Record
			for i := int64(0); i < 10; i++ {
				n := b*10 + i
				r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: i, Key: []byte(fmt.Sprintf("k%d", n%6))}
				switch {
				case n%7 == 3:
					r.Value = []byte(`{"id": "not a number"`)
				case p == 1 && n%5 == 4:
				default:
					r.Value = []byte(fmt.Sprintf(`{"id": %d, "card": "c%d", "amount": %d.5}`, n, n%3, n))
				}
				recs = append(recs, r)
			}
			h := batch.Header{BaseOffset: b * 10, LastOffsetDelta: 9, FirstTimestamp: base + b*10, MaxTimestamp: base + b*10 + 9, ProducerID: -1, BaseSequence: -1}
			raw, err := batch.Build(h, recs)
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, raw)
		}
		if p == 0 {
			h := batch.Header{BaseOffset: 40, FirstTimestamp: base + 50, MaxTimestamp: base + 50, ProducerID: 1, BaseSequence: -1, Attributes: batch.ControlBit | batch.TransactionalBit}
			raw, err := batch.Build(h, []kmsg.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, raw)
		}
		parts = append(parts, segment.PartitionData{TopicID: topic, Partition: p, Batches: batches})
	}
	return parts
}

// TestColdScan reads a segment and its typed columns and checks that both
// paths give the rows the decoder gives, cut at the asked offsets, with
// partitions ordered by event time, and that unread columns are NULL.
func TestColdScan(t *testing.T) {
	ctx := context.Background()
	topic := [16]byte{1, 2, 3}
	for _, kind := range []string{"STREAM", "TABLE"} {
		t.Run(kind, func(t *testing.T) {
			key := "k STRING KEY"
			if kind == "TABLE" {
				key = "k STRING PRIMARY KEY"
			}
			src := testSource(t, fmt.Sprintf("CREATE %s s (%s, id BIGINT, card STRING, amount DOUBLE) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');", kind, key))
			parts := coldTestParts(t, topic)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)

			b := bucket.NewMemory()
			var seg bytes.Buffer
			footer, err := segment.Write(&seg, parts)
			if err != nil {
				t.Fatal(err)
			}
			typed, err := writeColumns(src, parts, mem)
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string][]byte{"segments/a.parquet": seg.Bytes(), "segments/a.cols.parquet": typed} {
				if err := b.Upload(ctx, name, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
			refs := fakeTiered{}
			for _, p := range footer.Partitions {
				refs[p.Partition] = meta.SegmentRef{Object: "segments/a.parquet", Columns: "segments/a.cols.parquet",
					FirstOffset: p.FirstOffset, LastOffset: p.LastOffset, MinTimestamp: p.MinTimestamp, MaxTimestamp: p.MaxTimestamp}
			}

			scan := func(refs fakeTiered, used []bool, times ...timeRange) ([]string, []int32) {
				e := newEngine(Config{Tiered: refs, Objects: b, Allocator: mem})
				from := scanFrom{columns: used}
				if len(times) > 0 {
					from.times = times[0]
				}
				next := map[int32]int64{0: 5, 1: 0}
				limit := map[int32]int64{1: 33}
				var rows []string
				var order []int32
				err := e.scanCold(ctx, src, topic, from, next, limit, mem, func(rec arrow.Record) error {
					order = append(order, rec.Column(schema.RowPartitionIndex).(interface{ Value(int) int32 }).Value(0))
					for i := 0; i < int(rec.NumRows()); i++ {
						rows = append(rows, fmt.Sprint(rowValues(rec, i)))
					}
					return nil
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if next[0] != 41 || next[1] != 33 {
					t.Errorf("next offsets %v, want 0:41 1:33", next)
				}
				return rows, order
			}
			typedRows, order := scan(refs, nil)
			raw := fakeTiered{}
			for p, r := range refs {
				r.Columns = ""
				raw[p] = r
			}
			rawRows, _ := scan(raw, nil)
			if !slices.Equal(typedRows, rawRows) {
				t.Errorf("typed columns give\n%q\nthe segment's values\n%q", typedRows, rawRows)
			}
			// 35 + 33 records, less the ones that do not decode.
			if want := 35 - 5 + 33 - 5; len(typedRows) != want {
				t.Errorf("%d rows, want %d: %q", len(typedRows), want, typedRows)
			}
			if !slices.Equal(order, []int32{1, 0}) {
				t.Errorf("partitions read in order %v, want 1 (earlier event times) then 0", order)
			}

			// A ROWTIME range that only partition 0's records meet: the
			// scan skips partition 1's segment, and the offsets still move
			// to the end of both.
			if kind == "STREAM" {
				for _, r := range []fakeTiered{refs, raw} {
					rows, order := scan(r, nil, timeRange{on: true, lo: 1500, hi: math.MaxInt64})
					if want := 35 - 5; len(rows) != want || !slices.Equal(order, []int32{0}) {
						t.Errorf("ROWTIME >= 1500: %d rows from partitions %v, want %d from partition 0", len(rows), order, want)
					}
				}
			}

			// Only id read: the other columns come back NULL from typed
			// columns.
			out := plan.SourceSchema(src)
			used := make([]bool, out.NumFields())
			used[out.FieldIndices("ID")[0]] = true
			pruned, _ := scan(refs, used)
			if len(pruned) != len(typedRows) {
				t.Fatalf("%d rows read with one column, %d with all", len(pruned), len(typedRows))
			}
			for _, r := range pruned {
				if !bytes.HasSuffix([]byte(r), []byte(" <nil> <nil>]")) {
					t.Fatalf("row %s: want NULL in the unread columns card and amount", r)
				}
			}
		})
	}
}

// BenchmarkWriteColumns measures the typed columns tiering writes for a
// declared stream: JSON values of the seed's authorization attempts,
// decoded and written as Parquet, per record.
func BenchmarkWriteColumns(b *testing.B) {
	src := testSource(b, "CREATE STREAM a (card_number STRING, amount DOUBLE, merchant STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');")
	const perBatch, batches = 1000, 100
	var parts []segment.PartitionData
	for p := int32(0); p < 2; p++ {
		var raw [][]byte
		for bi := 0; bi < batches/2; bi++ {
			recs := make([]kmsg.Record, perBatch)
			for i := range recs {
				n := bi*perBatch + i
				recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i),
					Value: []byte(fmt.Sprintf(`{"card_number":"%d","amount":%d.%02d,"merchant":"merchant-%d"}`, 4000000000000000+n%100000, n%1000, n%100, n%100))}
			}
			h := batch.Header{BaseOffset: int64(bi * perBatch), LastOffsetDelta: perBatch - 1, FirstTimestamp: 1767225600000, MaxTimestamp: 1767225600000 + perBatch, ProducerID: -1, BaseSequence: -1}
			data, err := batch.Build(h, recs)
			if err != nil {
				b.Fatal(err)
			}
			raw = append(raw, data)
		}
		parts = append(parts, segment.PartitionData{Partition: p, Batches: raw})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := writeColumns(src, parts, memory.DefaultAllocator); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch*batches)/b.Elapsed().Seconds(), "records/s")
}
