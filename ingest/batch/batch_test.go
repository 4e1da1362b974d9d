package batch

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// build returns a v2 batch of the given values compressed with codec
// (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), record i at firstTS+10i.
func build(t testing.TB, codec int16, firstTS int64, values ...string) []byte {
	t.Helper()
	recs := make([]kmsg.Record, len(values))
	for i, v := range values {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i * 10), Key: []byte{byte(i)}, Value: []byte(v),
			Headers: []kmsg.Header{{Key: "h", Value: []byte(v)}}}
	}
	raw, err := Build(Header{Attributes: codec, FirstTimestamp: firstTS, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseAndRecordsEveryCodec(t *testing.T) {
	for name, codec := range map[string]int16{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		t.Run(name, func(t *testing.T) {
			raw := build(t, codec, 1000, "a", "bb", "ccc")
			h, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if h.RecordCount != 3 || h.LastOffsetDelta != 2 || h.Size() != len(raw) || h.Codec() != int8(codec) || h.MaxTimestamp != 1020 {
				t.Fatalf("header %+v", h)
			}
			SetBaseOffset(raw, 40)
			SetLeaderEpoch(raw, 7)
			if _, err := Parse(raw); err != nil {
				t.Fatalf("rewriting fields outside the CRC broke it: %v", err)
			}
			h, recs, err := Records(raw, 1<<20)
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
	raw := build(t, 0, 1000, "x", "y")
	SetLogAppendTime(raw, 5555)
	h, err := Parse(raw)
	if err != nil {
		t.Fatalf("CRC not recomputed: %v", err)
	}
	_, recs, err := Records(raw, 1<<20)
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
	good := build(t, 0, 1, "v")
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
	f.Add(build(f, 0, 1, "a", "b"))
	f.Add(build(f, 4, 1, "a", "b"))
	f.Add(build(f, 1, 1, "a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := Records(b, 1<<20)
		if err == nil && len(recs) != int(h.RecordCount) {
			t.Fatalf("%d records, header says %d", len(recs), h.RecordCount)
		}
		if _, err := Parse(b); err != nil {
			return
		}
	})
}

// TestDecompressBounds checks that every codec refuses to decompress past
// the limit (compression bombs) and decodes within it.
func TestDecompressBounds(t *testing.T) {
	zeros := make([]kmsg.Record, 1)
	zeros[0] = kmsg.Record{Value: make([]byte, 4<<20)}
	for name, codec := range map[string]int16{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		raw, err := Build(Header{Attributes: codec, ProducerID: -1, BaseSequence: -1, ProducerEpoch: -1}, zeros)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > 1<<20 {
			t.Fatalf("%s: 4 MiB of zeros compressed to %d bytes", name, len(raw))
		}
		if _, _, err := Records(raw, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
		if _, recs, err := Records(raw, 8<<20); err != nil || len(recs[0].Value) != 4<<20 {
			t.Errorf("%s within the limit: %v", name, err)
		}
	}
}

// TestXerialSnappy decodes snappy in the xerial framing Java clients send.
func TestXerialSnappy(t *testing.T) {
	parts := [][]byte{[]byte("hello, "), []byte("xerial world")}
	src := append([]byte(nil), xerialMagic...)
	src = binary.BigEndian.AppendUint32(src, 1)
	src = binary.BigEndian.AppendUint32(src, 1)
	for _, p := range parts {
		block := s2.EncodeSnappy(nil, p)
		src = binary.BigEndian.AppendUint32(src, uint32(len(block)))
		src = append(src, block...)
	}
	out, err := Decompress(src, 2, 1<<10)
	if err != nil || string(out) != "hello, xerial world" {
		t.Fatalf("xerial: %q %v", out, err)
	}
	if _, err := Decompress(src, 2, 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("xerial past the limit: %v", err)
	}
	if _, err := Decompress(src[:len(src)-3], 2, 1<<10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated xerial: %v", err)
	}
}

// TestBuildLastOffsetDelta checks that Build keeps a header's last offset
// delta past the records' (as compaction needs) and otherwise computes it.
func TestBuildLastOffsetDelta(t *testing.T) {
	recs := []kmsg.Record{{OffsetDelta: 0, Value: []byte("a")}, {OffsetDelta: 2, Value: []byte("c")}}
	for _, tc := range []struct{ in, want int32 }{{0, 2}, {1, 2}, {-1, 2}, {2, 2}, {7, 7}} {
		raw, err := Build(Header{LastOffsetDelta: tc.in, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
		if err != nil {
			t.Fatal(err)
		}
		h, got, err := Records(raw, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if h.LastOffsetDelta != tc.want || h.RecordCount != 2 || len(got) != 2 || got[1].OffsetDelta != 2 {
			t.Errorf("header last offset delta %d: got %d (want %d), %d records", tc.in, h.LastOffsetDelta, tc.want, h.RecordCount)
		}
	}
}
