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
	"bytes"
	"context"
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
	// cumBytes is the size of this batch plus every earlier span's: the
	// bytes between two spans are a subtraction.
	cumBytes int64
	appended int64 // unix ms when the batch was appended (or replayed)
}

// Cold serves a partition's tiered data: the records below its tiered
// offset, in object storage. tiering implements it; the broker wires it.
type Cold interface {
	// Read returns whole batches of partition id holding offsets at or
	// after offset, up to maxBytes in total except that the first batch
	// is returned whatever its size when minOne is set. It returns no
	// batches if nothing at or after offset is tiered.
	Read(ctx context.Context, id ID, offset int64, maxBytes int, minOne bool) ([]byte, error)
	// OffsetForTimestamp returns the first tiered record at or after
	// offset from whose timestamp is at or after ts, or ErrNoOffset.
	OffsetForTimestamp(ctx context.Context, id ID, from, ts int64) (offset, timestamp int64, err error)
	// MaxTimestamp returns the first tiered record at or after offset
	// from with the largest timestamp, or ErrNoOffset.
	MaxTimestamp(ctx context.Context, id ID, from int64) (offset, timestamp int64, err error)
}

// Log is one partition's log. Create it with newLog through a Manager.
type Log struct {
	id      ID
	wal     WAL
	cold    Cold // nil: nothing is ever tiered
	localID int32
	now     func() time.Time

	mu struct {
		sync.Mutex
		spans       []span
		next        int64 // log end offset: the next offset to assign
		logStart    int64
		tiered      int64 // offsets below are in object storage
		fence       quorum.Fence
		replicaHW   int64 // a follower's high watermark, from its leader
		epoch       int32 // current leader epoch; -1 until BecomeLeader
		epochs      []quorum.EpochStart
		quorum      *quorum.Tracker
		producers   map[int64]*producer
		failed      error          // the WAL refused an append
		appendHooks map[int]func() // called after every append, under mu
		replicated  bool           // leads with followers: keep the tail
		nextHook    int
	}
	// tail keeps the leader's batches that its WAL has not synced yet, so
	// that replication sends them to followers while the local fsync is
	// still running (a WAL read of them would wait for it). Its own lock,
	// taken with mu held or by the WAL's durability callback alone.
	tail struct {
		sync.Mutex
		batches []tailBatch
	}
	ack struct {
		sync.Mutex
		quorum  *quorum.Tracker
		waiters []*Pending // unacknowledged appends in offset order
		changed chan struct{}
		failed  error // the WAL failed to sync
	}
}

func newLog(id ID, w WAL, cold Cold, localID int32) *Log {
	l := &Log{id: id, wal: w, cold: cold, localID: localID, now: time.Now}
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
	if epoch < l.mu.epoch || epoch < l.mu.fence.Epoch {
		return fmt.Errorf("partition %s: epoch %d is older than %d: %w", l.id, epoch, max(l.mu.epoch, l.mu.fence.Epoch), kerr.FencedLeaderEpoch)
	}
	l.mu.fence.Epoch = epoch
	t, err := quorum.New(replicas, ackQuorum, l.mu.next)
	if err != nil {
		return fmt.Errorf("partition %s: %w", l.id, err)
	}
	l.mu.epoch = epoch
	l.mu.replicated = len(replicas) > 1
	if n := len(l.mu.epochs); n == 0 || l.mu.epochs[n-1].Epoch < epoch {
		l.mu.epochs = append(l.mu.epochs, quorum.EpochStart{Epoch: epoch, Start: l.mu.next})
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
	if n := len(l.mu.epochs); n == 0 || l.mu.epochs[n-1].Epoch < h.PartitionLeaderEpoch {
		l.mu.epochs = append(l.mu.epochs, quorum.EpochStart{Epoch: h.PartitionLeaderEpoch, Start: h.BaseOffset})
	}
	if h.ProducerID >= 0 {
		p := l.producerLocked(h.ProducerID)
		p.record(&h)
		p.lastMs = l.now().UnixMilli()
	}
	switch {
	case h.LastOffset() < l.mu.tiered:
		return nil // tiered and its WAL segment not yet released: serve it cold
	case h.BaseOffset < l.mu.tiered:
		return fmt.Errorf("partition %s at %+v: batch %d-%d straddles the tiered offset %d", l.id, pos, h.BaseOffset, h.LastOffset(), l.mu.tiered)
	case len(l.mu.spans) == 0 && l.mu.next == 0:
		l.mu.logStart = max(l.mu.logStart, h.BaseOffset) // earlier segments were released
	case h.BaseOffset != l.mu.next:
		return fmt.Errorf("partition %s at %+v: batch at offset %d but log ends at %d", l.id, pos, h.BaseOffset, l.mu.next)
	}
	l.indexLocked(h, pos)
	return nil
}

// restoreTiered seeds a log, before its WAL is replayed, with what its
// manifest says: offsets below t.End are in object storage, the log starts
// at t.LogStart, and these producers wrote there.
func (l *Log) restoreTiered(t Tiered) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.tiered = max(l.mu.tiered, t.End)
	l.mu.next = max(l.mu.next, t.End)
	l.setLogStartLocked(t.LogStart)
	for _, st := range t.Producers {
		l.producerLocked(st.ID).restore(st)
	}
}

