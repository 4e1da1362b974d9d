package compact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

// rec is a record at offset delta d with timestamp delta d*10. A nil key or
// value is null on the wire.
func rec(d int32, key, value []byte) kmsg.Record {
	return kmsg.Record{OffsetDelta: d, TimestampDelta64: int64(d) * 10, Key: key, Value: value}
}

// build encodes records as a batch at base with the given attributes,
// first timestamp 1000 and producer 7, epoch 2, base sequence 100.
func build(t testing.TB, base int64, attrs int16, recs ...kmsg.Record) []byte {
	t.Helper()
	b, err := batch.Build(batch.Header{BaseOffset: base, PartitionLeaderEpoch: 4, Attributes: attrs, FirstTimestamp: 1000,
		ProducerID: 7, ProducerEpoch: 2, BaseSequence: 100}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// offsetMap returns a map of the batches.
func offsetMap(t testing.TB, batches ...[]byte) *OffsetMap {
	t.Helper()
	m := NewOffsetMap(0)
	for _, b := range batches {
		if err := m.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// decode returns the header and records of b.
func decode(t testing.TB, b []byte) (batch.Header, []kmsg.Record) {
	t.Helper()
	h, recs, err := batch.Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return h, recs
}

// offsets returns the offsets of b's records.
func offsets(t testing.TB, b []byte) []int64 {
	t.Helper()
	h, recs := decode(t, b)
	var out []int64
	for _, r := range recs {
		out = append(out, h.BaseOffset+int64(r.OffsetDelta))
	}
	return out
}

func k(s string) []byte { return []byte(s) }

func TestLatestPerKey(t *testing.T) {
	b0 := build(t, 0, 0, rec(0, k("a"), k("a1")), rec(1, k("b"), k("b1")), rec(2, k("c"), k("c1")))
	b1 := build(t, 3, 0, rec(0, k("a"), k("a2")), rec(1, k("b"), k("b2")))
	b2 := build(t, 5, 0, rec(0, k("a"), k("a3")), rec(1, k("d"), k("d1")))
	// The order batches are added in does not matter.
	for _, m := range []*OffsetMap{offsetMap(t, b0, b1, b2), offsetMap(t, b2, b1, b0)} {
		if m.Len() != 4 {
			t.Fatalf("Len %d, want 4", m.Len())
		}
		for key, want := range map[string]int64{"a": 5, "b": 4, "c": 2, "d": 6} {
			if got, ok := m.Latest(k(key)); !ok || got != want {
				t.Errorf("Latest(%q) = %d, %v; want %d", key, got, ok, want)
			}
		}
		if _, ok := m.Latest(k("z")); ok {
			t.Error("Latest of a key never added")
		}
	}
	m := offsetMap(t, b2, b0, b1)

	for i, tc := range []struct {
		in     []byte
		want   []int64
		values []string
	}{
		{b0, []int64{2}, []string{"c1"}},
		{b1, []int64{4}, []string{"b2"}},
		{b2, []int64{5, 6}, []string{"a3", "d1"}},
	} {
		out, kept, err := Filter(tc.in, m, FilterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kept != len(tc.want) || !equal(offsets(t, out), tc.want) {
			t.Fatalf("batch %d: kept %d at %v, want %v", i, kept, offsets(t, out), tc.want)
		}
		_, recs := decode(t, out)
		for j, r := range recs {
			if string(r.Value) != tc.values[j] {
				t.Errorf("batch %d record %d: value %q, want %q", i, j, r.Value, tc.values[j])
			}
		}
	}
	if out, _, _ := Filter(b2, m, FilterOptions{}); &out[0] != &b2[0] {
		t.Error("a batch that loses nothing was rebuilt, not returned as is")
	}
}

func TestNilKeysKept(t *testing.T) {
	b := build(t, 0, 0,
		rec(0, nil, k("x")), rec(1, k("a"), k("1")), rec(2, nil, nil), rec(3, k("a"), k("2")), rec(4, nil, k("y")))
	m := offsetMap(t, b)
	if m.Len() != 1 {
		t.Fatalf("Len %d: null keys were indexed", m.Len())
	}
	out, kept, err := Filter(b, m, FilterOptions{TombstoneCutoff: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 2, 3, 4}; kept != 4 || !equal(offsets(t, out), want) {
		t.Fatalf("kept %d at %v, want %v", kept, offsets(t, out), want)
	}
	if _, recs := decode(t, out); recs[1].Key != nil || recs[1].Value != nil {
		t.Errorf("null key and value came back as %q, %q", recs[1].Key, recs[1].Value)
	}
}

func TestTombstoneCutoff(t *testing.T) {
	// The tombstone for a is at offset 12, timestamp 1020.
	b := build(t, 10, 0, rec(0, k("a"), k("1")), rec(1, k("b"), k("1")), rec(2, k("a"), nil))
	m := offsetMap(t, b)
	for _, tc := range []struct {
		cutoff int64
		want   []int64
	}{
		{math.MinInt64, []int64{11, 12}},
		{1019, []int64{11, 12}},
		{1020, []int64{11, 12}}, // at the cutoff: still retained
		{1021, []int64{11}},     // older than delete.retention.ms
		{math.MaxInt64, []int64{11}},
	} {
		out, kept, err := Filter(b, m, FilterOptions{TombstoneCutoff: tc.cutoff})
		if err != nil {
			t.Fatal(err)
		}
		if kept != len(tc.want) || !equal(offsets(t, out), tc.want) {
			t.Errorf("cutoff %d: kept %d at %v, want %v", tc.cutoff, kept, offsets(t, out), tc.want)
		}
	}

	// In a LogAppendTime batch every record's timestamp is the append time.
	lat := build(t, 10, 0, rec(0, k("a"), nil))
	batch.SetLogAppendTime(lat, 5000)
	m = offsetMap(t, lat)
	for cutoff, want := range map[int64]int{5000: 1, 5001: 0} {
		if _, kept, err := Filter(lat, m, FilterOptions{TombstoneCutoff: cutoff}); err != nil || kept != want {
			t.Errorf("LogAppendTime tombstone, cutoff %d: kept %d (%v), want %d", cutoff, kept, err, want)
		}
	}
}

func TestAllRemoved(t *testing.T) {
	b0 := build(t, 0, 0, rec(0, k("a"), k("1")), rec(1, k("b"), nil))
	b1 := build(t, 2, 0, rec(0, k("a"), k("2")), rec(1, k("b"), k("2")))
	out, kept, err := Filter(b0, offsetMap(t, b0, b1), FilterOptions{TombstoneCutoff: math.MinInt64})
	if out != nil || kept != 0 || err != nil {
		t.Fatalf("got %d bytes, %d kept, %v; want nil, 0, nil", len(out), kept, err)
	}
}

// TestHeaderKept removes the last and a middle record and checks that the
// rebuilt batch keeps the offsets of the others, the original last offset
// delta, and every other header field.
func TestHeaderKept(t *testing.T) {
	b0 := build(t, 10, 0, rec(0, k("a"), k("1")), rec(1, k("b"), k("1")), rec(2, k("c"), k("1")), rec(3, k("d"), k("1")))
	b1 := build(t, 14, 0, rec(0, k("b"), k("2")), rec(1, k("d"), k("2")))
	out, kept, err := Filter(b0, offsetMap(t, b0, b1), FilterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{10, 12}; kept != 2 || !equal(offsets(t, out), want) {
		t.Fatalf("kept %d at %v, want %v", kept, offsets(t, out), want)
	}
	in, _ := batch.Parse(b0)
	h, recs := decode(t, out)
	want := in
	want.BatchLength, want.CRC, want.RecordCount, want.MaxTimestamp = h.BatchLength, h.CRC, 2, 1020
	if h != want {
		t.Fatalf("header\n%+v, want\n%+v", h, want)
	}
	if h.LastOffset() != 13 || h.LastSequence() != 103 {
		t.Errorf("last offset %d, last sequence %d; want 13, 103", h.LastOffset(), h.LastSequence())
	}
	if h.Timestamp(&recs[1]) != 1020 {
		t.Errorf("record at 12 has timestamp %d, want 1020", h.Timestamp(&recs[1]))
	}
}

// TestMaxTimestamp checks that a CreateTime batch's max timestamp is that
// of the records left (as in Kafka) and a LogAppendTime batch's is kept.
func TestMaxTimestamp(t *testing.T) {
	later := build(t, 10, 0, rec(0, k("b"), k("2")))
	for name, tc := range map[string]struct {
		logAppendTime bool
		want          int64
	}{"CreateTime": {false, 1010}, "LogAppendTime": {true, 9000}} {
		b := build(t, 0, 0, rec(0, k("a"), k("1")), rec(1, k("a"), k("2")), rec(5, k("b"), k("1")))
		if tc.logAppendTime {
			batch.SetLogAppendTime(b, 9000)
		}
		out, _, err := Filter(b, offsetMap(t, b, later), FilterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h, recs := decode(t, out)
		if h.MaxTimestamp != tc.want || len(recs) != 1 || (h.Attributes&batch.TimestampTypeBit != 0) != tc.logAppendTime {
			t.Errorf("%s: max timestamp %d, want %d; %d records; attributes %#x", name, h.MaxTimestamp, tc.want, len(recs), h.Attributes)
		}
	}
}

func TestRecordHeadersKept(t *testing.T) {
	hdrs := []kmsg.Header{{Key: "trace", Value: k("abc")}, {Key: "nil", Value: nil}, {Key: "", Value: []byte{}}, {Key: "trace", Value: k("dup")}}
	r0, r1 := rec(0, k("a"), k("1")), rec(1, k("b"), k("1"))
	r0.Headers, r1.Headers = hdrs, hdrs[:1]
	b0 := build(t, 0, 0, r0, r1)
	b1 := build(t, 2, 0, rec(0, k("b"), k("2")))
	out, _, err := Filter(b0, offsetMap(t, b0, b1), FilterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, recs := decode(t, out)
	if len(recs) != 1 || len(recs[0].Headers) != len(hdrs) {
		t.Fatalf("%d records, headers %+v", len(recs), recs[0].Headers)
	}
	for i, h := range recs[0].Headers {
		if h.Key != hdrs[i].Key || !bytes.Equal(h.Value, hdrs[i].Value) || (h.Value == nil) != (hdrs[i].Value == nil) {
			t.Errorf("header %d: %q=%q, want %q=%q", i, h.Key, h.Value, hdrs[i].Key, hdrs[i].Value)
		}
	}
}

func TestCompressedInput(t *testing.T) {
	for name, codec := range map[string]int16{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		t.Run(name, func(t *testing.T) {
			b0 := build(t, 0, codec, rec(0, k("a"), k("1")), rec(1, k("b"), k("1")), rec(2, nil, k("n")))
			b1 := build(t, 3, codec, rec(0, k("a"), k("2")))
			if h, _ := batch.Parse(b0); h.Codec() != int8(codec) {
				t.Fatalf("input codec %d", h.Codec())
			}
			out, kept, err := Filter(b0, offsetMap(t, b0, b1), FilterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h, recs := decode(t, out)
			if kept != 2 || h.Codec() != 0 || string(recs[0].Value) != "1" || recs[1].Key != nil || string(recs[1].Value) != "n" {
				t.Fatalf("kept %d, codec %d, records %+v", kept, h.Codec(), recs)
			}
			if !equal(offsets(t, out), []int64{1, 2}) {
				t.Fatalf("offsets %v", offsets(t, out))
			}
		})
	}
}

// TestPassThrough checks that control and transactional batches are
// returned unchanged and do not shadow other records' keys.
func TestPassThrough(t *testing.T) {
	for name, attrs := range map[string]int16{"transactional": batch.TransactionalBit, "control": batch.TransactionalBit | batch.ControlBit} {
		old := build(t, 0, 0, rec(0, k("a"), k("1")))
		b := build(t, 1, attrs, rec(0, k("a"), nil))
		m := offsetMap(t, old, b)
		if m.Len() != 1 {
			t.Fatalf("%s: %d keys", name, m.Len())
		}
		if out, kept, err := Filter(b, m, FilterOptions{TombstoneCutoff: math.MaxInt64}); err != nil || kept != 1 || &out[0] != &b[0] {
			t.Errorf("%s: kept %d (%v), not returned as is", name, kept, err)
		}
		if _, kept, err := Filter(old, m, FilterOptions{}); err != nil || kept != 1 {
			t.Errorf("%s: record superseded by a %s one: kept %d (%v)", name, name, kept, err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	good := build(t, 0, 0, rec(0, k("a"), k("1")), rec(1, k("b"), k("1")))
	fixCRC := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		return b
	}
	backwards, err := batch.Build(batch.Header{}, []kmsg.Record{rec(1, k("a"), k("1")), rec(0, k("b"), k("1"))})
	if err != nil {
		t.Fatal(err)
	}
	bomb, err := batch.Build(batch.Header{Attributes: 4}, []kmsg.Record{rec(0, k("a"), make([]byte, 2<<20))})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":     {nil, batch.ErrCorrupt},
		"short":     {good[:40], batch.ErrCorrupt},
		"truncated": {good[:len(good)-1], batch.ErrCorrupt},
		"trailing":  {append(append([]byte(nil), good...), 0), batch.ErrCorrupt},
		"bad crc":   {func() []byte { b := append([]byte(nil), good...); b[len(b)-1] ^= 1; return b }(), batch.ErrCorrupt},
		"magic 1":   {func() []byte { b := append([]byte(nil), good...); b[16] = 1; return b }(), batch.ErrUnsupportedMagic},
		"count too high": {func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[57:], 3)
			return fixCRC(b)
		}(), batch.ErrCorrupt},
		"delta past last": {func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[23:], 0)
			return fixCRC(b)
		}(), batch.ErrCorrupt},
		"negative base": {func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint64(b[0:], math.MaxUint64)
			return b // outside the CRC
		}(), batch.ErrCorrupt},
		"deltas backwards": {backwards, batch.ErrCorrupt},
		"compression bomb": {bomb, batch.ErrTooLarge},
	} {
		m := NewOffsetMap(1 << 20)
		if err := m.Add(good); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: Add: %v, want %v", name, err, tc.want)
		}
		if m.Len() != 2 {
			t.Errorf("%s: a failed Add changed the map", name)
		}
		if out, kept, err := Filter(tc.b, m, FilterOptions{MaxDecompressed: 1 << 20}); !errors.Is(err, tc.want) || out != nil || kept != 0 {
			t.Errorf("%s: Filter: %d bytes, %d kept, %v; want %v", name, len(out), kept, err, tc.want)
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzFilter filters arbitrary input, as given and with its batch length
// and CRC made consistent (so the fuzzer gets past them), against a map of
// fixed batches and the input. Invariants: no panic; on success the output
// is nil with nothing kept, or a valid batch with the input's base offset,
// last offset delta, producer fields and leader epoch whose records are
// input records; and filtering the output again returns it unchanged.
func FuzzFilter(f *testing.F) {
	fixed := [][]byte{
		build(f, 0, 0, rec(0, k("a"), k("1")), rec(1, k("b"), nil)),
		build(f, 2, 4, rec(0, k("a"), nil), rec(3, nil, k("x"))),
	}
	for _, b := range fixed {
		f.Add(b, int64(0))
	}
	f.Add(build(f, 10, 1, rec(0, k("b"), k("2")), rec(1, k("c"), nil)), int64(1015))
	f.Add(build(f, 20, batch.TransactionalBit, rec(0, k("a"), k("3"))), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, b []byte, cutoff int64) {
		check(t, b, cutoff, fixed)
		if len(b) >= batch.HeaderSize {
			c := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(c[8:], uint32(len(c)-12))
			binary.BigEndian.PutUint32(c[17:], crc32.Checksum(c[21:], castagnoli))
			check(t, c, cutoff, fixed)
		}
	})
}

func check(t *testing.T, b []byte, cutoff int64, fixed [][]byte) {
	m := NewOffsetMap(1 << 20)
	for _, fb := range fixed {
		if err := m.Add(fb); err != nil {
			t.Fatal(err)
		}
	}
	addErr := m.Add(b)
	opts := FilterOptions{TombstoneCutoff: cutoff, MaxDecompressed: 1 << 20}
	out, kept, err := Filter(b, m, opts)
	if err != nil {
		if addErr == nil {
			t.Fatalf("Add accepted what Filter refused: %v", err)
		}
		return
	}
	if out == nil {
		if kept != 0 {
			t.Fatalf("nil output with %d kept", kept)
		}
		return
	}
	in, _ := batch.ReadHeader(b)
	h, err := batch.ReadHeader(out)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != in.BaseOffset || h.LastOffsetDelta != in.LastOffsetDelta || h.ProducerID != in.ProducerID ||
		h.ProducerEpoch != in.ProducerEpoch || h.BaseSequence != in.BaseSequence || h.PartitionLeaderEpoch != in.PartitionLeaderEpoch ||
		h.FirstTimestamp != in.FirstTimestamp || int(h.RecordCount) != kept {
		t.Fatalf("header %+v from %+v, %d kept", h, in, kept)
	}
	if !passThrough(&in) {
		_, inRecs, err := batch.Records(b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		_, outRecs, err := batch.Records(out, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		byDelta := map[int32]kmsg.Record{}
		for _, r := range inRecs {
			byDelta[r.OffsetDelta] = r
		}
		for _, r := range outRecs {
			o, ok := byDelta[r.OffsetDelta]
			if !ok || !bytes.Equal(o.Key, r.Key) || !bytes.Equal(o.Value, r.Value) || (o.Value == nil) != (r.Value == nil) ||
				o.TimestampDelta64 != r.TimestampDelta64 || len(o.Headers) != len(r.Headers) {
				t.Fatalf("output record %+v is not input record %+v", r, o)
			}
		}
	}
	again, kept2, err := Filter(out, m, opts)
	if err != nil || kept2 != kept || !bytes.Equal(again, out) {
		t.Fatalf("filtering the output again: %d kept (was %d), %v", kept2, kept, err)
	}
}
