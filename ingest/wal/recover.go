package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// recover loads the segments in w.opts.Dir into w.segs, verifying them and
// cutting off a torn tail, or creates segment 1 in an empty directory. On
// error the caller releases whatever is in w.segs.
func (w *WAL) recover() error {
	entries, err := w.fs.ReadDir(w.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: listing Options.Dir: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		seq, ok, valid := parseSegmentName(e.Name())
		if !ok {
			continue // not ours
		}
		path := w.segPath(seq)
		if !valid {
			path = w.opts.Dir + string(os.PathSeparator) + e.Name()
			return &CorruptionError{Path: path, Reason: "segment file name has an invalid sequence number"}
		}
		if e.IsDir() {
			return &CorruptionError{Segment: seq, Path: path, Reason: "segment is a directory"}
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return &CorruptionError{Segment: seqs[i-1] + 1, Path: w.segPath(seqs[i-1] + 1),
				Reason: fmt.Sprintf("segment missing between %d and %d", seqs[i-1], seqs[i])}
		}
	}
	if len(seqs) == 0 {
		s, err := w.createSegment(1)
		if err != nil {
			return fmt.Errorf("wal: creating first segment: %w", err)
		}
		w.segs = append(w.segs, s)
		return nil
	}
	fr := newFrameReader()
	for i, seq := range seqs {
		if err := w.openSegment(seq, i == len(seqs)-1, fr); err != nil {
			return err
		}
	}
	return nil
}

// openSegment opens and verifies segment seq and appends it to w.segs.
func (w *WAL) openSegment(seq uint64, last bool, fr *frameReader) error {
	path := w.segPath(seq)
	var f File
	var err error
	if last {
		f, err = w.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	} else {
		f, err = w.fs.Open(path)
	}
	if err != nil {
		return fmt.Errorf("wal: opening segment %d: %w", seq, err)
	}
	s := &segment{seq: seq, path: path, f: f}
	s.refs.Store(1)
	w.segs = append(w.segs, s) // released by the caller on error
	corrupt := func(off int64, reason string) error {
		return &CorruptionError{Segment: seq, Path: path, Offset: off, Reason: reason}
	}

	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("wal: stat segment %d: %w", seq, err)
	}
	size := info.Size()
	hdr := make([]byte, min(size, SegmentHeaderSize))
	if err := readAtFull(f, hdr, 0); err != nil {
		return fmt.Errorf("wal: reading segment %d header: %w", seq, err)
	}
	if reason := checkSegmentHeader(hdr, seq); reason != "" {
		if !last {
			return corrupt(0, reason)
		}
		// A crash while the segment was being created leaves it short or
		// zero-filled. Nothing can have been acknowledged in it: its header is
		// made durable before any frame is written.
		zero := size < SegmentHeaderSize
		if !zero {
			if zero, err = allZero(f, size); err != nil {
				return fmt.Errorf("wal: reading segment %d: %w", seq, err)
			}
		}
		if !zero {
			return corrupt(0, reason)
		}
		return w.rewriteHeader(s, size, reason)
	}

	fr.reset(f, SegmentHeaderSize, size)
	var bad *badFrame
	for {
		_, _, err := fr.next()
		if err == io.EOF {
			break
		}
		if errors.As(err, &bad) {
			break
		}
		if err != nil {
			return fmt.Errorf("wal: reading segment %d: %w", seq, err)
		}
	}
	if bad == nil {
		s.size.Store(size)
		if last {
			// Frames written before a process crash may still be only in the
			// page cache: make them durable before calling them durable.
			return w.syncRecovered(s)
		}
		return nil
	}
	if !last {
		return corrupt(bad.off, bad.reason+" (not in the last segment)")
	}
	next, found, err := findValidFrame(f, bad.off+1, size)
	if err != nil {
		return fmt.Errorf("wal: reading segment %d: %w", seq, err)
	}
	if found {
		return corrupt(bad.off, fmt.Sprintf("%s, and a valid frame follows at offset %d", bad.reason, next))
	}
	w.log.Warn("truncating torn tail of the last wal segment",
		"segment", seq, "path", path, "offset", bad.off, "dropped_bytes", size-bad.off, "reason", bad.reason)
	if err := f.Truncate(bad.off); err != nil {
		return fmt.Errorf("wal: truncating torn tail of segment %d: %w", seq, err)
	}
	s.size.Store(bad.off)
	w.m.tornTails.Add(1)
	return w.syncRecovered(s)
}

// rewriteHeader replaces a torn segment creation by a fresh empty segment.
func (w *WAL) rewriteHeader(s *segment, size int64, reason string) error {
	w.log.Warn("rewriting torn header of the last wal segment",
		"segment", s.seq, "path", s.path, "dropped_bytes", size, "reason", reason)
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("wal: truncating torn segment %d: %w", s.seq, err)
	}
	h := segmentHeader(s.seq)
	n, err := s.f.Write(h[:])
	if err == nil && n < len(h) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("wal: rewriting header of segment %d: %w", s.seq, err)
	}
	s.size.Store(SegmentHeaderSize)
	w.m.tornTails.Add(1)
	return w.syncRecovered(s)
}

// syncRecovered fsyncs the recovered last segment and the directory.
func (w *WAL) syncRecovered(s *segment) error {
	if err := w.sync(s); err != nil {
		return fmt.Errorf("wal: recovering: %w", err)
	}
	if err := w.syncDir(); err != nil {
		return fmt.Errorf("wal: recovering: syncing directory: %w", err)
	}
	return nil
}

// readAtFull reads exactly len(b) bytes at off.
func readAtFull(f io.ReaderAt, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

const scanWindow = 1 << 20

// allZero reports whether the first size bytes of f are all zero.
func allZero(f io.ReaderAt, size int64) (bool, error) {
	buf := make([]byte, min(size, scanWindow))
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		if err := readAtFull(f, b, off); err != nil {
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

// findValidFrame looks for a complete valid frame starting at any byte
// offset in [from, size) of f. It tells a torn tail (nothing valid after the
// bad frame) from corruption in the middle of the log. Most offsets are
// rejected by the length check alone; a candidate costs one CRC of its
// payload.
func findValidFrame(f io.ReaderAt, from, size int64) (int64, bool, error) {
	win := make([]byte, 0, min(max(size-from, 0), scanWindow))
	base := from // file offset of win[0]
	var scratch []byte
	for p := from; p+FrameHeaderSize <= size; p++ {
		if p+FrameHeaderSize > base+int64(len(win)) {
			base = p
			win = win[:min(int64(cap(win)), size-p)]
			if err := readAtFull(f, win, base); err != nil {
				return 0, false, err
			}
		}
		i := p - base
		n := int64(binary.BigEndian.Uint32(win[i:]))
		if n == 0 || n > MaxEntrySize || n > size-p-FrameHeaderSize {
			continue
		}
		var payload []byte
		if end := i + FrameHeaderSize + n; end <= int64(len(win)) {
			payload = win[i+FrameHeaderSize : end]
		} else {
			if int64(cap(scratch)) < n {
				scratch = make([]byte, n)
			}
			payload = scratch[:n]
			if err := readAtFull(f, payload, p+FrameHeaderSize); err != nil {
				return 0, false, err
			}
		}
		if checksum(payload) == binary.BigEndian.Uint32(win[i+4:]) {
			return p, true, nil
		}
	}
	return 0, false, nil
}
