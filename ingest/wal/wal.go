package wal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Position locates an entry: its segment, the offset of its frame header in
// the segment file, and its payload length.
type Position struct {
	Segment uint64 // segment sequence number
	Offset  int64  // byte offset of the entry's frame header within the segment file
	Length  int32  // payload length
}

// End returns the offset just past the entry's frame.
func (p Position) End() int64 { return p.Offset + FrameHeaderSize + int64(p.Length) }

func (p Position) String() string { return fmt.Sprintf("%d:%d+%d", p.Segment, p.Offset, p.Length) }

// maxPendingBytes bounds the bytes waiting for the flusher. Append blocks
// while accepting an entry would exceed it (an entry is always accepted into
// an empty batch, whatever its size).
const maxPendingBytes = 16 << 20

// WAL is a write-ahead log. All methods are safe for concurrent use.
type WAL struct {
	opts Options // with defaults applied
	fs   FS
	log  *slog.Logger
	m    *metrics

	// Append side, guarded by mu.
	mu         sync.Mutex
	flushCond  sync.Cond // flusher waits here for work or Close
	spaceCond  sync.Cond // appenders wait here for room in the pending batch
	pending    *batch
	spare      *batch // the other batch, nil while the flusher owns it
	nextSeg    uint64 // segment of the next entry
	nextOff    int64  // offset of the next entry
	maxPending int64  // maxPendingBytes; a field so tests can lower it
	closed     bool
	err        error // sticky failure; set once

	// durable is the end of the durable log: every entry with
	// (Segment, End()) <= (durable.Segment, durable.Offset) is durable.
	durable atomic.Pointer[Position]

	// Segment files, guarded by segMu. segs is ascending and contiguous; its
	// last element is the active segment.
	segMu      sync.RWMutex
	segs       []*segment
	segsClosed bool

	active *segment // owned by the flusher once started

	flusherDone chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

type segment struct {
	seq  uint64
	path string
	f    File
	refs atomic.Int32 // one for w.segs plus one per reader; f closed at zero
	size atomic.Int64 // bytes in the file (for the active segment: written, not necessarily durable)
}

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// batch is a set of appended entries waiting for the flusher.
type batch struct {
	buf     []byte  // frames, back to back
	chunks  []chunk // runs of buf going to one segment
	waiters []waiter
}

type chunk struct {
	seq        uint64
	start, end int
}

type waiter struct {
	pos  Position
	done func(Position, error)
}

func (b *batch) reset() {
	if cap(b.buf) > 2*maxPendingBytes {
		b.buf = nil // don't keep a huge buffer after a huge entry
	}
	b.buf = b.buf[:0]
	b.chunks = b.chunks[:0]
	clear(b.waiters) // drop references to callbacks
	b.waiters = b.waiters[:0]
}

// Open opens (creating if needed) the WAL in opts.Dir, verifying every frame
// of every segment. A torn tail in the last segment is truncated away, logged
// and counted; any other damage returns a *CorruptionError.
func Open(opts Options) (*WAL, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	w := &WAL{
		opts:        opts,
		fs:          opts.FS,
		log:         opts.Logger.With("component", "wal", "dir", opts.Dir),
		m:           newMetrics(),
		pending:     &batch{},
		maxPending:  maxPendingBytes,
		spare:       &batch{},
		flusherDone: make(chan struct{}),
	}
	w.flushCond.L = &w.mu
	w.spaceCond.L = &w.mu
	if err := w.fs.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: creating Options.Dir: %w", err)
	}
	if err := w.recover(); err != nil {
		for _, s := range w.segs {
			s.release()
		}
		return nil, err
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(w.m); err != nil {
			for _, s := range w.segs {
				s.release()
			}
			return nil, fmt.Errorf("wal: registering metrics: %w", err)
		}
	}
	w.active = w.segs[len(w.segs)-1]
	end := w.active.size.Load()
	w.nextSeg, w.nextOff = w.active.seq, end
	w.durable.Store(&Position{Segment: w.active.seq, Offset: end})
	w.m.segments.Store(int64(len(w.segs)))
	w.log.Info("wal opened", "segments", len(w.segs), "first", w.segs[0].seq,
		"last", w.active.seq, "end", end, "torn_tails", w.m.tornTails.Load())
	go w.flushLoop()
	return w, nil
}

