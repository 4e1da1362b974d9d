// Package quorum decides when a partition's writes are acknowledged.
//
// It is pure bookkeeping in the style of etcd raft's quorum package: no
// goroutines, no I/O, no clock. The partition leader reports, for each
// replica, the end offset (exclusive) of the log that replica has made
// durable; the Tracker answers with the high watermark, the largest offset
// below which an ack quorum of replicas is durable. Records below the high
// watermark are acknowledged and visible to consumers; nothing above it is.
//
// With replication factor 1 the only replica is the leader and the high
// watermark is its durable end; with more, the Tracker waits for a
// majority. log.go holds the rest of the replication rules (leader epochs,
// fencing, recovery, truncation) as pure functions, and model_test.go
// checks them on simulated clusters.
package quorum

import (
	"fmt"
	"slices"
)

// Tracker tracks the durable end offset of every replica of one partition
// for one leadership epoch.
type Tracker struct {
	replicas   []int32
	durable    []int64 // durable end per replica, same order as replicas
	ackQuorum  int
	hw         int64
	epochStart int64 // the high watermark moves only past this offset
}

// New returns a tracker for the given replicas, acknowledging once
// ackQuorum of them are durable, starting from high watermark hw (the end
// offset already acknowledged in earlier epochs).
func New(replicas []int32, ackQuorum int, hw int64) (*Tracker, error) {
	if len(replicas) == 0 {
		return nil, fmt.Errorf("quorum: no replicas")
	}
	if ackQuorum < 1 || ackQuorum > len(replicas) {
		return nil, fmt.Errorf("quorum: ack quorum %d out of range for %d replicas", ackQuorum, len(replicas))
	}
	seen := map[int32]bool{}
	for _, r := range replicas {
		if seen[r] {
			return nil, fmt.Errorf("quorum: replica %d listed twice", r)
		}
		seen[r] = true
	}
	t := &Tracker{
		replicas:  slices.Clone(replicas),
		durable:   make([]int64, len(replicas)),
		ackQuorum: ackQuorum,
		hw:        hw,
	}
	for i := range t.durable {
		t.durable[i] = hw
	}
	return t, nil
}

// Majority is the ack quorum of n replicas: more than half.
func Majority(n int) int { return n/2 + 1 }

// Durable records that replica has made every offset below end durable and
// returns the high watermark afterwards. Reports for unknown replicas and
// reports that go backwards are ignored: a replica never un-syncs data it
// acknowledged within an epoch.
func (t *Tracker) Durable(replica int32, end int64) int64 {
	i := slices.Index(t.replicas, replica)
	if i < 0 || end <= t.durable[i] {
		return t.hw
	}
	t.durable[i] = end
	if c := t.committed(); c > t.epochStart {
		t.hw = max(t.hw, c)
	}
	return t.hw
}

// RequireEpochStart makes the high watermark move only once a quorum has
// the entry at offset start durable: the first entry of the leader's own
// epoch. A new leader's log holds entries of earlier epochs that may or
// may not have been acknowledged; they are acknowledged together with an
// entry of its epoch, never by counting copies of them (Raft's rule for
// entries of earlier terms; without it a later leader may overwrite
// entries a quorum held).
func (t *Tracker) RequireEpochStart(start int64) { t.epochStart = start }

// committed is the ackQuorum-th largest durable end.
func (t *Tracker) committed() int64 {
	var buf [8]int64
	sorted := append(buf[:0], t.durable...)
	slices.Sort(sorted)
	return sorted[len(sorted)-t.ackQuorum]
}

// HighWatermark is the end offset acknowledged by the quorum.
func (t *Tracker) HighWatermark() int64 { return t.hw }

// Replicas returns the tracked replicas.
func (t *Tracker) Replicas() []int32 { return slices.Clone(t.replicas) }
