package partition

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/quorum"
	"github.com/strata-log/strata/ingest/wal"
)

// The replica side of a partition's log: what a follower does for a
// leader, and what a new leader asks of every replica before it writes.
// The rules are ingest/quorum's (log.go); this file applies them to a log
// in the broker's WAL. Fences and truncations are WAL entries of their own
// (docs/format/wal.md), durable before they are answered, so a restart
// keeps them.

// LogEnd summarises the log for fencing and recovery: where each epoch
// with entries starts, and the log end. Epochs of offsets only in object
// storage may be missing (the WAL that recorded them was released): every
// offset below the tiered offset is acknowledged, so replicas agree there.
func (l *Log) LogEnd() quorum.LogEnd {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logEndLocked()
}

func (l *Log) logEndLocked() quorum.LogEnd {
	out := quorum.LogEnd{End: l.mu.next}
	for i, e := range l.mu.epochs {
		end := l.mu.next
		if i+1 < len(l.mu.epochs) {
			end = l.mu.epochs[i+1].Start
		}
		if e.Start < end {
			out.Epochs = append(out.Epochs, e)
		}
	}
	return out
}

// Fence is a new leader's first request: the log refuses appends of older
// epochs from now on (an older leader on this broker stops leading, its
// waiting appends fail with NOT_LEADER_OR_FOLLOWER), and returns its
// summary for the new leader's recovery. The fence is durable before
// Fence returns. A fence older than the log's fails with
// FENCED_LEADER_EPOCH.
func (l *Log) Fence(epoch int32) (quorum.LogEnd, error) {
	l.mu.Lock()
	raised, err := l.mu.fence.Observe(epoch)
	if err != nil {
		l.mu.Unlock()
		return quorum.LogEnd{}, fmt.Errorf("partition %s: %v: %w", l.id, err, kerr.FencedLeaderEpoch)
	}
	if !raised {
		end := l.logEndLocked()
		l.mu.Unlock()
		return end, nil
	}
	if l.mu.epoch < epoch {
		l.stepDownLocked()
	}
	wait, err := l.appendFenceLocked(epoch)
	end := l.logEndLocked()
	l.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		return quorum.LogEnd{}, fmt.Errorf("partition %s: persist fence %d: %v: %w", l.id, epoch, err, kerr.KafkaStorageError)
	}
	return end, nil
}

// appendFenceLocked writes a fence entry and returns a function waiting
// for it to be durable.
func (l *Log) appendFenceLocked(epoch int32) (func() error, error) {
	entry := appendEntryHeader(make([]byte, 0, entryHeaderSize+4), entryFence, l.id)
	entry = binary.BigEndian.AppendUint32(entry, uint32(epoch))
	done := make(chan error, 1)
	if _, err := l.wal.Append(entry, func(_ wal.Position, err error) { done <- err }); err != nil {
		return nil, err
	}
	return func() error { return <-done }, nil
}

// stepDownLocked ends this broker's leadership: appends waiting for
// acknowledgement fail with NOT_LEADER_OR_FOLLOWER (they may or may not be
// kept by the new leader: a producer retries them), and new appends are
// refused until BecomeLeader.
func (l *Log) stepDownLocked() {
	l.ack.Lock()
	defer l.ack.Unlock()
	if l.ack.quorum == nil {
		return
	}
	l.ack.quorum = nil
	for _, p := range l.ack.waiters {
		p.err = fmt.Errorf("partition %s: leadership moved to a newer epoch: %w", l.id, kerr.NotLeaderForPartition)
		close(p.done)
	}
	l.ack.waiters = nil
	l.notifyAckLocked()
}

