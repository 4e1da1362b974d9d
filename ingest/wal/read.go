package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// acquire returns segment seq with a reference the caller must release.
func (w *WAL) acquire(seq uint64) (*segment, error) {
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	if w.segsClosed {
		return nil, ErrClosed
	}
	if len(w.segs) == 0 || seq < w.segs[0].seq || seq > w.segs[len(w.segs)-1].seq {
		return nil, fmt.Errorf("%w: segment %d", ErrSegmentNotFound, seq)
	}
	s := w.segs[seq-w.segs[0].seq]
	s.refs.Add(1)
	return s, nil
}

// ReadAt reads the payload of the durable entry at pos with one pread and
// verifies its CRC. The payload is returned in buf[:pos.Length] if buf has
// the capacity for the whole frame (pos.Length+FrameHeaderSize bytes), else
// in a new slice; either way the result starts at the beginning of its
// backing array, so it can be passed back as the next buf. A mismatch
// returns a *CorruptionError. Positions not yet durable return
// ErrNotDurable; positions in removed segments, ErrSegmentNotFound.
func (w *WAL) ReadAt(pos Position, buf []byte) ([]byte, error) {
	if pos.Segment == 0 || pos.Offset < SegmentHeaderSize || pos.Length <= 0 || pos.Length > MaxEntrySize {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPosition, pos)
	}
	d := w.durable.Load()
	if pos.Segment > d.Segment || (pos.Segment == d.Segment && pos.End() > d.Offset) {
		return nil, fmt.Errorf("%w: %v (durable up to %d:%d)", ErrNotDurable, pos, d.Segment, d.Offset)
	}
	s, err := w.acquire(pos.Segment)
	if err != nil {
		return nil, err
	}
	defer s.release()
	n := FrameHeaderSize + int(pos.Length)
	if cap(buf) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	m, err := s.f.ReadAt(buf, pos.Offset)
	if m < n {
		if err == nil || err == io.EOF {
			return nil, &CorruptionError{Segment: s.seq, Path: s.path, Offset: pos.Offset,
				Reason: fmt.Sprintf("segment ends inside the frame (read %d of %d bytes)", m, n)}
		}
		return nil, fmt.Errorf("wal: reading %v from %s: %w", pos, s.path, err)
	}
	if l := binary.BigEndian.Uint32(buf); l != uint32(pos.Length) {
		return nil, &CorruptionError{Segment: s.seq, Path: s.path, Offset: pos.Offset,
			Reason: fmt.Sprintf("frame length is %d, position says %d", l, pos.Length)}
	}
	if want, got := binary.BigEndian.Uint32(buf[4:]), checksum(buf[FrameHeaderSize:]); want != got {
		return nil, &CorruptionError{Segment: s.seq, Path: s.path, Offset: pos.Offset,
			Reason: fmt.Sprintf("CRC mismatch: frame says %#08x, payload has %#08x", want, got)}
	}
	copy(buf, buf[FrameHeaderSize:])
	return buf[:pos.Length], nil
}

