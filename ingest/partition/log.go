// Package partition is a partition's log on its leader: offset assignment,
// the in-memory index from offsets to WAL positions, idempotent-producer
// state, the high watermark and reads.
//
// A Log does not own storage. Its entries live in the broker's shared
// write-ahead log (ingest/wal); the Log keeps an index of where each of its
// batches sits so that a read of any offset is a binary search and one
// pread. Writes are acknowledged through a quorum.Tracker: today the leader
// is the only replica, so a batch is acknowledged once the WAL has fsynced
// it; the replication issue adds followers behind the same Tracker.
//
// Concurrency: mu guards the append state (index, offsets, producers) and
// is held across WAL appends so that a partition's entries enter the WAL in
// offset order. ack guards the acknowledgement state (quorum tracker,
// waiting appends, change notification) and is the only lock the WAL's
// durability callback takes: a WAL append can block on the flusher, so the
// flusher must never wait for mu. Lock order: mu before ack. Methods ending
// in Locked expect mu held.
package partition

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/quorum"
	"github.com/strata-log/strata/ingest/wal"
)

// WAL is what a Log needs of the write-ahead log.
type WAL interface {
	Append(data []byte, done func(wal.Position, error)) (wal.Position, error)
	ReadAt(pos wal.Position, buf []byte) ([]byte, error)
}

// span indexes one stored batch.
type span struct {
	base, last int64
	maxTS      int64 // the batch's max timestamp
	maxTSSoFar int64 // max over this and every earlier span: monotonic, for timestamp search
	pos        wal.Position
}

// EpochStart records the first offset written in a leader epoch.
type EpochStart struct {
	Epoch       int32
	StartOffset int64
}

// Log is one partition's log. Create it with newLog through a Manager.
type Log struct {
	id      ID
	wal     WAL
	localID int32
	now     func() time.Time

	mu struct {
		sync.Mutex
		spans     []span
		next      int64 // log end offset: the next offset to assign
		logStart  int64
		epoch     int32 // current leader epoch; -1 until BecomeLeader
		epochs    []EpochStart
		quorum    *quorum.Tracker
		producers map[int64]*producer
		failed    error // the WAL refused an append
	}
	ack struct {
		sync.Mutex
		quorum  *quorum.Tracker
		waiters []*Pending // unacknowledged appends in offset order
		changed chan struct{}
		failed  error // the WAL failed to sync
	}
}

func newLog(id ID, w WAL, localID int32) *Log {
	l := &Log{id: id, wal: w, localID: localID, now: time.Now}
	l.mu.epoch = -1
	l.mu.producers = map[int64]*producer{}
	l.ack.changed = make(chan struct{})
	return l
}

// ID returns the partition's identity.
func (l *Log) ID() ID { return l.id }

// BecomeLeader makes the local broker the partition's leader for epoch with
// the given replicas, acknowledging writes once ackQuorum of them are
// durable. Everything recovered so far counts as acknowledged.
func (l *Log) BecomeLeader(epoch int32, replicas []int32, ackQuorum int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch < l.mu.epoch {
		return fmt.Errorf("partition %s: epoch %d is older than %d", l.id, epoch, l.mu.epoch)
	}
	t, err := quorum.New(replicas, ackQuorum, l.mu.next)
	if err != nil {
		return fmt.Errorf("partition %s: %w", l.id, err)
	}
	l.mu.epoch = epoch
	if n := len(l.mu.epochs); n == 0 || l.mu.epochs[n-1].Epoch < epoch {
		l.mu.epochs = append(l.mu.epochs, EpochStart{Epoch: epoch, StartOffset: l.mu.next})
	}
	l.ack.Lock()
	l.ack.quorum = t
	l.notifyAckLocked()
	l.ack.Unlock()
	return nil
}

// Epoch returns the current leader epoch (-1 before BecomeLeader).
func (l *Log) Epoch() int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.epoch
}

