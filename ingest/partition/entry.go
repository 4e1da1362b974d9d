package partition

import (
	"encoding/binary"
	"fmt"
)

// WAL entries written by partitions. Every entry starts with a type byte and
// the partition's identity; see docs/format/wal.md.
//
//	batch entry:      0x01 | topic id (16) | partition (int32) | record batch
//	log start entry:  0x02 | topic id (16) | partition (int32) | log start offset (int64)
//	truncate entry:   0x03 | topic id (16) | partition (int32) | new log end offset (int64)
//	fence entry:      0x04 | topic id (16) | partition (int32) | leader epoch (int32)
const (
	entryBatch    = 0x01
	entryLogStart = 0x02
	entryTruncate = 0x03
	entryFence    = 0x04

	entryHeaderSize = 1 + 16 + 4
)

// ID names a partition: the topic's id (stable across renames and never
// reused after a delete) and the partition index.
type ID struct {
	Topic     [16]byte
	Partition int32
}

func (id ID) String() string { return fmt.Sprintf("%x/%d", id.Topic, id.Partition) }

func appendEntryHeader(dst []byte, typ byte, id ID) []byte {
	dst = append(dst, typ)
	dst = append(dst, id.Topic[:]...)
	return binary.BigEndian.AppendUint32(dst, uint32(id.Partition))
}

// decodeEntry splits a WAL entry into its type, partition and body.
func decodeEntry(b []byte) (typ byte, id ID, body []byte, err error) {
	if len(b) < entryHeaderSize {
		return 0, id, nil, fmt.Errorf("partition entry of %d bytes is too short", len(b))
	}
	typ = b[0]
	copy(id.Topic[:], b[1:17])
	id.Partition = int32(binary.BigEndian.Uint32(b[17:21]))
	body = b[entryHeaderSize:]
	switch typ {
	case entryBatch:
	case entryLogStart, entryTruncate:
		if len(body) != 8 {
			return 0, id, nil, fmt.Errorf("entry type %#x: body of %d bytes, want 8", typ, len(body))
		}
	case entryFence:
		if len(body) != 4 {
			return 0, id, nil, fmt.Errorf("fence entry: body of %d bytes, want 4", len(body))
		}
	default:
		return 0, id, nil, fmt.Errorf("unknown partition entry type %#x", typ)
	}
	return typ, id, body, nil
}
