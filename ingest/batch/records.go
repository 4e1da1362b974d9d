package batch

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var decompressor = kgo.DefaultDecompressor()

// Records decodes every record of the batch b, decompressing it if needed.
// The records alias the decompressed buffer.
func Records(b []byte) (Header, []kmsg.Record, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.Size() > len(b) {
		return h, nil, fmt.Errorf("%w: batch of %d bytes truncated to %d", ErrCorrupt, h.Size(), len(b))
	}
	raw := b[HeaderSize:h.Size()]
	if c := h.Codec(); c != 0 {
		if c > 4 {
			return h, nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, c)
		}
		raw, err = decompressor.Decompress(raw, kgo.CompressionCodecType(c))
		if err != nil {
			return h, nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
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
