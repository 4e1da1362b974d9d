package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Records decodes every record of the batch b, decompressing it if needed
// to at most maxDecompressed bytes. The records alias b or the
// decompressed buffer.
func Records(b []byte, maxDecompressed int) (Header, []kmsg.Record, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.Size() > len(b) {
		return h, nil, fmt.Errorf("%w: batch of %d bytes truncated to %d", ErrCorrupt, h.Size(), len(b))
	}
	raw := b[HeaderSize:h.Size()]
	if c := h.Codec(); c != 0 {
		raw, err = Decompress(raw, c, maxDecompressed)
		if err != nil {
			return h, nil, err
		}
	}
	if h.RecordCount < 0 || int(h.RecordCount) > len(raw) {
		return h, nil, fmt.Errorf("%w: record count %d", ErrCorrupt, h.RecordCount)
	}
	recs := make([]kmsg.Record, 0, h.RecordCount)
	for len(raw) > 0 {
		l, n := binary.Varint(raw)
		if n <= 0 || l < 0 || int64(len(raw)-n) < l {
			return h, nil, fmt.Errorf("%w: record %d: bad length", ErrCorrupt, len(recs))
		}
		var r kmsg.Record
		if err := r.UnsafeReadFrom(raw[:n+int(l)]); err != nil {
			return h, nil, fmt.Errorf("%w: record %d: %v", ErrCorrupt, len(recs), err)
		}
		recs = append(recs, r)
		raw = raw[n+int(l):]
	}
	if len(recs) != int(h.RecordCount) {
		return h, nil, fmt.Errorf("%w: header says %d records, found %d", ErrCorrupt, h.RecordCount, len(recs))
	}
	return h, recs, nil
}

// Timestamp is the timestamp of record r in a batch with header h, honouring
// LogAppendTime batches (where every record takes the max timestamp).
func (h *Header) Timestamp(r *kmsg.Record) int64 {
	if h.Attributes&TimestampTypeBit != 0 {
		return h.MaxTimestamp
	}
	return h.FirstTimestamp + r.TimestampDelta64
}

// Build encodes records as one v2 batch. From h it takes the base offset,
// partition leader epoch, attributes (codec and timestamp type), first
// timestamp and producer fields; the records' offset and timestamp deltas
// are relative to h.BaseOffset and h.FirstTimestamp. Build computes the
// record lengths, record count, max timestamp (unless the batch uses
// LogAppendTime, which keeps h.MaxTimestamp), batch length and CRC, and
// compresses the records with h's codec.
//
// The last offset delta is the larger of h.LastOffsetDelta and the records'
// largest offset delta. A caller that leaves it zero gets the computed one;
// compaction passes the original batch's, which Kafka keeps when it removes
// the last records so that the batch's last sequence number, and with it
// the producer's idempotence state, does not change.
func Build(h Header, records []kmsg.Record) ([]byte, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: a batch needs at least one record", ErrCorrupt)
	}
	size := 0
	for i := range records {
		size += 24 + len(records[i].Key) + len(records[i].Value)
		for _, hd := range records[i].Headers {
			size += 10 + len(hd.Key) + len(hd.Value)
		}
	}
	raw := make([]byte, 0, size)
	var body []byte
	maxTS, lastDelta := h.FirstTimestamp, max(h.LastOffsetDelta, 0)
	for i := range records {
		r := records[i]
		// Encode with a zero length (one varint byte), then write the real
		// length in front of the rest: one encoding pass per record.
		r.Length = 0
		body = r.AppendTo(body[:0])
		raw = binary.AppendVarint(raw, int64(len(body)-1))
		raw = append(raw, body[1:]...)
		maxTS = max(maxTS, h.FirstTimestamp+r.TimestampDelta64)
		lastDelta = max(lastDelta, r.OffsetDelta)
	}
	if c := h.Codec(); c != 0 {
		codec, ok := codecs[c]
		if !ok {
			return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, c)
		}
		comp, err := kgo.DefaultCompressor(codec)
		if err != nil {
			return nil, fmt.Errorf("compressor for codec %d: %w", c, err)
		}
		var buf bytes.Buffer
		out, _ := comp.Compress(&buf, raw)
		raw = append([]byte(nil), out...)
	}
	if h.Attributes&TimestampTypeBit == 0 {
		h.MaxTimestamp = maxTS
	}
	b := make([]byte, HeaderSize, HeaderSize+len(raw))
	binary.BigEndian.PutUint64(b[0:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(HeaderSize-12+len(raw)))
	binary.BigEndian.PutUint32(b[12:], uint32(h.PartitionLeaderEpoch))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(h.Attributes))
	binary.BigEndian.PutUint32(b[23:], uint32(lastDelta))
	binary.BigEndian.PutUint64(b[27:], uint64(h.FirstTimestamp))
	binary.BigEndian.PutUint64(b[35:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[43:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[51:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[53:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[57:], uint32(len(records)))
	b = append(b, raw...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b, nil
}

var codecs = map[int8]kgo.CompressionCodec{
	1: kgo.GzipCompression(), 2: kgo.SnappyCompression(), 3: kgo.Lz4Compression(), 4: kgo.ZstdCompression(),
}