func (w *WAL) segPath(seq uint64) string { return filepath.Join(w.opts.Dir, segmentName(seq)) }

// Append copies data into the WAL as one entry and returns its position at
// once. Positions increase in call order.
//
// If Append returns nil, done (if not nil) is called exactly once, from the
// flusher goroutine, when the entry is durable (written and fsynced, or only
// written with NoSync) or has failed; callbacks run in append order. done must
// not block and must not call Append, AppendSync or Close. If Append returns
// an error (ErrClosed, ErrEmptyEntry, ErrEntryTooLarge, or the error that
// failed the WAL) the entry was not accepted and done is never called.
//
// Append blocks only while more than 16 MiB of entries are waiting for the
// flusher (back-pressure when the disk cannot keep up).
func (w *WAL) Append(data []byte, done func(Position, error)) (Position, error) {
	n := len(data)
	if n == 0 {
		return Position{}, ErrEmptyEntry
	}
	if n > MaxEntrySize {
		return Position{}, ErrEntryTooLarge
	}
	crc := checksum(data) // outside the lock
	frame := int64(FrameHeaderSize + n)

	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return Position{}, ErrClosed
		}
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			return Position{}, err
		}
		pendingBytes := int64(len(w.pending.buf))
		if pendingBytes == 0 || pendingBytes+frame <= w.maxPending {
			break
		}
		w.spaceCond.Wait()
	}
	if w.nextOff >= w.opts.SegmentSize {
		w.nextSeg++
		w.nextOff = SegmentHeaderSize
	}
	pos := Position{Segment: w.nextSeg, Offset: w.nextOff, Length: int32(n)}
	b := w.pending
	wasEmpty := len(b.waiters) == 0
	if len(b.chunks) == 0 || b.chunks[len(b.chunks)-1].seq != pos.Segment {
		b.chunks = append(b.chunks, chunk{seq: pos.Segment, start: len(b.buf)})
	}
	b.buf = appendFrame(b.buf, data, crc)
	b.chunks[len(b.chunks)-1].end = len(b.buf)
	b.waiters = append(b.waiters, waiter{pos: pos, done: done})
	w.nextOff += frame
	w.m.appends.Add(1)
	if wasEmpty {
		w.flushCond.Signal()
	}
	w.mu.Unlock()
	return pos, nil
}

type syncWaiter struct {
	ch   chan error
	done func(Position, error)
}

var syncWaiters = sync.Pool{New: func() any {
	sw := &syncWaiter{ch: make(chan error, 1)}
	sw.done = func(_ Position, err error) { sw.ch <- err }
	return sw
}}

// AppendSync appends data and waits until it is durable or failed.
func (w *WAL) AppendSync(data []byte) (Position, error) {
	sw := syncWaiters.Get().(*syncWaiter)
	pos, err := w.Append(data, sw.done)
	if err == nil {
		err = <-sw.ch
	}
	syncWaiters.Put(sw)
	return pos, err
}

// flushLoop is the flusher goroutine.
func (w *WAL) flushLoop() {
	defer close(w.flusherDone)
	w.mu.Lock()
	for {
		for len(w.pending.waiters) == 0 && !w.closed {
			w.flushCond.Wait()
		}
		if len(w.pending.waiters) == 0 { // closed and drained
			w.mu.Unlock()
			return
		}
		b := w.pending
		w.pending, w.spare = w.spare, nil
		failed := w.err
		w.spaceCond.Broadcast()
		w.mu.Unlock()

		err := failed
		if err == nil {
			err = w.writeBatch(b)
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.spaceCond.Broadcast()
				w.mu.Unlock()
				w.log.Error("wal failed; every later append will fail", "err", err)
			} else {
				last := b.waiters[len(b.waiters)-1].pos
				w.durable.Store(&Position{Segment: last.Segment, Offset: last.End()})
			}
		}
		for i := range b.waiters {
			if wt := &b.waiters[i]; wt.done != nil {
				wt.done(wt.pos, err)
			}
		}
		b.reset()
		w.mu.Lock()
		w.spare = b
	}
}

