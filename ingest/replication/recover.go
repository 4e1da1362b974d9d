package replication

import (
	"context"
	"fmt"

	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/ingest/quorum"
)

// Recover runs the first half of taking over a partition that etcd
// appointed this broker (local) to lead in epoch: it fences the local log
// and, through peers (one per other replica), every follower it can reach,
// and waits until a quorum of the replicas, itself included, has answered
// with its log. It returns the recovery source (quorum.ChooseSource: the
// replica whose log holds every acknowledged entry) and the answers.
//
// If the source is local, the caller leads with Lead. Otherwise another
// replica's log has entries this one lacks: the caller hands the
// leadership to the source (meta.Store.AppointLeader), which recovers in
// turn, and Untracks the partition from peers. Recover leaves the peers
// probing (holding) until then.
func Recover(ctx context.Context, l *partition.Log, epoch int32, local int32, replicas []int32, peers map[int32]*Peer) (int32, map[int32]quorum.LogEnd, error) {
	own, err := l.Fence(epoch)
	if err != nil {
		return -1, nil, err
	}
	logs := map[int32]quorum.LogEnd{local: own}
	type answer struct {
		id  int32
		log quorum.LogEnd
	}
	answers := make(chan answer, len(replicas))
	for _, r := range replicas {
		if r == local {
			continue
		}
		p := peers[r]
		if p == nil {
			continue // unreachable: it does not count towards the quorum
		}
		ch := p.Probe(l, epoch)
		go func() {
			select {
			case end := <-ch:
				answers <- answer{r, end}
			case <-ctx.Done():
			}
		}()
	}
	q := quorum.Majority(len(replicas))
	for len(logs) < q {
		select {
		case a := <-answers:
			logs[a.id] = a.log
		case <-ctx.Done():
			return -1, logs, fmt.Errorf("partition %s: recovery of epoch %d: %d of %d replicas answered: %w", l.ID(), epoch, len(logs), q, ctx.Err())
		}
	}
	src, err := quorum.ChooseSource(logs, q)
	if err != nil {
		return -1, logs, err
	}
	// Prefer this broker among equals: ChooseSource breaks ties by id,
	// but any replica with an equal log is as good a source.
	if own.LastEpoch() == logs[src].LastEpoch() && own.End == logs[src].End {
		src = local
	}
	return src, logs, nil
}

// Lead completes a takeover after Recover chose this broker's log: it
// writes the epoch's first entry (partition.Log.LeadRecovered) and starts
// replicating to every follower, which truncates whatever it holds beyond
// the point where it agrees with this log. The returned Pending completes
// once a quorum holds the new epoch's first entry: from then on the whole
// log is acknowledged.
func Lead(l *partition.Log, epoch int32, local int32, replicas []int32, peers map[int32]*Peer) (*partition.Pending, error) {
	p, err := l.LeadRecovered(epoch, replicas, quorum.Majority(len(replicas)))
	if err != nil {
		return nil, err
	}
	for _, r := range replicas {
		if p := peers[r]; r != local && p != nil {
			p.Start(l.ID())
		}
	}
	return p, nil
}
