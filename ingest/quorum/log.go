package quorum

import (
	"errors"
	"fmt"
	"sort"
)

// The replication rules of a partition, as pure functions over summaries
// of the replicas' logs. The model is Kafka's leader epochs (KIP-101,
// KIP-279) with BookKeeper's fencing and recovery from a quorum, which is
// Raft's election and commit rules applied by a leader that etcd, not a
// vote, appoints:
//
//   - Every entry carries the leader epoch it was written in; etcd hands
//     out epochs, increasing, one leader each. Two logs that hold an entry
//     of the same epoch at the same offset agree on every entry up to it
//     (a follower appends only where its log matches the leader's: Log
//     Matching), so a log is summarised by where each epoch starts and
//     where it ends (LogEnd).
//   - A new leader first fences: every replica it reaches stops accepting
//     appends of older epochs (and persists that before answering) and
//     reports its LogEnd. Once a quorum has answered, no older leader can
//     get another write acknowledged: an acknowledgement needs a quorum,
//     and every quorum shares a replica with the fenced one.
//   - It recovers from the fenced quorum's log with the greatest (last
//     epoch, end offset) (ChooseSource): every acknowledged entry is on
//     it. Its own log becomes that log (it fetches what it lacks and
//     truncates what differs), and everything else on any replica beyond
//     it is discarded when that replica truncates (TruncationPoint).
//   - It then writes the first entry of its own epoch and acknowledges
//     nothing until a quorum has that entry durable (Tracker with an epoch
//     start): entries of older epochs are committed only together with it,
//     never by counting copies of them (Raft's figure 8).
//
// The package's model test (model_test.go) runs these rules on simulated
// clusters with crashes, lost messages and competing leaders, and checks
// that no acknowledged entry is ever lost or changed.

// EpochStart records the first offset written in a leader epoch.
type EpochStart struct {
	Epoch int32
	Start int64
}

// LogEnd summarises a replica's log: the start of each epoch it holds, in
// increasing order of epoch and offset, and the offset after its last
// entry. Epochs without entries are left out.
type LogEnd struct {
	Epochs []EpochStart
	End    int64
}

// LastEpoch is the epoch of the last entry, or -1 for an empty log.
func (l LogEnd) LastEpoch() int32 {
	if len(l.Epochs) == 0 {
		return -1
	}
	return l.Epochs[len(l.Epochs)-1].Epoch
}

// EpochAt returns the epoch of the entry at offset, or -1 if the log does
// not hold it.
func (l LogEnd) EpochAt(offset int64) int32 {
	if offset < 0 || offset >= l.End {
		return -1
	}
	i := sort.Search(len(l.Epochs), func(i int) bool { return l.Epochs[i].Start > offset })
	if i == 0 {
		return -1
	}
	return l.Epochs[i-1].Epoch
}

// Less orders logs for recovery: by last epoch, then by end offset.
func (l LogEnd) Less(o LogEnd) bool {
	if a, b := l.LastEpoch(), o.LastEpoch(); a != b {
		return a < b
	}
	return l.End < o.End
}

// TruncationPoint returns the offset up to which follower agrees with
// leader: the follower keeps [0, point) and must drop the rest before it
// accepts the leader's entries. By Log Matching, the logs agree up to the
// last offset where both hold an entry of the same epoch. (Over the wire
// the follower finds it as KIP-279 does, asking the leader for the end of
// its last epoch, then of the epoch before, until the two agree.)
func TruncationPoint(leader, follower LogEnd) int64 {
	for i := len(follower.Epochs) - 1; i >= 0; i-- {
		fe := follower.Epochs[i]
		fEnd := follower.End
		if i+1 < len(follower.Epochs) {
			fEnd = follower.Epochs[i+1].Start
		}
		ls, lEnd, ok := leader.epochRange(fe.Epoch)
		if !ok {
			continue
		}
		if lo, hi := max(fe.Start, ls), min(fEnd, lEnd); lo < hi {
			return hi
		}
	}
	return 0
}

// epochRange returns the offsets [start, end) of the log's entries of
// epoch, and false if it has none.
func (l LogEnd) epochRange(epoch int32) (int64, int64, bool) {
	i := sort.Search(len(l.Epochs), func(i int) bool { return l.Epochs[i].Epoch >= epoch })
	if i == len(l.Epochs) || l.Epochs[i].Epoch != epoch {
		return 0, 0, false
	}
	end := l.End
	if i+1 < len(l.Epochs) {
		end = l.Epochs[i+1].Start
	}
	return l.Epochs[i].Start, end, true
}

// ErrNoQuorum is returned by ChooseSource before a quorum has answered.
var ErrNoQuorum = errors.New("quorum: fewer answers than the ack quorum")

// ChooseSource picks, among the logs that a quorum of fenced replicas
// reported, the one to recover from: the greatest by last epoch, then end
// offset (ties go to the lowest replica id, so that every run picks the
// same). Every entry that any leader got acknowledged is in it.
func ChooseSource(logs map[int32]LogEnd, ackQuorum int) (int32, error) {
	if len(logs) < ackQuorum || ackQuorum < 1 {
		return -1, fmt.Errorf("%w: %d of %d", ErrNoQuorum, len(logs), ackQuorum)
	}
	best := int32(-1)
	for id, l := range logs {
		if best < 0 || logs[best].Less(l) || (!l.Less(logs[best]) && id < best) {
			best = id
		}
	}
	return best, nil
}

// Fence is a follower's fencing state: the highest epoch it has seen
// from a leader or a fence. It accepts appends of that epoch or later and
// refuses older ones. The caller persists Epoch before it answers a fence
// or accepts an append that raised it, so that a restart keeps it.
type Fence struct {
	Epoch int32
}

// ErrFenced is returned for a request of an epoch older than the fence.
var ErrFenced = errors.New("quorum: fenced by a newer leader epoch")

// Observe records a request of epoch: it returns ErrFenced if epoch is
// older than the fence, and raises the fence otherwise (reporting whether
// it moved, so the caller knows to persist it).
func (f *Fence) Observe(epoch int32) (raised bool, err error) {
	if epoch < f.Epoch {
		return false, fmt.Errorf("%w: request of epoch %d, fenced at %d", ErrFenced, epoch, f.Epoch)
	}
	raised = epoch > f.Epoch
	f.Epoch = epoch
	return raised, nil
}
