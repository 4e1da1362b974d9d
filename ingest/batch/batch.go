// Package batch reads and rewrites Kafka record batches (magic v2), the unit
// in which Strata receives, stores and serves records.
//
// A batch is stored exactly as a producer sent it except for the fields the
// broker owns: the base offset and partition leader epoch (outside the CRC),
// and, for topics with message.timestamp.type=LogAppendTime, the timestamp
// type bit and max timestamp (inside the CRC, which is then recomputed).
//
// Header layout (big endian), from the Kafka protocol:
//
//	offset  size  field
//	0       8     baseOffset
//	8       4     batchLength (bytes after this field)
//	12      4     partitionLeaderEpoch
//	16      1     magic (2)
//	17      4     crc (CRC-32C of bytes 21..end)
//	21      2     attributes (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
//	23      4     lastOffsetDelta
//	27      8     firstTimestamp
//	35      8     maxTimestamp
//	43      8     producerId
//	51      2     producerEpoch
//	53      4     baseSequence
//	57      4     recordCount
//	61      -     records
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a v2 record batch header.
const HeaderSize = 61

// Attribute bits.
const (
	CodecMask         = 0x07
	TimestampTypeBit  = 0x08
	TransactionalBit  = 0x10
	ControlBit        = 0x20
	LogAppendTimeType = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by Parse. The broker maps them to Kafka error codes.
var (
	ErrCorrupt          = errors.New("corrupt record batch")
	ErrUnsupportedMagic = errors.New("unsupported record batch magic")
	ErrUnsupportedCodec = errors.New("unsupported compression codec")
)

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Codec returns the compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (h *Header) Codec() int8 { return int8(h.Attributes & CodecMask) }

// Transactional reports whether the batch belongs to a transaction.
func (h *Header) Transactional() bool { return h.Attributes&TransactionalBit != 0 }

// Control reports whether the batch is a control batch.
func (h *Header) Control() bool { return h.Attributes&ControlBit != 0 }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// LastSequence is the sequence number of the batch's last record.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return h.BaseSequence
	}
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// Size is the total encoded size of the batch.
func (h *Header) Size() int { return int(h.BatchLength) + 12 }

// ReadHeader decodes the header at the start of b without verifying the CRC.
func ReadHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
	}
	h := Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[0:])),
		BatchLength:          int32(binary.BigEndian.Uint32(b[8:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[12:])),
		Magic:                int8(b[16]),
		CRC:                  binary.BigEndian.Uint32(b[17:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[21:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[23:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[27:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[35:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[43:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[51:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[53:])),
		RecordCount:          int32(binary.BigEndian.Uint32(b[57:])),
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d (only v2 batches are accepted)", ErrUnsupportedMagic, h.Magic)
	}
	if h.BatchLength < HeaderSize-12 {
		return h, fmt.Errorf("%w: batch length %d is shorter than a header", ErrCorrupt, h.BatchLength)
	}
	return h, nil
}

// Parse decodes and validates a produced batch: b must hold exactly one
// complete v2 batch with a correct CRC, a known codec, and a record count
// that matches its offset delta.
func Parse(b []byte) (Header, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() != len(b) {
		return h, fmt.Errorf("%w: batch length %d does not match the %d bytes sent (exactly one batch per partition is accepted)", ErrCorrupt, h.Size(), len(b))
	}
	if got := crc32.Checksum(b[21:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, h.CRC, got)
	}
	if h.Codec() > 4 {
		return h, fmt.Errorf("%w: %d", ErrUnsupportedCodec, h.Codec())
	}
	if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
		return h, fmt.Errorf("%w: %d records but last offset delta %d", ErrCorrupt, h.RecordCount, h.LastOffsetDelta)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset (outside the CRC).
func SetBaseOffset(b []byte, offset int64) { binary.BigEndian.PutUint64(b[0:], uint64(offset)) }

// SetLeaderEpoch rewrites the partition leader epoch (outside the CRC).
func SetLeaderEpoch(b []byte, epoch int32) { binary.BigEndian.PutUint32(b[12:], uint32(epoch)) }

// SetLogAppendTime marks the batch's timestamps as broker time ts and
// recomputes the CRC.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[21:]) | TimestampTypeBit
	binary.BigEndian.PutUint16(b[21:], attrs)
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
}