// AppendReplica appends batches that the leader of epoch sent, which
// must continue the log exactly (base offsets from the log end on, leader
// epochs at most epoch: the follower truncated to where it agrees with the
// leader first). done is called with the log end once the batches are
// durable, to acknowledge them to the leader. An epoch older than the
// fence fails with FENCED_LEADER_EPOCH; a gap or overlap with
// OFFSET_OUT_OF_RANGE.
func (l *Log) AppendReplica(epoch int32, batches [][]byte, done func(end int64, err error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.failed != nil {
		return l.mu.failed
	}
	raised, err := l.mu.fence.Observe(epoch)
	if err != nil {
		return fmt.Errorf("partition %s: %v: %w", l.id, err, kerr.FencedLeaderEpoch)
	}
	if raised {
		if l.mu.epoch < epoch {
			l.stepDownLocked()
		}
		if _, err := l.appendFenceLocked(epoch); err != nil {
			return l.failLocked(err)
		}
	}
	next := l.mu.next
	headers := make([]batch.Header, len(batches))
	for i, b := range batches {
		h, err := batch.Parse(b)
		if err != nil {
			return fmt.Errorf("partition %s: replicated batch %d: %v: %w", l.id, i, err, kerr.CorruptMessage)
		}
		if h.BaseOffset != next || h.PartitionLeaderEpoch > epoch {
			return fmt.Errorf("partition %s: replicated batch at offset %d epoch %d does not continue the log at %d (epoch %d): %w",
				l.id, h.BaseOffset, h.PartitionLeaderEpoch, next, epoch, kerr.OffsetOutOfRange)
		}
		headers[i] = h
		next = h.LastOffset() + 1
	}
	for i, b := range batches {
		h := headers[i]
		entry := make([]byte, 0, entryHeaderSize+len(b))
		entry = appendEntryHeader(entry, entryBatch, l.id)
		entry = append(entry, b...)
		var cb func(wal.Position, error)
		if i == len(batches)-1 && done != nil {
			end := h.LastOffset() + 1
			cb = func(_ wal.Position, err error) { done(end, err) }
		} else {
			cb = func(wal.Position, error) {}
		}
		pos, err := l.wal.Append(entry, cb)
		if err != nil {
			return l.failLocked(err)
		}
		if n := len(l.mu.epochs); n == 0 || l.mu.epochs[n-1].Epoch < h.PartitionLeaderEpoch {
			l.mu.epochs = append(l.mu.epochs, quorum.EpochStart{Epoch: h.PartitionLeaderEpoch, Start: h.BaseOffset})
		}
		l.indexLocked(h, pos)
		if h.ProducerID >= 0 {
			p := l.producerLocked(h.ProducerID)
			p.record(&h)
			p.lastMs = l.now().UnixMilli()
		}
	}
	return nil
}

func (l *Log) failLocked(err error) error {
	l.mu.failed = fmt.Errorf("partition %s: wal append: %v: %w", l.id, err, kerr.KafkaStorageError)
	return l.mu.failed
}

// TruncateTo drops the log from offset on: a follower's tail that differs
// from its new leader's (quorum.TruncationPoint). Only unacknowledged
// entries can differ, so offset is never below the high watermark; the
// truncation is durable before TruncateTo returns.
func (l *Log) TruncateTo(offset int64) error {
	l.mu.Lock()
	off := l.offsetsLocked()
	if offset >= l.mu.next {
		l.mu.Unlock()
		return nil
	}
	if offset < off.HighWatermark || offset < l.mu.tiered {
		l.mu.Unlock()
		return fmt.Errorf("partition %s: truncate to %d below the acknowledged offset %d: %w", l.id, offset, max(off.HighWatermark, l.mu.tiered), kerr.OffsetOutOfRange)
	}
	entry := appendEntryHeader(make([]byte, 0, entryHeaderSize+8), entryTruncate, l.id)
	entry = binary.BigEndian.AppendUint64(entry, uint64(offset))
	done := make(chan error, 1)
	if _, err := l.wal.Append(entry, func(_ wal.Position, err error) { done <- err }); err != nil {
		err = l.failLocked(err)
		l.mu.Unlock()
		return err
	}
	l.truncateLocked(offset)
	l.mu.Unlock()
	if err := <-done; err != nil {
		return fmt.Errorf("partition %s: truncate to %d: %v: %w", l.id, offset, err, kerr.KafkaStorageError)
	}
	return nil
}

// truncateLocked drops the index, epochs and producer batches at and above
// offset (a batch straddling it goes too: truncation points are batch
// boundaries).
func (l *Log) truncateLocked(offset int64) {
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	l.mu.next = offset
	if i < len(l.mu.spans) {
		l.mu.next = min(offset, l.mu.spans[i].base)
	}
	l.mu.spans = slices.Clip(l.mu.spans[:i])
	j := sort.Search(len(l.mu.epochs), func(j int) bool { return l.mu.epochs[j].Start >= l.mu.next })
	l.mu.epochs = slices.Clip(l.mu.epochs[:j])
	for id, p := range l.mu.producers {
		if p.dropFrom(l.mu.next) {
			delete(l.mu.producers, id)
		}
	}
	l.tail.Lock()
	k := 0
	for k < len(l.tail.batches) && l.tail.batches[k].base < l.mu.next {
		k++
	}
	l.tail.batches = slices.Clip(l.tail.batches[:k])
	l.tail.Unlock()
}

func (l *Log) replayTruncate(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if offset < l.mu.next {
		l.truncateLocked(max(offset, l.mu.tiered))
	}
}

func (l *Log) replayFence(epoch int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.fence.Epoch = max(l.mu.fence.Epoch, epoch)
}

// SetHighWatermark tells a follower its leader's high watermark: offsets
// below it (and below the follower's own end) are acknowledged, visible
// to consumers of this replica and never truncated.
func (l *Log) SetHighWatermark(hw int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hw <= l.mu.replicaHW {
		return
	}
	l.mu.replicaHW = hw
	l.ack.Lock()
	l.notifyAckLocked()
	l.ack.Unlock()
}

// ReadReplica returns whole batches from offset on, up to maxBytes (at
// least one if there is any), acknowledged or not, and the log end: what a
// leader sends a follower. Offsets the WAL no longer holds fail with
// OFFSET_OUT_OF_RANGE: a follower that far behind starts from the tiered
// end instead.
func (l *Log) ReadReplica(offset int64, maxBytes int) ([][]byte, int64, error) {
	l.mu.Lock()
	end := l.mu.next
	if offset == end {
		l.mu.Unlock()
		return nil, end, nil
	}
	if offset > end || offset < l.hotStartLocked() {
		hot := l.hotStartLocked()
		l.mu.Unlock()
		return nil, end, fmt.Errorf("partition %s: replica read at %d outside the WAL's [%d, %d]: %w", l.id, offset, hot, end, kerr.OffsetOutOfRange)
	}
	i := sort.Search(len(l.mu.spans), func(i int) bool { return l.mu.spans[i].last >= offset })
	if l.mu.spans[i].base != offset {
		l.mu.Unlock()
		return nil, end, fmt.Errorf("partition %s: replica read at %d, inside the batch at %d: %w", l.id, offset, l.mu.spans[i].base, kerr.OffsetOutOfRange)
	}
	var spans []span
	size := 0
	for ; i < len(l.mu.spans); i++ {
		n := int(l.mu.spans[i].pos.Length) - entryHeaderSize
		if len(spans) > 0 && size+n > maxBytes {
			break
		}
		size += n
		spans = append(spans, l.mu.spans[i])
	}
	l.mu.Unlock()
	out := make([][]byte, 0, len(spans))
	for _, s := range spans {
		b, err := l.readSpan(s, nil)
		if err != nil {
			if len(out) > 0 {
				break // what was read goes now; the rest once durable
			}
			return nil, end, err
		}
		out = append(out, b)
	}
	return out, end, nil
}

// Leader-change control record: what a new leader writes first in its
// epoch. Key: version (int16, 0) and type (int16, 2 = LEADER_CHANGE, as
// KRaft's); value: version (int16, 0) and the leader's broker id (int32).
// Consumers skip control records.
const controlLeaderChange = 2

// LeadRecovered makes the local broker the partition's leader for epoch
// after recovery: the log holds the recovery source's log, the fence is at
// epoch (Fence was called), and a quorum of replicas was fenced. It writes
// the epoch's first entry, a leader-change control batch, and acknowledges
// nothing until a quorum holds that entry (quorum.Tracker's epoch-start
// rule): entries of earlier epochs become acknowledged with it. The high
// watermark starts at what this replica knew acknowledged. The returned
// Pending completes when the control batch is acknowledged: the leader's
// log is then committed up to its end.
func (l *Log) LeadRecovered(epoch int32, replicas []int32, ackQuorum int) (*Pending, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.mu.fence.Epoch || epoch <= l.mu.epoch {
		return nil, fmt.Errorf("partition %s: lead epoch %d: fenced at %d, led %d: %w", l.id, epoch, l.mu.fence.Epoch, l.mu.epoch, kerr.FencedLeaderEpoch)
	}
	t, err := quorum.New(replicas, ackQuorum, l.offsetsLocked().HighWatermark)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", l.id, err)
	}
	start := l.mu.next
	t.RequireEpochStart(start)
	l.mu.epoch = epoch
	l.mu.replicated = len(replicas) > 1
	l.ack.Lock()
	l.ack.quorum = t
	l.ack.Unlock()

	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), controlLeaderChange)
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(l.localID))
	b, err := batch.Build(batch.Header{BaseOffset: start, PartitionLeaderEpoch: epoch, Attributes: batch.ControlBit,
		FirstTimestamp: l.now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]kmsg.Record{{Key: key, Value: value}})
	if err != nil {
		return nil, err
	}
	h, err := batch.ReadHeader(b)
	if err != nil {
		return nil, err
	}
	l.mu.epochs = append(l.mu.epochs, quorum.EpochStart{Epoch: epoch, Start: start})
	return l.appendLocked(b, h)
}