// replayBatch indexes a batch found in the WAL during recovery.
func (l *Log) replayBatch(pos wal.Position, b []byte) error {
	h, err := batch.ReadHeader(b)
	if err != nil {
		return fmt.Errorf("partition %s at %+v: %w", l.id, pos, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h.BaseOffset != l.mu.next && len(l.mu.spans) > 0 {
		return fmt.Errorf("partition %s at %+v: batch at offset %d but log ends at %d", l.id, pos, h.BaseOffset, l.mu.next)
	}
	if len(l.mu.spans) == 0 && l.mu.next == 0 {
		l.mu.logStart = max(l.mu.logStart, h.BaseOffset)
	}
	if n := len(l.mu.epochs); n == 0 || l.mu.epochs[n-1].Epoch < h.PartitionLeaderEpoch {
		l.mu.epochs = append(l.mu.epochs, EpochStart{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
	}
	l.indexLocked(h, pos)
	if h.ProducerID >= 0 {
		l.producerLocked(h.ProducerID).record(&h)
	}
	return nil
}

func (l *Log) replayLogStart(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLogStartLocked(offset)
}

func (l *Log) indexLocked(h batch.Header, pos wal.Position) {
	s := span{base: h.BaseOffset, last: h.LastOffset(), maxTS: h.MaxTimestamp, maxTSSoFar: h.MaxTimestamp, pos: pos}
	if n := len(l.mu.spans); n > 0 {
		s.maxTSSoFar = max(s.maxTSSoFar, l.mu.spans[n-1].maxTSSoFar)
	}
	l.mu.spans = append(l.mu.spans, s)
	l.mu.next = s.last + 1
}

func (l *Log) setLogStartLocked(offset int64) {
	if offset <= l.mu.logStart {
		return
	}
	l.mu.logStart = offset
	l.mu.next = max(l.mu.next, offset)
	// Drop index entries wholly below the new start.
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	l.mu.spans = slices.Delete(l.mu.spans, 0, i)
}

// AppendOptions are the per-topic rules for an append.
type AppendOptions struct {
	LogAppendTime bool // stamp the batch with broker time
}

// Pending is an append waiting for acknowledgement.
type Pending struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	Duplicate      bool // the batch was a producer retry; nothing was written

	last int64
	done chan struct{}
	err  error
}

// Done is closed once the append is acknowledged or failed.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Err is the append's outcome, valid after Done is closed.
func (p *Pending) Err() error { return p.err }

// Append assigns offsets to the validated batch b (as returned by
// batch.Parse, which also gives h) and queues it in the WAL. It does not
// wait: the returned Pending completes when a quorum has it durable. b is
// modified in place (base offset, leader epoch, maybe timestamps).
func (l *Log) Append(b []byte, h batch.Header, opts AppendOptions) (*Pending, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.failed != nil {
		return nil, l.mu.failed
	}
	l.ack.Lock()
	leader, failed := l.ack.quorum != nil, l.ack.failed
	l.ack.Unlock()
	if failed != nil {
		return nil, failed
	}
	if !leader {
		return nil, fmt.Errorf("partition %s: %w", l.id, kerr.NotLeaderForPartition)
	}
	if h.Transactional() || h.Control() {
		return nil, fmt.Errorf("partition %s: transactional and control batches are not supported yet: %w", l.id, kerr.InvalidRecord)
	}
	var prod *producer
	if h.ProducerID >= 0 {
		prod = l.producerLocked(h.ProducerID)
		dup, err := prod.check(&h)
		if err != nil {
			return nil, fmt.Errorf("partition %s producer %d: %w", l.id, h.ProducerID, err)
		}
		if dup != nil {
			p := &Pending{BaseOffset: dup.base, LogAppendTime: -1, LogStartOffset: l.mu.logStart, Duplicate: true, last: dup.last, done: make(chan struct{})}
			l.wait(p)
			return p, nil
		}
	}

	h.BaseOffset = l.mu.next
	batch.SetBaseOffset(b, h.BaseOffset)
	batch.SetLeaderEpoch(b, l.mu.epoch)
	h.PartitionLeaderEpoch = l.mu.epoch
	p := &Pending{BaseOffset: h.BaseOffset, LogAppendTime: -1, last: h.LastOffset(), done: make(chan struct{})}
	if opts.LogAppendTime {
		now := l.now().UnixMilli()
		batch.SetLogAppendTime(b, now)
		h.MaxTimestamp = now
		h.Attributes |= batch.TimestampTypeBit
		p.LogAppendTime = now
	}

	entry := make([]byte, 0, entryHeaderSize+len(b))
	entry = appendEntryHeader(entry, entryBatch, l.id)
	entry = append(entry, b...)
	end := h.LastOffset() + 1
	pos, err := l.wal.Append(entry, func(_ wal.Position, err error) { l.durable(end, err) })
	if err != nil {
		l.mu.failed = fmt.Errorf("partition %s: wal append: %v: %w", l.id, err, kerr.KafkaStorageError)
		return nil, l.mu.failed
	}
	l.indexLocked(h, pos)
	if prod != nil {
		prod.record(&h)
	}
	p.LogStartOffset = l.mu.logStart
	l.wait(p)
	return p, nil
}

// wait queues p until the high watermark passes its last offset.
func (l *Log) wait(p *Pending) {
	l.ack.Lock()
	defer l.ack.Unlock()
	if l.ack.failed != nil {
		p.err = l.ack.failed
		close(p.done)
		return
	}
	if p.last < l.ack.quorum.HighWatermark() {
		close(p.done)
		return
	}
	i := sort.Search(len(l.ack.waiters), func(i int) bool { return l.ack.waiters[i].last > p.last })
	l.ack.waiters = slices.Insert(l.ack.waiters, i, p)
}

// durable is the WAL's callback: the local replica has every offset below
// end on disk (or the WAL failed).
func (l *Log) durable(end int64, err error) {
	l.ack.Lock()
	defer l.ack.Unlock()
	if err != nil {
		if l.ack.failed == nil {
			l.ack.failed = fmt.Errorf("partition %s: wal sync: %v: %w", l.id, err, kerr.KafkaStorageError)
		}
		for _, p := range l.ack.waiters {
			p.err = l.ack.failed
			close(p.done)
		}
		l.ack.waiters = nil
		return
	}
	if l.ack.quorum == nil {
		return
	}
	before := l.ack.quorum.HighWatermark()
	hw := l.ack.quorum.Durable(l.localID, end)
	if hw == before {
		return
	}
	n := 0
	for n < len(l.ack.waiters) && l.ack.waiters[n].last < hw {
		close(l.ack.waiters[n].done)
		n++
	}
	l.ack.waiters = slices.Delete(l.ack.waiters, 0, n)
	l.notifyAckLocked()
}

// notifyAckLocked wakes everything waiting in Changed; ack must be held.
func (l *Log) notifyAckLocked() {
	close(l.ack.changed)
	l.ack.changed = make(chan struct{})
}

// Changed returns a channel closed the next time the high watermark or the
// log start offset moves: long-polling fetches wait on it.
func (l *Log) Changed() <-chan struct{} {
	l.ack.Lock()
	defer l.ack.Unlock()
	return l.ack.changed
}

// Offsets are a partition's bounds.
type Offsets struct {
	LogStart      int64
	HighWatermark int64 // end of the acknowledged log; consumers read below it
	LogEnd        int64 // next offset to assign, acknowledged or not
}

// Offsets returns the current bounds.
func (l *Log) Offsets() Offsets {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.offsetsLocked()
}

func (l *Log) offsetsLocked() Offsets {
	hw := l.mu.next
	l.ack.Lock()
	if l.ack.quorum != nil {
		hw = l.ack.quorum.HighWatermark()
	}
	l.ack.Unlock()
	return Offsets{LogStart: l.mu.logStart, HighWatermark: hw, LogEnd: l.mu.next}
}

// ReadResult is what a read returns: whole record batches, concatenated.
type ReadResult struct {
	Batches []byte
	Offsets
}

// Reader reads a partition's acknowledged log from any offset. The hot
// implementation is Log (WAL data); the tiering issue adds cold objects
// behind the same interface, and the SQL engine reads through it.
type Reader interface {
	// Read returns whole batches holding offsets at or after offset and
	// below the high watermark, up to maxBytes in total except that the
	// first batch is returned whatever its size when minOne is set. A read
	// at the high watermark returns no batches; a read outside
	// [log start, high watermark] fails with OFFSET_OUT_OF_RANGE.
	Read(offset int64, maxBytes int, minOne bool) (ReadResult, error)
}

var _ Reader = (*Log)(nil)

// Read implements Reader.
func (l *Log) Read(offset int64, maxBytes int, minOne bool) (ReadResult, error) {
	l.mu.Lock()
	off := l.offsetsLocked()
	if offset < off.LogStart || offset > off.HighWatermark {
		l.mu.Unlock()
		return ReadResult{Offsets: off}, fmt.Errorf("partition %s: offset %d outside [%d, %d]: %w", l.id, offset, off.LogStart, off.HighWatermark, kerr.OffsetOutOfRange)
	}
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	var positions []wal.Position
	size := 0
	for ; i < len(l.mu.spans) && l.mu.spans[i].base < off.HighWatermark; i++ {
		n := int(l.mu.spans[i].pos.Length) - entryHeaderSize
		if size+n > maxBytes && !(minOne && len(positions) == 0) {
			break
		}
		size += n
		positions = append(positions, l.mu.spans[i].pos)
	}
	l.mu.Unlock()

	res := ReadResult{Offsets: off, Batches: make([]byte, 0, size)}
	var buf []byte
	for _, pos := range positions {
		b, err := l.readBatch(pos, buf)
		if err != nil {
			return ReadResult{Offsets: off}, err
		}
		res.Batches = append(res.Batches, b...)
		buf = b[:0]
	}
	return res, nil
}

// readBatch reads the record batch stored at pos.
func (l *Log) readBatch(pos wal.Position, buf []byte) ([]byte, error) {
	raw, err := l.wal.ReadAt(pos, buf)
	if err != nil {
		return nil, fmt.Errorf("partition %s: read wal %+v: %v: %w", l.id, pos, err, kerr.KafkaStorageError)
	}
	typ, id, body, err := decodeEntry(raw)
	if err != nil || typ != entryBatch || id != l.id {
		return nil, fmt.Errorf("partition %s: wal entry at %+v is not this partition's batch (%v): %w", l.id, pos, err, kerr.KafkaStorageError)
	}
	return body, nil
}

// DeleteRecords moves the log start offset up to offset (-1: the high
// watermark) durably, and returns the new log start offset.
func (l *Log) DeleteRecords(offset int64) (int64, error) {
	l.mu.Lock()
	off := l.offsetsLocked()
	if offset == -1 {
		offset = off.HighWatermark
	}
	if offset < 0 || offset > off.HighWatermark {
		l.mu.Unlock()
		return off.LogStart, fmt.Errorf("partition %s: delete records to %d outside [0, %d]: %w", l.id, offset, off.HighWatermark, kerr.OffsetOutOfRange)
	}
	if offset <= off.LogStart {
		l.mu.Unlock()
		return off.LogStart, nil
	}
	entry := appendEntryHeader(make([]byte, 0, entryHeaderSize+8), entryLogStart, l.id)
	entry = append(entry, byte(offset>>56), byte(offset>>48), byte(offset>>40), byte(offset>>32), byte(offset>>24), byte(offset>>16), byte(offset>>8), byte(offset))
	done := make(chan error, 1)
	_, err := l.wal.Append(entry, func(_ wal.Position, err error) { done <- err })
	l.mu.Unlock()
	if err == nil {
		err = <-done
	}
	if err != nil {
		return off.LogStart, fmt.Errorf("partition %s: delete records: %v: %w", l.id, err, kerr.KafkaStorageError)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLogStartLocked(offset)
	l.ack.Lock()
	l.notifyAckLocked()
	l.ack.Unlock()
	return l.mu.logStart, nil
}

// ErrNoOffset is returned by OffsetForTimestamp when no record qualifies.
var ErrNoOffset = errors.New("no such offset")

// OffsetForTimestamp returns the offset and timestamp of the first
// acknowledged record whose timestamp is at or after ts.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, err error) {
	l.mu.Lock()
	hw := l.offsetsLocked().HighWatermark
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].maxTSSoFar >= ts })
	if i == len(l.mu.spans) || l.mu.spans[i].base >= hw {
		l.mu.Unlock()
		return -1, -1, ErrNoOffset
	}
	s := l.mu.spans[i]
	logStart := l.mu.logStart
	l.mu.Unlock()
	return l.findRecord(s.pos, func(o, t int64) bool { return o >= logStart && t >= ts })
}