func (l *Log) replayLogStart(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLogStartLocked(offset)
}

func (l *Log) indexLocked(h batch.Header, pos wal.Position) {
	s := span{base: h.BaseOffset, last: h.LastOffset(), maxTS: h.MaxTimestamp, maxTSSoFar: h.MaxTimestamp, pos: pos,
		cumBytes: int64(pos.Length) - entryHeaderSize, appended: l.now().UnixMilli()}
	if n := len(l.mu.spans); n > 0 {
		s.maxTSSoFar = max(s.maxTSSoFar, l.mu.spans[n-1].maxTSSoFar)
		s.cumBytes += l.mu.spans[n-1].cumBytes
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
	// Everything below the start counts as tiered: there is nothing
	// there left to upload.
	l.mu.tiered = max(l.mu.tiered, offset)
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

	if err := l.writeLocked(b, h, prod); err != nil {
		return nil, err
	}
	p.LogStartOffset = l.mu.logStart
	l.wait(p)
	return p, nil
}

// appendLocked writes a batch the leader built itself (b's base offset is
// the log end, its epoch the leader's) and returns its Pending.
func (l *Log) appendLocked(b []byte, h batch.Header) (*Pending, error) {
	p := &Pending{BaseOffset: h.BaseOffset, LogAppendTime: -1, last: h.LastOffset(), done: make(chan struct{})}
	if err := l.writeLocked(b, h, nil); err != nil {
		return nil, err
	}
	p.LogStartOffset = l.mu.logStart
	l.wait(p)
	return p, nil
}

// writeLocked appends the leader's batch to the WAL, indexes it, records
// its producer and wakes replication.
func (l *Log) writeLocked(b []byte, h batch.Header, prod *producer) error {
	entry := make([]byte, 0, entryHeaderSize+len(b))
	entry = appendEntryHeader(entry, entryBatch, l.id)
	entry = append(entry, b...)
	end := h.LastOffset() + 1
	pos, err := l.wal.Append(entry, func(_ wal.Position, err error) { l.durable(end, err) })
	if err != nil {
		l.mu.failed = fmt.Errorf("partition %s: wal append: %v: %w", l.id, err, kerr.KafkaStorageError)
		return l.mu.failed
	}
	l.indexLocked(h, pos)
	if prod != nil {
		prod.record(&h)
		prod.lastMs = l.now().UnixMilli()
	}
	if l.mu.replicated {
		l.tail.Lock()
		l.tail.batches = append(l.tail.batches, tailBatch{base: h.BaseOffset, last: h.LastOffset(), b: bytes.Clone(b)})
		l.tail.Unlock()
	}
	for _, hook := range l.mu.appendHooks {
		hook()
	}
	return nil
}

// tailBatch is a batch not yet durable in the local WAL.
type tailBatch struct {
	base, last int64
	b          []byte
}

// trimTail drops the tail's batches below end, now durable.
func (l *Log) trimTail(end int64) {
	l.tail.Lock()
	defer l.tail.Unlock()
	n := 0
	for n < len(l.tail.batches) && l.tail.batches[n].last < end {
		n++
	}
	if n > 0 {
		l.tail.batches = slices.Delete(l.tail.batches, 0, n)
	}
}

// tailBatch returns the unsynced batch at base, if the tail holds it.
func (l *Log) tailAt(base int64) ([]byte, bool) {
	l.tail.Lock()
	defer l.tail.Unlock()
	for _, t := range l.tail.batches {
		if t.base == base {
			return t.b, true
		}
	}
	return nil, false
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
	l.trimTail(end)
	l.replicaDurableLocked(l.localID, end)
}

// ReplicaDurable records that a follower has the log durable below end
// (its acknowledgement of replicated batches): appends below the new high
// watermark complete.
func (l *Log) ReplicaDurable(replica int32, end int64) {
	l.ack.Lock()
	defer l.ack.Unlock()
	l.replicaDurableLocked(replica, end)
}

func (l *Log) replicaDurableLocked(replica int32, end int64) {
	if l.ack.quorum == nil || l.ack.failed != nil {
		return
	}
	before := l.ack.quorum.HighWatermark()
	hw := l.ack.quorum.Durable(replica, end)
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

// OnAppend registers hook to be called after every append by the leader
// (replication wakes its senders with it). hook runs with the log locked:
// it must not block or call back into the log. It returns a function
// removing the hook.
func (l *Log) OnAppend(hook func()) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.appendHooks == nil {
		l.mu.appendHooks = map[int]func(){}
	}
	id := l.mu.nextHook
	l.mu.nextHook++
	l.mu.appendHooks[id] = hook
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.mu.appendHooks, id)
	}
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
	// A follower's high watermark is its leader's; everything tiered is
	// acknowledged.
	hw := min(l.mu.next, max(l.mu.replicaHW, l.mu.tiered, l.mu.logStart))
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

