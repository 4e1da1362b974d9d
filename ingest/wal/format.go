package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	// FormatVersion is the segment format version this package writes and reads.
	FormatVersion = 1
	// SegmentHeaderSize is the size of the header at the start of every segment.
	SegmentHeaderSize = 20
	// FrameHeaderSize is the size of the length and CRC fields before each payload.
	FrameHeaderSize = 8
	// MaxEntrySize is the largest payload an entry may have. A frame header
	// announcing more is corruption.
	MaxEntrySize = 64 << 20
	// DefaultSegmentSize is used when Options.SegmentSize is 0.
	DefaultSegmentSize = 64 << 20
	// MinSegmentSize is the smallest accepted Options.SegmentSize.
	MinSegmentSize = 64

	segmentMagic  = "STRATAWL"
	segmentSuffix = ".wal"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Errors returned by the WAL. Failures caused by I/O errors wrap both
// ErrFailed and the underlying error.
var (
	ErrClosed          = errors.New("wal: closed")
	ErrEmptyEntry      = errors.New("wal: empty entry")
	ErrEntryTooLarge   = fmt.Errorf("wal: entry larger than MaxEntrySize (%d bytes)", MaxEntrySize)
	ErrFailed          = errors.New("wal: failed after an I/O error")
	ErrNotDurable      = errors.New("wal: position is not durable yet")
	ErrInvalidPosition = errors.New("wal: invalid position")
	ErrSegmentNotFound = errors.New("wal: segment not found (removed or never created)")
)

// CorruptionError reports damaged data in a segment. Open returns it for any
// damage other than a torn tail; ReadAt and Replay return it when a frame
// fails verification.
type CorruptionError struct {
	Segment uint64 // segment sequence number
	Path    string // segment file path
	Offset  int64  // byte offset in the file of the bad header or frame
	Reason  string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corruption in segment %d (%s) at offset %d: %s", e.Segment, e.Path, e.Offset, e.Reason)
}

// segmentName returns the file name of segment seq.
func segmentName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segmentSuffix) }

// parseSegmentName reports whether name looks like a segment file
// (20 digits + ".wal") and returns its sequence number. ok is true with
// valid false for names shaped like segments but out of range (0 or
// overflowing uint64), which Open reports as corruption.
func parseSegmentName(name string) (seq uint64, ok, valid bool) {
	digits, found := strings.CutSuffix(name, segmentSuffix)
	if !found || len(digits) != 20 {
		return 0, false, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 {
		return 0, true, false
	}
	return seq, true, true
}

func segmentHeader(seq uint64) [SegmentHeaderSize]byte {
	var h [SegmentHeaderSize]byte
	copy(h[:8], segmentMagic)
	binary.BigEndian.PutUint32(h[8:12], FormatVersion)
	binary.BigEndian.PutUint64(h[12:20], seq)
	return h
}

// checkSegmentHeader returns "" if h is a valid header for segment seq, or
// the reason it is not.
func checkSegmentHeader(h []byte, seq uint64) string {
	if len(h) < SegmentHeaderSize {
		return fmt.Sprintf("segment header is %d bytes, want %d", len(h), SegmentHeaderSize)
	}
	if string(h[:8]) != segmentMagic {
		return fmt.Sprintf("bad magic %q, want %q", h[:8], segmentMagic)
	}
	if v := binary.BigEndian.Uint32(h[8:12]); v != FormatVersion {
		return fmt.Sprintf("unsupported format version %d, want %d", v, FormatVersion)
	}
	if s := binary.BigEndian.Uint64(h[12:20]); s != seq {
		return fmt.Sprintf("header names segment %d, file name says %d", s, seq)
	}
	return ""
}

// appendFrame appends the frame for payload (whose CRC-32C is crc) to dst.
func appendFrame(dst []byte, payload []byte, crc uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.BigEndian.AppendUint32(dst, crc)
	return append(dst, payload...)
}
