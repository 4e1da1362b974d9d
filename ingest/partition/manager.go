package partition

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/strata-log/strata/ingest/wal"
)

// ReplayWAL is a WAL that can also be replayed from the start.
type ReplayWAL interface {
	WAL
	Replay(from wal.Position, fn func(pos wal.Position, data []byte) error) error
}

// Manager owns the Logs of every partition the broker holds.
type Manager struct {
	wal     ReplayWAL
	localID int32

	mu   sync.RWMutex
	logs map[ID]*Log
}

// NewManager returns a Manager whose logs live in w; localID is this
// broker's id, the replica the logs report durability for.
func NewManager(w ReplayWAL, localID int32) *Manager {
	return &Manager{wal: w, localID: localID, logs: map[ID]*Log{}}
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
		l = newLog(id, m.wal, m.localID)
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