// Reader reads a partition's acknowledged log from any offset, whichever
// tier holds it. Log implements it over the WAL and its Cold store; the SQL
// engine reads through it.
type Reader interface {
	// Read returns whole batches holding offsets at or after offset and
	// below the high watermark, up to maxBytes in total except that the
	// first batch is returned whatever its size when minOne is set. A read
	// at or above the high watermark (up to the log end) returns no
	// batches; a read outside [log start, log end] fails with
	// OFFSET_OUT_OF_RANGE. A read
	// of tiered offsets may return fewer batches than fit: the next read
	// continues where it stopped.
	Read(ctx context.Context, offset int64, maxBytes int, minOne bool) (ReadResult, error)
}

var _ Reader = (*Log)(nil)

// Read implements Reader.
func (l *Log) Read(ctx context.Context, offset int64, maxBytes int, minOne bool) (ReadResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := l.read(ctx, offset, maxBytes, minOne)
		// A WAL segment released between indexing and reading: its data is
		// tiered, so the next attempt reads it cold.
		if errors.Is(err, wal.ErrSegmentNotFound) && attempt < 3 {
			continue
		}
		return res, err
	}
}

func (l *Log) read(ctx context.Context, offset int64, maxBytes int, minOne bool) (ReadResult, error) {
	l.mu.Lock()
	off := l.offsetsLocked()
	if offset < off.LogStart || offset > off.LogEnd {
		l.mu.Unlock()
		return ReadResult{Offsets: off}, fmt.Errorf("partition %s: offset %d outside [%d, %d]: %w", l.id, offset, off.LogStart, off.LogEnd, kerr.OffsetOutOfRange)
	}
	if offset >= off.HighWatermark {
		// Not acknowledged yet. A new leader's high watermark can be
		// behind the one its predecessor showed until its epoch's first
		// entry is acknowledged: a consumer there waits, as in Kafka.
		l.mu.Unlock()
		return ReadResult{Offsets: off}, nil
	}
	if hot := l.hotStartLocked(); offset < hot {
		l.mu.Unlock()
		res, err := l.readCold(ctx, off, offset, maxBytes, minOne)
		if err != nil || len(res.Batches) > 0 || hot >= off.HighWatermark {
			return res, err
		}
		// Compaction emptied the rest of the tiered log: go on in the WAL.
		l.mu.Lock()
		offset = max(offset, l.hotStartLocked())
	}
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	var spans []span
	size := 0
	for ; i < len(l.mu.spans) && l.mu.spans[i].base < off.HighWatermark; i++ {
		n := int(l.mu.spans[i].pos.Length) - entryHeaderSize
		if size+n > maxBytes && !(minOne && len(spans) == 0) {
			break
		}
		size += n
		spans = append(spans, l.mu.spans[i])
	}
	l.mu.Unlock()

	res := ReadResult{Offsets: off, Batches: make([]byte, 0, size)}
	var buf []byte
	for _, s := range spans {
		b, err := l.readSpan(s, buf)
		if err != nil {
			return ReadResult{Offsets: off}, err
		}
		res.Batches = append(res.Batches, b...)
		buf = b[:0]
	}
	return res, nil
}

