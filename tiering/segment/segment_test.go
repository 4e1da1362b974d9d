package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

const maxDec = 64 << 20

type inputPartition struct {
	PartitionData
	headers []batch.Header // as built
	records [][]kmsg.Record
}

func topic(n byte) [16]byte {
	var id [16]byte
	for i := range id {
		id[i] = n*16 + byte(i)
	}
	return id
}

func bytesVariant(rng *rand.Rand, i int, prefix string) []byte {
	switch i % 3 {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, rng.Intn(200)+1)
	rng.Read(b)
	return append([]byte(prefix), b...)
}

// makePartition builds nBatches batches starting at base with varied
// codecs, sizes, timestamp types, producer fields, keys, values, headers.
func makePartition(t testing.TB, rng *rand.Rand, id [16]byte, part int32, base int64, nBatches int) inputPartition {
	t.Helper()
	p := inputPartition{PartitionData: PartitionData{TopicID: id, Partition: part}}
	off := base
	ts := int64(1_700_000_000_000) + int64(part)*1000
	for bi := 0; bi < nBatches; bi++ {
		n := 1 + rng.Intn(12)
		if bi%5 == 4 {
			n = 60
		}
		h := batch.Header{
			BaseOffset:           off,
			PartitionLeaderEpoch: int32(3 + bi%2),
			Attributes:           int16(bi % 5), // codecs 0..4
			FirstTimestamp:       ts,
			ProducerID:           -1,
			ProducerEpoch:        -1,
			BaseSequence:         -1,
		}
		if bi%3 == 1 {
			h.ProducerID, h.ProducerEpoch, h.BaseSequence = 7000+int64(part), 2, int32(bi*100)
		}
		if bi%7 == 6 {
			h.Attributes |= batch.TransactionalBit
			h.ProducerID, h.ProducerEpoch, h.BaseSequence = 9000, 1, int32(bi)
		}
		if bi%4 == 3 {
			h.Attributes |= batch.TimestampTypeBit
			h.MaxTimestamp = ts + 5000
		}
		recs := make([]kmsg.Record, n)
		for i := range recs {
			r := kmsg.Record{
				OffsetDelta:      int32(i),
				TimestampDelta64: int64(i*3 - (i % 2)), // not monotonic
				Key:              bytesVariant(rng, i+bi, "k"),
				Value:            bytesVariant(rng, i+bi+1, "v"),
			}
			switch (i + bi) % 4 {
			case 1:
				r.Headers = []kmsg.Header{{Key: "h", Value: []byte("1")}}
			case 2:
				r.Headers = []kmsg.Header{{Key: "a", Value: nil}, {Key: "", Value: []byte{}}, {Key: "c", Value: []byte("xyz")}, {Key: "a", Value: nil}}
			}
			recs[i] = r
		}
		b, err := batch.Build(h, recs)
		if err != nil {
			t.Fatal(err)
		}
		hh, err := batch.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		p.Batches = append(p.Batches, b)
		p.headers = append(p.headers, hh)
		p.records = append(p.records, recs)
		off += int64(n)
		ts += 100
	}
	return p
}

