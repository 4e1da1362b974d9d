// Package compact implements log compaction (cleanup.policy=compact) of
// Kafka v2 record batches: of all the records with the same key, only the
// latest is kept, and tombstones (records with a null value) are kept only
// for delete.retention.ms.
//
// Compaction runs in two passes over a partition, like Kafka's LogCleaner:
//
//  1. OffsetMap.Add is called with every batch of the range to clean, and
//     records, per key, the offset of the latest record with that key.
//  2. Filter is called with each batch and returns it rebuilt with only the
//     records to keep, or nil when none are left.
//
// Offsets never change. A rebuilt batch keeps the original's base offset,
// partition leader epoch, timestamp type, first timestamp, producer id,
// epoch and base sequence, and its last offset delta even when the last
// record was removed, so the batch's last sequence number (and with it the
// producer's idempotence state) is what it was. Each kept record keeps its
// offset delta, timestamp delta, key, value and headers.
//
// Where Strata differs from Kafka:
//
//   - Rebuilt batches are uncompressed (tiered segments store records
//     uncompressed anyway). A batch from which nothing is removed is
//     returned as it is, compressed or not, as Kafka does.
//   - A tombstone's age is its own timestamp, compared with
//     FilterOptions.TombstoneCutoff, rather than Kafka's delete horizon
//     (the time the cleaner first saw the tombstone, KIP-534).
//   - A batch whose records are all removed is dropped; Kafka keeps an empty
//     batch when it is a producer's last, to keep that producer's state
//     across restarts. A Strata partition rebuilds producer state from its
//     write-ahead log, not from tiered segments.
//   - Control and transactional batches are returned unchanged and are not
//     indexed: Strata refuses them on produce, so only a log written by
//     something else can hold them.
package compact

import (
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

// DefaultMaxDecompressed bounds the decompressed size of one batch's
// records when NewOffsetMap or FilterOptions is given zero.
const DefaultMaxDecompressed = 256 << 20

// keyHashSize is the size of the key digests an OffsetMap stores.
const keyHashSize = 16

// keyHash is the first 16 bytes of a key's SHA-256.
type keyHash [keyHashSize]byte

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OffsetMap maps each record key to the offset of the latest record with
// that key.
//
// Keys are stored as the first 16 bytes of their SHA-256, so an entry takes
// the same memory whatever the key's size. The price is that two distinct
// keys with the same digest would share an entry, and the older key's
// latest record would be removed as if superseded. With 128 bits the chance
// of any collision among n keys is about n²/2¹²⁹ (below 10⁻²⁰ for a billion
// keys), and a cryptographic hash keeps a producer from crafting keys that
// collide with another's. Kafka's cleaner makes the same trade with MD5.
//
// An OffsetMap is not safe for concurrent use.
type OffsetMap struct {
	maxDecompressed int
	latest          map[keyHash]int64
}

// NewOffsetMap returns an empty map whose Add decompresses at most
// maxDecompressed bytes of records per batch (DefaultMaxDecompressed if
// zero or negative).
func NewOffsetMap(maxDecompressed int) *OffsetMap {
	if maxDecompressed <= 0 {
		maxDecompressed = DefaultMaxDecompressed
	}
	return &OffsetMap{maxDecompressed: maxDecompressed, latest: make(map[keyHash]int64)}
}

// Add records the offset of every keyed record (tombstones included) of
// the v2 batch b. Records with a null key are not indexed, nor are control
// and transactional batches. For each key the map keeps the highest offset
// it has been given, so batches can be added in any order. On error the
// map is unchanged.
func (m *OffsetMap) Add(b []byte) error {
	h, err := readHeader(b)
	if err != nil {
		return err
	}
	if passThrough(&h) {
		return nil
	}
	recs, err := records(b, &h, m.maxDecompressed)
	if err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		if r.Key == nil {
			continue
		}
		k, off := hashKey(r.Key), h.BaseOffset+int64(r.OffsetDelta)
		if cur, ok := m.latest[k]; !ok || off > cur {
			m.latest[k] = off
		}
	}
	return nil
}

// Len is the number of distinct keys (key digests) in the map.
func (m *OffsetMap) Len() int { return len(m.latest) }

// Latest returns the offset of the latest record added with key, and false
// if there is none.
func (m *OffsetMap) Latest(key []byte) (int64, bool) {
	off, ok := m.latest[hashKey(key)]
	return off, ok
}

// FilterOptions configures Filter. The zero value keeps tombstones with a
// timestamp of zero or more and decompresses up to DefaultMaxDecompressed.
type FilterOptions struct {
	// TombstoneCutoff is the timestamp (Unix ms) below which tombstones
	// are removed: the cleaner's now minus the topic's delete.retention.ms.
	// math.MinInt64 keeps every tombstone.
	TombstoneCutoff int64
	// MaxDecompressed bounds the decompressed size of the batch's records
	// (DefaultMaxDecompressed if zero or negative).
	MaxDecompressed int
}