// readSpan reads an indexed batch: from the WAL, or from the tail while
// the WAL is still syncing it (with replication a quorum of followers can
// acknowledge a batch before the leader's own fsync ends).
func (l *Log) readSpan(s span, buf []byte) ([]byte, error) {
	b, err := l.readBatch(s.pos, buf)
	if errors.Is(err, wal.ErrNotDurable) {
		if t, ok := l.tailAt(s.base); ok {
			return append(buf, t...), nil
		}
		// The sync completed in between and trimmed the tail.
		return l.readBatch(s.pos, buf)
	}
	return b, err
}

// hotStartLocked is the first offset the WAL still holds: reads below it
// go to the Cold store.
func (l *Log) hotStartLocked() int64 {
	if len(l.mu.spans) > 0 {
		return l.mu.spans[0].base
	}
	return l.mu.next
}

func (l *Log) readCold(ctx context.Context, off Offsets, offset int64, maxBytes int, minOne bool) (ReadResult, error) {
	if l.cold == nil {
		return ReadResult{Offsets: off}, fmt.Errorf("partition %s: offset %d is tiered but the broker has no object store: %w", l.id, offset, kerr.KafkaStorageError)
	}
	b, err := l.cold.Read(ctx, l.id, offset, maxBytes, minOne)
	if err != nil {
		if start := l.Offsets().LogStart; offset < start {
			// Retention removed the object meanwhile.
			return ReadResult{Offsets: off}, fmt.Errorf("partition %s: offset %d is below the log start %d: %w", l.id, offset, start, kerr.OffsetOutOfRange)
		}
		return ReadResult{Offsets: off}, fmt.Errorf("partition %s: read tiered offset %d: %v: %w", l.id, offset, err, kerr.KafkaStorageError)
	}
	return ReadResult{Offsets: off, Batches: b}, nil
}

// readBatch reads the record batch stored at pos.
func (l *Log) readBatch(pos wal.Position, buf []byte) ([]byte, error) {
	raw, err := l.wal.ReadAt(pos, buf)
	if err != nil {
		return nil, fmt.Errorf("partition %s: read wal %+v: %w: %w", l.id, pos, err, kerr.KafkaStorageError)
	}
	typ, id, body, err := decodeEntry(raw)
	if err != nil || typ != entryBatch || id != l.id {
		return nil, fmt.Errorf("partition %s: wal entry at %+v is not this partition's batch (%v): %w", l.id, pos, err, kerr.KafkaStorageError)
	}
	return body, nil
}

// TierStatus is what the tiering loop needs to know about a log.
type TierStatus struct {
	Offsets
	// Tiered is the offset below which records are in object storage.
	Tiered int64
	// UntieredBytes is the size of the acknowledged batches from Tiered
	// up to the high watermark.
	UntieredBytes int64
	// Oldest is when the first of those batches was appended (zero when
	// there are none). Batches recovered from the WAL count as appended
	// when they were replayed.
	Oldest time.Time
}

// TierStatus returns the log's tiering state.
func (l *Log) TierStatus() TierStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := TierStatus{Offsets: l.offsetsLocked(), Tiered: l.mu.tiered}
	i, j := l.untieredLocked(st.HighWatermark)
	if i < j {
		first := &l.mu.spans[i]
		st.UntieredBytes = l.mu.spans[j-1].cumBytes - first.cumBytes + int64(first.pos.Length) - entryHeaderSize
		st.Oldest = time.UnixMilli(l.mu.spans[i].appended)
	}
	return st
}

// untieredLocked returns the span indexes [i, j) of the acknowledged
// batches at or above the tiered offset.
func (l *Log) untieredLocked(hw int64) (i, j int) {
	i = sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].base >= l.mu.tiered })
	j = sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= hw })
	return i, max(i, j)
}

// ReadUntiered returns acknowledged batches from the tiered offset on, up
// to maxBytes in total (at least one batch if there is any), and the offset
// after the last one returned. A batch never straddles the returned end.
func (l *Log) ReadUntiered(maxBytes int64) (batches [][]byte, end int64, err error) {
	l.mu.Lock()
	hw := l.offsetsLocked().HighWatermark
	i, j := l.untieredLocked(hw)
	end = l.mu.tiered
	var positions []wal.Position
	var size int64
	for ; i < j; i++ {
		n := int64(l.mu.spans[i].pos.Length) - entryHeaderSize
		if len(positions) > 0 && size+n > maxBytes {
			break
		}
		size += n
		positions = append(positions, l.mu.spans[i].pos)
		end = l.mu.spans[i].last + 1
	}
	l.mu.Unlock()
	for _, pos := range positions {
		b, err := l.readBatch(pos, nil)
		if err != nil {
			return nil, 0, err
		}
		batches = append(batches, b)
	}
	return batches, end, nil
}