// MaxTimestamp returns the offset and timestamp of the acknowledged record
// with the largest timestamp (the first one, if several share it).
func (l *Log) MaxTimestamp() (offset, timestamp int64, err error) {
	l.mu.Lock()
	hw := l.offsetsLocked().HighWatermark
	best := -1
	for i, s := range l.mu.spans {
		if s.base >= hw {
			break
		}
		if best < 0 || s.maxTS > l.mu.spans[best].maxTS {
			best = i
		}
	}
	if best < 0 {
		l.mu.Unlock()
		return -1, -1, ErrNoOffset
	}
	s := l.mu.spans[best]
	l.mu.Unlock()
	return l.findRecord(s.pos, func(_, t int64) bool { return t >= s.maxTS })
}

// maxDecompressedBatch bounds a stored batch's decompressed records when
// they are decoded (timestamp lookups): producers can send compression
// bombs.
const maxDecompressedBatch = 256 << 20

// findRecord decodes the batch at pos and returns the first record that
// matches.
func (l *Log) findRecord(pos wal.Position, match func(offset, ts int64) bool) (int64, int64, error) {
	b, err := l.readBatch(pos, nil)
	if err != nil {
		return -1, -1, err
	}
	h, recs, err := batch.Records(b, maxDecompressedBatch)
	if err != nil {
		return -1, -1, fmt.Errorf("partition %s: %v: %w", l.id, err, kerr.KafkaStorageError)
	}
	for i := range recs {
		o, t := h.BaseOffset+int64(recs[i].OffsetDelta), h.Timestamp(&recs[i])
		if match(o, t) {
			return o, t, nil
		}
	}
	return -1, -1, ErrNoOffset
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101): the largest
// epoch at or below epoch that this log has, and the offset at which the
// epoch after it starts (the log end offset for the current epoch). It
// returns (-1, -1) when the log has no such epoch.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.mu.epochs), func(i int) bool { return l.mu.epochs[i].Epoch > epoch })
	if i == 0 {
		return -1, -1
	}
	if i == len(l.mu.epochs) {
		return l.mu.epochs[i-1].Epoch, l.mu.next
	}
	return l.mu.epochs[i-1].Epoch, l.mu.epochs[i].StartOffset
}
