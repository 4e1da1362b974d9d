package partition

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/strata-log/strata/ingest/wal"
)

// ReplayWAL is the broker's whole WAL: it can also be replayed from the
// start and have its oldest segments removed.
type ReplayWAL interface {
	WAL
	Replay(from wal.Position, fn func(pos wal.Position, data []byte) error) error
	Segments() []uint64
	RemoveSegmentsBefore(seq uint64) error
}

// Manager owns the Logs of every partition the broker holds.
type Manager struct {
	wal     ReplayWAL
	cold    Cold
	localID int32

	mu   sync.RWMutex
	logs map[ID]*Log
}

// NewManager returns a Manager whose logs live in w, with their tiered
// data in cold (nil: the broker tiers nothing); localID is this broker's
// id, the replica the logs report durability for.
func NewManager(w ReplayWAL, cold Cold, localID int32) *Manager {
	return &Manager{wal: w, cold: cold, localID: localID, logs: map[ID]*Log{}}
}

// Tiered is a partition's tiering state as its manifest records it.
type Tiered struct {
	End       int64 // offsets below are in object storage
	LogStart  int64
	Producers []ProducerState
}

// Restore seeds the partitions' logs with their manifests' state. Call it
// before Recover, so that replay skips what is already tiered.
func (m *Manager) Restore(tiered map[ID]Tiered) {
	for id, t := range tiered {
		m.Open(id).restoreTiered(t)
	}
}

// Recover replays the whole WAL, rebuilding the index, log start offset,
// leader epochs and producer state of every partition for which keep
// returns true. Entries of other partitions (deleted topics) are skipped.
func (m *Manager) Recover(keep func(ID) bool) error {
	return m.wal.Replay(wal.Position{}, func(pos wal.Position, data []byte) error {
		typ, id, body, err := decodeEntry(data)
		if err != nil {
			return fmt.Errorf("wal entry at segment %d offset %d: %w", pos.Segment, pos.Offset, err)
		}
		if !keep(id) {
			return nil
		}
		l := m.Open(id)
		switch typ {
		case entryBatch:
			return l.replayBatch(pos, body)
		case entryLogStart:
			l.replayLogStart(int64(binary.BigEndian.Uint64(body)))
		case entryTruncate:
			l.replayTruncate(int64(binary.BigEndian.Uint64(body)))
		case entryFence:
			l.replayFence(int32(binary.BigEndian.Uint32(body)))
		}
		return nil
	})
}

// Open returns the partition's Log, creating an empty one if needed.
func (m *Manager) Open(id ID) *Log {
	m.mu.RLock()
	l := m.logs[id]
	m.mu.RUnlock()
	if l != nil {
		return l
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l = m.logs[id]; l == nil {
		l = newLog(id, m.wal, m.cold, m.localID)
		m.logs[id] = l
	}
	return l
}

// Log returns the partition's Log, or nil if the broker does not hold it.
func (m *Manager) Log(id ID) *Log {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.logs[id]
}

// Drop forgets a partition (its topic was deleted). Its entries stay in the
// WAL until their segments are released and are skipped on recovery.
func (m *Manager) Drop(id ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.logs, id)
}

// Logs returns every partition's Log.
func (m *Manager) Logs() []*Log {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// ActiveSegment returns the WAL segment appends go to now. The tiering
// loop reads it before it reads what to tier: anything appended after
// (a log start entry, say) is in this segment or a later one.
func (m *Manager) ActiveSegment() uint64 {
	segs := m.wal.Segments()
	return segs[len(segs)-1]
}

// ReleaseWAL removes the WAL segments below limit that hold no untiered
// batch of any partition, and returns the first segment kept. The caller
// must have committed every log start offset written in those segments
// (manifests carry them), which holds if limit was the ActiveSegment
// before the tiered state was read.
func (m *Manager) ReleaseWAL(limit uint64) (uint64, error) {
	for _, l := range m.Logs() {
		if seg, ok := l.firstUntieredSegment(); ok {
			limit = min(limit, seg)
		}
	}
	// Forget first: a read racing with the removal then goes cold
	// instead of failing on a missing segment.
	for _, l := range m.Logs() {
		l.forgetSegmentsBefore(limit)
	}
	if err := m.wal.RemoveSegmentsBefore(limit); err != nil {
		return limit, err
	}
	return limit, nil
}