// SetTiered records that every offset below tiered is in object storage,
// committed to the manifest, and that the log now starts at logStart (it
// never moves back). The WAL keeps the batches until Manager.ReleaseWAL.
func (l *Log) SetTiered(tiered, logStart int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.tiered = max(l.mu.tiered, tiered)
	if logStart > l.mu.logStart {
		l.setLogStartLocked(logStart)
		l.ack.Lock()
		l.notifyAckLocked()
		l.ack.Unlock()
	}
}

// ReadColdBelow makes reads of offsets below offset (at most the tiered
// offset) go to the Cold store even while the WAL still holds them: the
// tiered copy was rewritten (compacted) and is the one to serve.
func (l *Log) ReadColdBelow(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	offset = min(offset, l.mu.tiered)
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	l.mu.spans = slices.Delete(l.mu.spans, 0, i)
}

// firstUntieredSegment returns the WAL segment of the first batch not yet
// tiered, and false if every batch in the WAL is tiered.
func (l *Log) firstUntieredSegment() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].base >= l.mu.tiered })
	if i == len(l.mu.spans) {
		return 0, false
	}
	return l.mu.spans[i].pos.Segment, true
}

// forgetSegmentsBefore drops the index entries of batches in WAL segments
// below seq, which are gone: they are read from the Cold store from now on.
func (l *Log) forgetSegmentsBefore(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].pos.Segment >= seq })
	l.mu.spans = slices.Delete(l.mu.spans, 0, i)
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
// acknowledged record whose timestamp is at or after ts, in either tier.
func (l *Log) OffsetForTimestamp(ctx context.Context, ts int64) (offset, timestamp int64, err error) {
	l.mu.Lock()
	hw := l.offsetsLocked().HighWatermark
	logStart, hotStart := l.mu.logStart, l.hotStartLocked()
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].maxTSSoFar >= ts })
	var s *span
	if i < len(l.mu.spans) && l.mu.spans[i].base < hw {
		s = &span{}
		*s = l.mu.spans[i]
	}
	l.mu.Unlock()
	if logStart < hotStart && l.cold != nil {
		o, t, err := l.cold.OffsetForTimestamp(ctx, l.id, logStart, ts)
		if err == nil || !errors.Is(err, ErrNoOffset) {
			return o, t, err
		}
	}
	if s == nil {
		return -1, -1, ErrNoOffset
	}
	return l.findRecord(s.pos, func(o, t int64) bool { return o >= logStart && t >= ts })
}

// MaxTimestamp returns the offset and timestamp of the acknowledged record
// with the largest timestamp (the first one, if several share it), in
// either tier.
func (l *Log) MaxTimestamp(ctx context.Context) (offset, timestamp int64, err error) {
	l.mu.Lock()
	hw := l.offsetsLocked().HighWatermark
	logStart, hotStart := l.mu.logStart, l.hotStartLocked()
	best := -1
	for i, s := range l.mu.spans {
		if s.base >= hw {
			break
		}
		if best < 0 || s.maxTS > l.mu.spans[best].maxTS {
			best = i
		}
	}
	var s span
	if best >= 0 {
		s = l.mu.spans[best]
	}
	l.mu.Unlock()
	coldOff, coldTS := int64(-1), int64(-1)
	if logStart < hotStart && l.cold != nil {
		coldOff, coldTS, err = l.cold.MaxTimestamp(ctx, l.id, logStart)
		if err != nil && !errors.Is(err, ErrNoOffset) {
			return -1, -1, err
		}
	}
	if best < 0 || (coldOff >= 0 && coldTS >= s.maxTS) {
		if coldOff < 0 {
			return -1, -1, ErrNoOffset
		}
		return coldOff, coldTS, nil
	}
	return l.findRecord(s.pos, func(o, t int64) bool { return o >= logStart && t >= s.maxTS })
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
	return l.mu.epochs[i-1].Epoch, l.mu.epochs[i].Start
}
