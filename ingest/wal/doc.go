// Package wal is Strata's write-ahead log: one per broker, shared by every
// partition on it. It stores opaque entries (non-empty byte slices, at most
// [MaxEntrySize] bytes each); the partition layer above decides what goes
// inside them.
//
// # Writing
//
// [WAL.Append] copies an entry into an in-memory batch, assigns its
// [Position] immediately and returns. A single flusher goroutine writes the
// whole pending batch with one write(2) per segment touched, fsyncs once, and
// then calls every waiting entry's done callback in append order (group
// commit: an fsync serves every append that was waiting when it started, so
// appenders never wait for each other's fsyncs one by one). The first write or
// fsync error fails the WAL for good: the entries of that batch, and every
// entry appended afterwards, get the error. An fsync is never retried, because
// after a failed fsync the kernel may already have dropped the dirty pages.
//
// # On-disk format (version 1)
//
// The same description, with examples, is in docs/format/wal.md.
// All integers are big-endian.
//
// The log is a sequence of segment files in Options.Dir, named by their
// sequence number as "%020d.wal" (for example 00000000000000000001.wal).
// Sequence numbers start at 1 and are contiguous: a gap is corruption.
// Other file names in the directory are ignored.
//
// Each segment file starts with a 20-byte header:
//
//	offset size field
//	     0    8 magic "STRATAWL" (53 54 52 41 54 41 57 4C)
//	     8    4 format version, uint32 = 1
//	    12    8 segment sequence number, uint64; must equal the file name's
//
// followed by zero or more frames, back to back with no padding or alignment.
// Each frame is one entry:
//
//	offset size field
//	     0    4 payload length N, uint32, 1 <= N <= MaxEntrySize (64 MiB)
//	     4    4 CRC-32C (Castagnoli) of the N payload bytes, uint32
//	     8    N payload
//
// A [Position] names a frame: the segment sequence number, the byte offset of
// the frame's first header byte in that file (at least 20), and N. The first
// frame of a segment is at offset 20, the next at 20+8+N, and so on.
//
// A frame never spans segments. Once the active segment has reached
// Options.SegmentSize bytes, the next entry starts a new segment, so a segment
// can exceed SegmentSize by at most one frame. When the flusher rolls it
// fsyncs the old segment, creates the new file (failing if it exists), writes
// and fsyncs its header and fsyncs the directory before writing any frame into
// it. The directory is also fsynced after segments are removed.
//
// # Recovery
//
// [Open] reads every segment in order and verifies every frame. Only the last
// segment may end badly, and only as a torn tail: an incomplete frame, a frame
// whose length is 0 or above MaxEntrySize, or a CRC mismatch, with no valid
// frame starting at any later byte offset of the file. (A zero-filled tail
// therefore counts as torn: a zero length is invalid.) A torn tail is
// truncated away, logged and counted; a last segment shorter than its header,
// or entirely zero, is a segment whose creation was torn and gets its header
// rewritten. Anything else (a bad frame or header in an earlier segment, a bad
// frame followed by a valid one, a missing segment) makes Open return a
// [*CorruptionError]; damage is never skipped silently.
//
// Because a torn tail is told apart from corruption by looking for a valid
// frame after the bad one, a crash that persisted a later page of the last
// unsynced write but not an earlier one is reported as corruption, even though
// no acknowledged entry was lost. Recovering from that needs an operator.
//
// # Testing seams
//
// All file access goes through [FS]. [MemFS] is an in-memory FS and
// [ErrorFS] wraps any FS to inject errors on chosen operations and to
// simulate a machine crash that loses every byte not yet fsynced.
package wal