// Filter returns the v2 batch b with only the records compaction keeps, and
// how many those are. A record is kept when its key is null (it cannot be
// compacted), or when m has no later offset for its key and, if it is a
// tombstone, its timestamp is at or above opts.TombstoneCutoff. A record
// whose key m does not hold, or holds at a lower offset (m was built from
// an earlier part of the log), is kept, as in Kafka.
//
// Filter returns nil and 0 when no record is left, and b itself when every
// record is kept or b is a control or transactional batch. Otherwise it
// returns a new, uncompressed batch (see the package comment for the header
// fields it keeps). The batch's CRC is checked: corrupt input is an error
// wrapping batch.ErrCorrupt (or batch.ErrTooLarge past opts.MaxDecompressed),
// never a rewritten batch with a fresh CRC.
func Filter(b []byte, m *OffsetMap, opts FilterOptions) (out []byte, kept int, err error) {
	h, err := readHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if passThrough(&h) {
		return b, int(h.RecordCount), nil
	}
	maxDecompressed := opts.MaxDecompressed
	if maxDecompressed <= 0 {
		maxDecompressed = DefaultMaxDecompressed
	}
	recs, err := records(b, &h, maxDecompressed)
	if err != nil {
		return nil, 0, err
	}
	keep := recs[:0]
	for _, r := range recs {
		if retain(&h, &r, m, opts.TombstoneCutoff) {
			keep = append(keep, r)
		}
	}
	switch len(keep) {
	case 0:
		return nil, 0, nil
	case len(recs):
		return b, len(keep), nil
	}
	// Build keeps LastOffsetDelta when it is past the kept records'. It
	// keeps MaxTimestamp only for LogAppendTime, where it is every record's
	// timestamp; for CreateTime it recomputes it from the kept records, as
	// Kafka's MemoryRecordsBuilder does when it rebuilds a cleaned batch
	// (the header then describes the records that are in it).
	out, err = batch.Build(batch.Header{
		BaseOffset:           h.BaseOffset,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Attributes:           h.Attributes &^ batch.CodecMask,
		LastOffsetDelta:      h.LastOffsetDelta,
		FirstTimestamp:       h.FirstTimestamp,
		MaxTimestamp:         h.MaxTimestamp,
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
	}, keep)
	if err != nil {
		return nil, 0, fmt.Errorf("compact: rebuilding batch at offset %d: %w", h.BaseOffset, err)
	}
	return out, len(keep), nil
}

// retain reports whether compaction keeps record r of the batch with
// header h.
func retain(h *batch.Header, r *kmsg.Record, m *OffsetMap, tombstoneCutoff int64) bool {
	if r.Key == nil {
		return true
	}
	if latest, ok := m.latest[hashKey(r.Key)]; ok && h.BaseOffset+int64(r.OffsetDelta) < latest {
		return false
	}
	return r.Value != nil || h.Timestamp(r) >= tombstoneCutoff
}

// passThrough reports whether compaction leaves the batch alone.
func passThrough(h *batch.Header) bool { return h.Control() || h.Transactional() }

// readHeader decodes the header of b, which must hold exactly one batch
// with a correct CRC and offsets that fit an int64.
func readHeader(b []byte) (batch.Header, error) {
	h, err := batch.ReadHeader(b)
	if err != nil {
		return h, fmt.Errorf("compact: %w", err)
	}
	switch {
	case h.Size() != len(b):
		return h, fmt.Errorf("compact: %w: batch length %d in %d bytes", batch.ErrCorrupt, h.Size(), len(b))
	case crc32.Checksum(b[21:], castagnoli) != h.CRC:
		return h, fmt.Errorf("compact: %w: crc mismatch in batch at offset %d", batch.ErrCorrupt, h.BaseOffset)
	case h.RecordCount < 0 || h.LastOffsetDelta < 0 || h.BaseOffset < 0 || h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta):
		return h, fmt.Errorf("compact: %w: batch at offset %d: %d records, last offset delta %d",
			batch.ErrCorrupt, h.BaseOffset, h.RecordCount, h.LastOffsetDelta)
	}
	return h, nil
}

// records decodes the records of b, whose header h readHeader accepted,
// and checks that their offset deltas increase within the batch's range.
func records(b []byte, h *batch.Header, maxDecompressed int) ([]kmsg.Record, error) {
	_, recs, err := batch.Records(b, maxDecompressed)
	if err != nil {
		return nil, fmt.Errorf("compact: batch at offset %d: %w", h.BaseOffset, err)
	}
	prev := int32(-1)
	for i := range recs {
		d := recs[i].OffsetDelta
		if d <= prev || d > h.LastOffsetDelta {
			return nil, fmt.Errorf("compact: %w: batch at offset %d: record %d has offset delta %d after %d (last %d)",
				batch.ErrCorrupt, h.BaseOffset, i, d, prev, h.LastOffsetDelta)
		}
		prev = d
	}
	return recs, nil
}

func hashKey(key []byte) keyHash {
	sum := sha256.Sum256(key)
	return keyHash(sum[:keyHashSize])
}