// Replay calls fn, in order, for every entry that is durable when Replay is
// called and is at or after from. The zero Position means the start of the
// log; Position{Segment: s} the start of segment s; otherwise from must be
// the position of an entry (as returned by Append or passed to fn). data is
// only valid during the call. If fn returns an error Replay stops and returns
// it. A frame that fails verification returns a *CorruptionError; a from in a
// removed segment returns ErrSegmentNotFound.
func (w *WAL) Replay(from Position, fn func(pos Position, data []byte) error) error {
	d := *w.durable.Load()
	if from.Segment > d.Segment {
		return nil
	}
	w.segMu.RLock()
	if w.segsClosed {
		w.segMu.RUnlock()
		return ErrClosed
	}
	var segs []*segment
	for _, s := range w.segs {
		if s.seq >= from.Segment && s.seq <= d.Segment {
			s.refs.Add(1)
			segs = append(segs, s)
		}
	}
	w.segMu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	if from.Segment != 0 && (len(segs) == 0 || segs[0].seq != from.Segment) {
		return fmt.Errorf("%w: segment %d", ErrSegmentNotFound, from.Segment)
	}

	fr := newFrameReader()
	for _, s := range segs {
		start := int64(SegmentHeaderSize)
		if s.seq == from.Segment && from.Offset > start {
			start = from.Offset
		}
		limit := s.size.Load()
		if s.seq == d.Segment {
			limit = d.Offset
		}
		fr.reset(s.f, start, limit)
		for {
			pos, data, ferr := fr.next()
			if ferr == io.EOF {
				break
			}
			if ferr != nil {
				var bad *badFrame
				if errors.As(ferr, &bad) {
					return &CorruptionError{Segment: s.seq, Path: s.path, Offset: bad.off, Reason: bad.reason}
				}
				return fmt.Errorf("wal: reading %s: %w", s.path, ferr)
			}
			pos.Segment = s.seq
			if err := fn(pos, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// Segments returns the sequence numbers of the segment files, ascending. The
// last one is the active segment.
func (w *WAL) Segments() []uint64 {
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	out := make([]uint64, len(w.segs))
	for i, s := range w.segs {
		out[i] = s.seq
	}
	return out
}

// Size returns the bytes in every segment file, the active one included
// (written, not necessarily durable).
func (w *WAL) Size() int64 {
	w.segMu.RLock()
	defer w.segMu.RUnlock()
	var n int64
	for _, s := range w.segs {
		n += s.size.Load()
	}
	return n
}

// RemoveSegmentsBefore deletes every segment whose sequence number is below
// seq, except the active segment, which is never removed. Readers already
// inside a removed segment finish normally; later reads of its positions
// return ErrSegmentNotFound. The directory is fsynced afterwards.
func (w *WAL) RemoveSegmentsBefore(seq uint64) error {
	w.segMu.Lock()
	if w.segsClosed {
		w.segMu.Unlock()
		return ErrClosed
	}
	var removed []*segment
	var err error
	for len(w.segs) > 1 && w.segs[0].seq < seq {
		s := w.segs[0]
		if err = w.fs.Remove(s.path); err != nil {
			err = fmt.Errorf("wal: removing segment %d: %w", s.seq, err)
			break
		}
		removed = append(removed, s)
		w.segs = w.segs[1:]
	}
	w.m.segments.Store(int64(len(w.segs)))
	w.segMu.Unlock()
	for _, s := range removed {
		s.release()
		w.log.Debug("removed segment", "segment", s.seq)
	}
	if len(removed) > 0 {
		if serr := w.syncDir(); serr != nil && err == nil {
			err = fmt.Errorf("wal: syncing directory after removing segments: %w", serr)
		}
	}
	return err
}

// badFrame describes a frame that failed verification.
type badFrame struct {
	off    int64
	reason string
}

func (b *badFrame) Error() string { return fmt.Sprintf("bad frame at offset %d: %s", b.off, b.reason) }

// frameReader reads frames sequentially from part of a segment file.
type frameReader struct {
	r     *bufio.Reader
	off   int64 // offset of the next frame
	limit int64 // where the frames end
	hdr   [FrameHeaderSize]byte
	buf   []byte
}

func newFrameReader() *frameReader {
	return &frameReader{r: bufio.NewReaderSize(nil, 256<<10)}
}

func (fr *frameReader) reset(f io.ReaderAt, start, limit int64) {
	fr.off, fr.limit = start, limit
	n := max(limit-start, 0)
	fr.r.Reset(io.NewSectionReader(f, start, n))
}

// next returns the next frame (pos without Segment), io.EOF exactly at the
// limit, a *badFrame for a frame that fails verification, or an I/O error.
func (fr *frameReader) next() (Position, []byte, error) {
	off := fr.off
	rest := fr.limit - off
	if rest <= 0 {
		return Position{}, nil, io.EOF
	}
	if rest < FrameHeaderSize {
		return Position{}, nil, &badFrame{off, fmt.Sprintf("incomplete frame header (%d bytes left)", rest)}
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return Position{}, nil, ioErr(off, err)
	}
	n := binary.BigEndian.Uint32(fr.hdr[:4])
	switch {
	case n == 0:
		return Position{}, nil, &badFrame{off, "zero payload length"}
	case n > MaxEntrySize:
		return Position{}, nil, &badFrame{off, fmt.Sprintf("payload length %d above MaxEntrySize", n)}
	case int64(n) > rest-FrameHeaderSize:
		return Position{}, nil, &badFrame{off, fmt.Sprintf("incomplete frame: payload length %d, %d bytes left", n, rest-FrameHeaderSize)}
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	data := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, data); err != nil {
		return Position{}, nil, ioErr(off, err)
	}
	if want, got := binary.BigEndian.Uint32(fr.hdr[4:]), checksum(data); want != got {
		return Position{}, nil, &badFrame{off, fmt.Sprintf("CRC mismatch: frame says %#08x, payload has %#08x", want, got)}
	}
	fr.off = off + FrameHeaderSize + int64(n)
	return Position{Offset: off, Length: int32(n)}, data, nil
}

// ioErr turns an early EOF (the file is shorter than the limit said) into a
// bad frame and passes other errors through.
func ioErr(off int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &badFrame{off, "file ends inside the frame"}
	}
	return err
}