// failure wraps an I/O error as the WAL's sticky failure.
func failure(what string, seq uint64, err error) error {
	return fmt.Errorf("%w: %s segment %d: %w", ErrFailed, what, seq, err)
}

// writeBatch writes b, rolling segments as needed, and makes it durable.
func (w *WAL) writeBatch(b *batch) error {
	for _, c := range b.chunks {
		if c.seq != w.active.seq {
			if err := w.roll(c.seq); err != nil {
				return err
			}
		}
		if err := w.write(b.buf[c.start:c.end]); err != nil {
			return err
		}
	}
	w.m.flushes.Add(1)
	return w.sync(w.active)
}

func (w *WAL) write(p []byte) error {
	n, err := w.active.f.Write(p)
	w.active.size.Add(int64(n))
	w.m.bytesWritten.Add(uint64(n))
	if err == nil && n < len(p) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(p))
	}
	if err != nil {
		return failure("writing", w.active.seq, err)
	}
	return nil
}

func (w *WAL) sync(s *segment) error {
	if w.opts.NoSync {
		return nil
	}
	start := time.Now()
	err := s.f.Sync()
	w.m.fsyncDuration.Observe(time.Since(start).Seconds())
	w.m.fsyncs.Add(1)
	if err != nil {
		return failure("fsyncing", s.seq, err)
	}
	return nil
}

// syncDir fsyncs the WAL directory.
func (w *WAL) syncDir() error {
	if w.opts.NoSync {
		return nil
	}
	d, err := w.fs.Open(w.opts.Dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// roll seals the active segment and makes seq (its successor) active.
func (w *WAL) roll(seq uint64) error {
	if seq != w.active.seq+1 {
		return fmt.Errorf("%w: internal error: rolling from segment %d to %d", ErrFailed, w.active.seq, seq)
	}
	if err := w.sync(w.active); err != nil {
		return err
	}
	s, err := w.createSegment(seq)
	if err != nil {
		return failure("creating", seq, err)
	}
	w.segMu.Lock()
	w.segs = append(w.segs, s)
	n := len(w.segs)
	w.segMu.Unlock()
	w.m.segments.Store(int64(n))
	w.active = s
	return nil
}

// createSegment creates segment seq with its header, durably (file and
// directory fsynced), and returns it with one reference.
func (w *WAL) createSegment(seq uint64) (*segment, error) {
	path := w.segPath(seq)
	f, err := w.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	s := &segment{seq: seq, path: path, f: f}
	s.refs.Store(1)
	h := segmentHeader(seq)
	n, err := f.Write(h[:])
	s.size.Store(int64(n))
	w.m.bytesWritten.Add(uint64(n))
	if err == nil && n < len(h) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(h))
	}
	if err == nil {
		err = w.sync(s)
	}
	if err == nil {
		err = w.syncDir()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Stats returns the WAL's counters.
func (w *WAL) Stats() Stats { return w.m.stats() }

// Close makes every accepted entry durable (or failed), stops the flusher and
// closes the files. Appends after Close return ErrClosed. Close returns the
// error that failed the WAL, if any; calling it again returns the same.
func (w *WAL) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.flushCond.Signal()
		w.spaceCond.Broadcast()
		w.mu.Unlock()
		<-w.flusherDone

		w.segMu.Lock()
		segs := w.segs
		w.segs, w.segsClosed = nil, true
		w.segMu.Unlock()
		for _, s := range segs {
			s.release()
		}
		if w.opts.Registerer != nil {
			w.opts.Registerer.Unregister(w.m)
		}
		w.mu.Lock()
		w.closeErr = w.err
		w.mu.Unlock()
		w.log.Info("wal closed", "err", w.closeErr)
	})
	return w.closeErr
}
