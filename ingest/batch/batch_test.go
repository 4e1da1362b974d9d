package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// build returns a v2 batch of the given records compressed with codec.
func build(t testing.TB, codec kgo.CompressionCodec, firstTS int64, values ...string) []byte {
	t.Helper()
	var recs []byte
	for i, v := range values {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = int64(i * 10)
		r.Key = []byte{byte(i)}
		r.Value = []byte(v)
		r.Headers = []kmsg.Header{{Key: "h", Value: []byte(v)}}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	attrs := int16(0)
	if codec != kgo.NoCompression() {
		c, err := kgo.DefaultCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, typ := c.Compress(&buf, recs)
		recs = append([]byte(nil), out...)
		attrs = int16(typ)
	}
	rb := kmsg.RecordBatch{Magic: 2, Attributes: attrs, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		LastOffsetDelta: int32(len(values) - 1), NumRecords: int32(len(values)),
		FirstTimestamp: firstTS, MaxTimestamp: firstTS + int64(10*(len(values)-1)), Records: recs}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
	return raw
}

func TestParseAndRecordsEveryCodec(t *testing.T) {
	for name, codec := range map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	} {
		t.Run(name, func(t *testing.T) {
			raw := build(t, codec, 1000, "a", "bb", "ccc")
			h, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if h.RecordCount != 3 || h.LastOffsetDelta != 2 || h.Size() != len(raw) {
				t.Fatalf("header %+v", h)
			}
			SetBaseOffset(raw, 40)
			SetLeaderEpoch(raw, 7)
			if _, err := Parse(raw); err != nil {
				t.Fatalf("rewriting fields outside the CRC broke it: %v", err)
			}
			h, recs, err := Records(raw)
			if err != nil {
				t.Fatal(err)
			}
			if h.BaseOffset != 40 || h.PartitionLeaderEpoch != 7 || len(recs) != 3 {
				t.Fatalf("header %+v, %d records", h, len(recs))
			}
			for i, want := range []string{"a", "bb", "ccc"} {
				r := &recs[i]
				if string(r.Value) != want || string(r.Headers[0].Value) != want || h.Timestamp(r) != 1000+int64(i*10) {
					t.Fatalf("record %d: %q at %d", i, r.Value, h.Timestamp(r))
				}
			}
		})
	}
}

func TestSetLogAppendTime(t *testing.T) {
	raw := build(t, kgo.NoCompression(), 1000, "x", "y")
	SetLogAppendTime(raw, 5555)
	h, err := Parse(raw)
	if err != nil {
		t.Fatalf("CRC not recomputed: %v", err)
	}
	_, recs, err := Records(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if ts := h.Timestamp(&recs[i]); ts != 5555 {
			t.Fatalf("record %d timestamp %d, want the append time", i, ts)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := build(t, kgo.NoCompression(), 1, "v")
	for name, tc := range map[string]struct {
		mutate func([]byte) []byte
		want   error
	}{
		"short":       {func(b []byte) []byte { return b[:30] }, ErrCorrupt},
		"bad crc":     {func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrCorrupt},
		"trailing":    {func(b []byte) []byte { return append(b, 0) }, ErrCorrupt},
		"two batches": {func(b []byte) []byte { return append(b, b...) }, ErrCorrupt},
		"magic 1":     {func(b []byte) []byte { b[16] = 1; return b }, ErrUnsupportedMagic},
		"codec 7": {func(b []byte) []byte {
			b[22] |= 7
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
			return b
		}, ErrUnsupportedCodec},
		"count mismatch": {func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 5)
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
			return b
		}, ErrCorrupt},
	} {
		raw := tc.mutate(append([]byte(nil), good...))
		if _, err := Parse(raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// FuzzRecords checks that decoding arbitrary batches never panics, and
// that a batch Parse accepts either decodes to exactly RecordCount records
// or reports corruption.
func FuzzRecords(f *testing.F) {
	f.Add(build(f, kgo.NoCompression(), 1, "a", "b"))
	f.Add(build(f, kgo.ZstdCompression(), 1, "a", "b"))
	f.Add(build(f, kgo.GzipCompression(), 1, "a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := Records(b)
		if err == nil && len(recs) != int(h.RecordCount) {
			t.Fatalf("%d records, header says %d", len(recs), h.RecordCount)
		}
		if _, err := Parse(b); err != nil {
			return
		}
	})
}