func writeSegment(t testing.TB, parts []inputPartition, opts Options) ([]byte, Footer) {
	t.Helper()
	var in []PartitionData
	for _, p := range parts {
		in = append(in, p.PartitionData)
	}
	var buf bytes.Buffer
	foot, err := WriteOptions(&buf, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if foot.Size != int64(buf.Len()) {
		t.Fatalf("footer size %d, wrote %d", foot.Size, buf.Len())
	}
	return buf.Bytes(), foot
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// checkBatches compares rebuilt batches to the input from batch index first.
func checkBatches(t *testing.T, p inputPartition, first int, got [][]byte) {
	t.Helper()
	if len(got) != len(p.Batches)-first {
		t.Fatalf("%x/%d: got %d batches, want %d", p.TopicID, p.Partition, len(got), len(p.Batches)-first)
	}
	for i, b := range got {
		want := p.headers[first+i]
		if _, err := batch.Parse(b); err != nil {
			t.Fatalf("batch %d: rebuilt batch invalid: %v", i, err)
		}
		h, recs, err := batch.Records(b, maxDec)
		if err != nil {
			t.Fatal(err)
		}
		if h.Codec() != 0 {
			t.Errorf("batch %d: codec %d, want uncompressed", i, h.Codec())
		}
		if h.BaseOffset != want.BaseOffset || h.LastOffsetDelta != want.LastOffsetDelta ||
			h.PartitionLeaderEpoch != want.PartitionLeaderEpoch ||
			h.Attributes&^batch.CodecMask != want.Attributes&^batch.CodecMask ||
			h.FirstTimestamp != want.FirstTimestamp || h.MaxTimestamp != want.MaxTimestamp ||
			h.ProducerID != want.ProducerID || h.ProducerEpoch != want.ProducerEpoch ||
			h.BaseSequence != want.BaseSequence || h.RecordCount != want.RecordCount {
			t.Fatalf("batch %d header:\n got %+v\nwant %+v", i, h, want)
		}
		wantRecs := p.records[first+i]
		if len(recs) != len(wantRecs) {
			t.Fatalf("batch %d: %d records, want %d", i, len(recs), len(wantRecs))
		}
		for j := range recs {
			g, w := &recs[j], &wantRecs[j]
			if g.OffsetDelta != w.OffsetDelta || g.TimestampDelta64 != w.TimestampDelta64 ||
				h.Timestamp(g) != want.Timestamp(w) ||
				!sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || g.Attributes != w.Attributes {
				t.Fatalf("batch %d record %d:\n got %+v\nwant %+v", i, j, g, w)
			}
			if len(g.Headers) != len(w.Headers) {
				t.Fatalf("batch %d record %d: %d headers, want %d", i, j, len(g.Headers), len(w.Headers))
			}
			for k := range g.Headers {
				if g.Headers[k].Key != w.Headers[k].Key || !sameBytes(g.Headers[k].Value, w.Headers[k].Value) {
					t.Fatalf("batch %d record %d header %d: got %+v want %+v", i, j, k, g.Headers[k], w.Headers[k])
				}
			}
		}
	}
}

func testParts(t testing.TB) []inputPartition {
	rng := rand.New(rand.NewSource(1))
	return []inputPartition{
		// deliberately unsorted input
		makePartition(t, rng, topic(2), 1, 500, 23),
		makePartition(t, rng, topic(1), 0, 0, 17),
		makePartition(t, rng, topic(2), 0, 1_000_000, 9),
		makePartition(t, rng, topic(1), 3, 42, 1),
		makePartition(t, rng, topic(1), 1, 7, 30),
	}
}

func TestRoundTrip(t *testing.T) {
	parts := testParts(t)
	for _, opts := range []Options{{}, {MaxRowGroupRows: 50}, {MaxRowGroupBytes: 2000}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			file, foot := writeSegment(t, parts, opts)
			rd, err := Open(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(foot.Partitions) != len(parts) || len(rd.Partitions()) != len(parts) {
				t.Fatalf("partitions: footer %d, reader %d, want %d", len(foot.Partitions), len(rd.Partitions()), len(parts))
			}
			for i, s := range foot.Partitions {
				rp := rd.Partitions()[i]
				if i > 0 {
					prev := foot.Partitions[i-1]
					if bytes.Compare(prev.TopicID[:], s.TopicID[:]) > 0 || prev.TopicID == s.TopicID && prev.Partition >= s.Partition {
						t.Fatalf("footer partitions not sorted")
					}
				}
				if rp.TopicID != s.TopicID || rp.Partition != s.Partition || rp.FirstOffset != s.FirstOffset ||
					rp.LastOffset != s.LastOffset || rp.MinTimestamp != s.MinTimestamp || rp.MaxTimestamp != s.MaxTimestamp ||
					rp.Records != s.Records || fmt.Sprint(rp.RowGroups) != fmt.Sprint(s.RowGroups) {
					t.Fatalf("reader partition %+v, footer %+v", rp, s)
				}
				if s.StoredBytes <= 0 || s.InputBytes <= 0 {
					t.Fatalf("byte counts %+v", s)
				}
			}
			for _, p := range parts {
				sum := findSummary(foot, p.TopicID, p.Partition)
				first, last := p.headers[0].BaseOffset, p.headers[len(p.headers)-1].LastOffset()
				if sum.FirstOffset != first || sum.LastOffset != last || sum.Batches != len(p.Batches) {
					t.Fatalf("summary %+v, want offsets %d..%d", sum, first, last)
				}
				if opts.MaxRowGroupRows == 50 && len(p.Batches) > 10 && len(sum.RowGroups) < 2 {
					t.Fatalf("expected several row groups, got %v", sum.RowGroups)
				}
				// From the start and from before the start.
				for _, from := range []int64{first, first - 10, 0} {
					got, err := rd.ReadBatches(p.TopicID, p.Partition, from, 0)
					if err != nil {
						t.Fatal(err)
					}
					checkBatches(t, p, 0, got)
				}
				// From the middle of every multi-record batch.
				for bi, h := range p.headers {
					from := h.BaseOffset + int64(h.LastOffsetDelta)/2
					got, err := rd.ReadBatches(p.TopicID, p.Partition, from, 0)
					if err != nil {
						t.Fatal(err)
					}
					checkBatches(t, p, bi, got)
				}
				// From the last offset, and past it.
				got, err := rd.ReadBatches(p.TopicID, p.Partition, last, 0)
				if err != nil {
					t.Fatal(err)
				}
				checkBatches(t, p, len(p.Batches)-1, got)
				got, err = rd.ReadBatches(p.TopicID, p.Partition, last+1, 0)
				if err != nil || len(got) != 0 {
					t.Fatalf("past the end: %d batches, %v", len(got), err)
				}
			}
			// Unknown partition.
			if got, err := rd.ReadBatches(topic(9), 0, 0, 0); err != nil || len(got) != 0 {
				t.Fatalf("unknown partition: %d batches, %v", len(got), err)
			}
		})
	}
}

func findSummary(f Footer, id [16]byte, part int32) PartitionSummary {
	for _, s := range f.Partitions {
		if s.TopicID == id && s.Partition == part {
			return s
		}
	}
	return PartitionSummary{}
}

func TestReadBatchesMaxBytes(t *testing.T) {
	parts := testParts(t)
	file, _ := writeSegment(t, parts, Options{MaxRowGroupRows: 40})
	rd, err := Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	p := parts[4]
	all, err := rd.ReadBatches(p.TopicID, p.Partition, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// One byte still returns one batch.
	one, err := rd.ReadBatches(p.TopicID, p.Partition, 0, 1)
	if err != nil || len(one) != 1 || !bytes.Equal(one[0], all[0]) {
		t.Fatalf("maxBytes 1: %d batches, %v", len(one), err)
	}
	limit := len(all[0]) + len(all[1]) + len(all[2])
	three, err := rd.ReadBatches(p.TopicID, p.Partition, 0, limit)
	if err != nil || len(three) != 3 {
		t.Fatalf("maxBytes %d: %d batches, %v", limit, len(three), err)
	}
	three, err = rd.ReadBatches(p.TopicID, p.Partition, 0, limit+len(all[3])-1)
	if err != nil || len(three) != 3 {
		t.Fatalf("maxBytes just under 4 batches: %d batches, %v", len(three), err)
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	parts := testParts(t)
	file, _ := writeSegment(t, parts, Options{MaxRowGroupRows: 30})
	rd, err := Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		type rec struct{ off, ts int64 }
		var recs []rec
		for bi, h := range p.headers {
			for i := range p.records[bi] {
				r := &p.records[bi][i]
				recs = append(recs, rec{h.BaseOffset + int64(r.OffsetDelta), h.Timestamp(r)})
			}
		}
		probe := []int64{0, recs[0].ts, recs[len(recs)-1].ts, 1 << 62}
		for _, r := range recs {
			probe = append(probe, r.ts, r.ts+1)
		}
		for _, ts := range probe {
			wantOK, want := false, int64(0)
			for _, r := range recs {
				if r.ts >= ts {
					wantOK, want = true, r.off
					break
				}
			}
			got, ok, err := offsetForTimestamp(rd, p.TopicID, p.Partition, ts)
			if err != nil || ok != wantOK || got != want {
				t.Fatalf("%x/%d ts %d: got %d %v %v, want %d %v", p.TopicID, p.Partition, ts, got, ok, err, want, wantOK)
			}
		}
	}
}

type countingReaderAt struct {
	r     io.ReaderAt
	calls atomic.Int64
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

func TestRowGroupSkipping(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	p := makePartition(t, rng, topic(1), 0, 0, 400)
	file, foot := writeSegment(t, []inputPartition{p}, Options{MaxRowGroupRows: 100})
	if n := len(foot.Partitions[0].RowGroups); n < 20 {
		t.Fatalf("only %d row groups", n)
	}
	cr := &countingReaderAt{r: bytes.NewReader(file)}
	rd, err := Open(cr, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	openBytes := cr.bytes.Load()
	cr.calls.Store(0)
	cr.bytes.Store(0)
	last := len(p.headers) - 2
	got, err := rd.ReadBatches(p.TopicID, p.Partition, p.headers[last].BaseOffset, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkBatches(t, p, last, got)
	read := cr.bytes.Load()
	t.Logf("file %d bytes, %d row groups; open read %d bytes; late read %d bytes in %d calls",
		len(file), len(foot.Partitions[0].RowGroups), openBytes, read, cr.calls.Load())
	if read > int64(len(file))/5 {
		t.Fatalf("reading the last batches read %d of %d bytes", read, len(file))
	}
	// Reading everything touches much more.
	cr.bytes.Store(0)
	if _, err := rd.ReadBatches(p.TopicID, p.Partition, 0, 0); err != nil {
		t.Fatal(err)
	}
	if all := cr.bytes.Load(); all < 5*read {
		t.Fatalf("full read %d bytes, late read %d: skipping does not seem to happen", all, read)
	}
	// Timestamp lookups skip too.
	cr.bytes.Store(0)
	h := p.headers[last]
	if _, ok, err := offsetForTimestamp(rd, p.TopicID, p.Partition, h.MaxTimestamp); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if read := cr.bytes.Load(); read > int64(len(file))/5 {
		t.Fatalf("late timestamp lookup read %d of %d bytes", read, len(file))
	}
}

func TestConcurrentReads(t *testing.T) {
	parts := testParts(t)
	file, _ := writeSegment(t, parts, Options{MaxRowGroupRows: 40})
	rd, err := Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, len(parts)*2)
	for _, p := range parts {
		for k := 0; k < 2; k++ {
			go func() {
				got, err := rd.ReadBatches(p.TopicID, p.Partition, 0, 0)
				if err == nil && len(got) != len(p.Batches) {
					err = fmt.Errorf("%d batches, want %d", len(got), len(p.Batches))
				}
				done <- err
			}()
		}
	}
	for range len(parts) * 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenCorrupt(t *testing.T) {
	parts := testParts(t)
	file, _ := writeSegment(t, parts, Options{MaxRowGroupRows: 50})
	try := func(name string, b []byte) {
		rd, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: error %v does not wrap ErrCorrupt", name, err)
			}
			return
		}
		// Opened (the footer survived): reading must error or succeed, not panic.
		for _, p := range parts {
			rd.ReadBatches(p.TopicID, p.Partition, 0, 0)
			offsetForTimestamp(rd, p.TopicID, p.Partition, 0)
		}
	}
	try("empty", nil)
	try("garbage", []byte("not a parquet file at all, no sir"))
	for _, n := range []int{4, 8, 12, len(file) / 2, len(file) - 9, len(file) - 8, len(file) - 1} {
		try(fmt.Sprintf("truncated to %d", n), file[:n])
	}
	// Plain Parquet with another schema.
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), file...)
		for j := 0; j < 1+rng.Intn(4); j++ {
			pos := rng.Intn(len(b))
			if i%2 == 0 { // aim at the footer
				pos = len(b) - 1 - rng.Intn(min(len(b), 2000))
			}
			b[pos] ^= byte(1 + rng.Intn(255))
		}
		try(fmt.Sprintf("flipped %d", i), b)
	}
	// A wrong size.
	if _, err := Open(bytes.NewReader(file), int64(len(file))+100); err == nil {
		t.Error("oversized Open succeeded")
	}
}

func TestWriteRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	p := makePartition(t, rng, topic(1), 0, 0, 3)
	cases := map[string][]PartitionData{
		"duplicate":    {p.PartitionData, p.PartitionData},
		"no batches":   {{TopicID: topic(1)}},
		"out of order": {{TopicID: topic(1), Batches: [][]byte{p.Batches[1], p.Batches[0]}}},
		"garbage":      {{TopicID: topic(1), Batches: [][]byte{[]byte("xx")}}},
		"trailing":     {{TopicID: topic(1), Batches: [][]byte{append(append([]byte{}, p.Batches[0]...), 1)}}},
	}
	for name, in := range cases {
		if _, err := Write(io.Discard, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	rng := rand.New(rand.NewSource(5))
	words := []string{"order", "user", "id", "amount", "currency", "EUR", "status", "shipped", "pending", "sku", "warehouse", "region"}
	var parts []PartitionData
	produced := 0
	for part := int32(0); part < 6; part++ {
		p := PartitionData{TopicID: topic(byte(part / 3)), Partition: part}
		off := int64(0)
		for bi := 0; bi < 40; bi++ {
			recs := make([]kmsg.Record, 25)
			for i := range recs {
				// 1 KiB JSON-ish values: realistic, partly compressible.
				var v []byte
				for len(v) < 1024 {
					v = fmt.Appendf(v, `{"%s":%d,"%s":"%x"},`, words[rng.Intn(len(words))], rng.Intn(100000), words[rng.Intn(len(words))], rng.Uint32())
				}
				recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: fmt.Appendf(nil, "key-%d", rng.Intn(1000)), Value: v[:1024]}
			}
			bb, err := batch.Build(batch.Header{BaseOffset: off, FirstTimestamp: 1_700_000_000_000 + off, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
			if err != nil {
				b.Fatal(err)
			}
			p.Batches = append(p.Batches, bb)
			produced += len(bb)
			off += int64(len(recs))
		}
		parts = append(parts, p)
	}
	b.SetBytes(int64(produced))
	b.ReportAllocs()
	b.ResetTimer()
	var stored int64
	for i := 0; i < b.N; i++ {
		var cw countingWriter
		cw.w = io.Discard
		foot, err := Write(&cw, parts)
		if err != nil {
			b.Fatal(err)
		}
		stored = foot.Size
	}
	b.ReportMetric(float64(stored)/float64(produced), "stored/produced")
}

// offsetForTimestamp is ListOffsets by timestamp on one segment: the first
// offset whose timestamp is at or above ts, through ScanRecords.
func offsetForTimestamp(rd *Reader, topicID [16]byte, partition int32, ts int64) (int64, bool, error) {
	var off int64
	found := false
	err := rd.ScanRecords(topicID, partition, math.MinInt64, ts, func(o, t int64) bool {
		if t >= ts {
			off, found = o, true
		}
		return !found
	})
	return off, found, err
}
