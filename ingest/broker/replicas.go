package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/ingest/replication"
	"github.com/strata-log/strata/meta"
)

// Replicated partitions (replication factor above 1). Leadership lives in
// etcd (meta.PartitionState: leader, epoch, replicas); every broker
// follows it through a watch. A broker appointed leader of an epoch takes
// over (replication.Recover, then Lead or a hand-over to the replica whose
// log is the recovery source); a replica that sees its leader's broker
// gone from etcd tries to replace it (meta.Store.AppointLeader: one wins).
// Followers need nothing but their log open: the leader's Peer connects to
// their replication listener. See docs/ARCHITECTURE.md, "Replication".

// replicaState is the broker's replication machinery.
type replicaState struct {
	srv *replication.Server

	mu         sync.Mutex
	peers      map[int32]*replication.Peer
	leading    map[partition.ID]int32 // epoch of a takeover started or done
	appointing map[partition.ID]int32 // epoch whose failed leader we try to replace
	stalls     map[partition.ID]stall // led partitions whose high watermark is behind their log end
}

// stall records since when a led partition's high watermark has not moved
// while records wait for a quorum.
type stall struct {
	epoch int32
	hw    int64
	since time.Time
}

// peer returns the connection to broker id, creating it.
func (b *Broker) peer(id int32) *replication.Peer {
	r := &b.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		return p
	}
	if r.peers == nil {
		r.peers = map[int32]*replication.Peer{}
	}
	p := replication.NewPeer(b.cfg.NodeID, id, func() (string, error) { return b.replicationAddr(id) }, 0, b.log)
	r.peers[id] = p
	return p
}

// replicationAddr looks up a live broker's replication listener, unless
// the configuration names another address to dial it at.
func (b *Broker) replicationAddr(id int32) (string, error) {
	if addr := b.cfg.ReplicationPeers[id]; addr != "" {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	brokers, err := b.brokers(ctx)
	if err != nil {
		return "", err
	}
	for _, bi := range brokers {
		if bi.ID == id && bi.ReplicationAddr != "" {
			return bi.ReplicationAddr, nil
		}
	}
	return "", fmt.Errorf("broker %d is not registered", id)
}

func (b *Broker) closeReplicas() {
	r := &b.repl
	r.mu.Lock()
	peers := r.peers
	r.peers = nil
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	if r.srv != nil {
		r.srv.Close()
	}
}

// applyPartition acts on a replicated partition's state: take over if this
// broker is its leader in an epoch it has not taken over yet; otherwise
// keep its log open as a follower.
func (b *Broker) applyPartition(t meta.Topic, p int32, st meta.PartitionState) {
	if len(st.Replicas) < 2 || !slices.Contains(st.Replicas, b.cfg.NodeID) {
		return
	}
	id := partition.ID{Topic: t.ID, Partition: p}
	l := b.parts.Open(id)
	r := &b.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.Leader != b.cfg.NodeID {
		if _, ok := r.leading[id]; ok {
			delete(r.leading, id)
			for _, peer := range r.peers {
				peer.Untrack(id)
			}
		}
		return
	}
	if r.leading == nil {
		r.leading = map[partition.ID]int32{}
	}
	if e, ok := r.leading[id]; ok && e >= st.Epoch {
		return
	}
	r.leading[id] = st.Epoch
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.takeover(t, p, l, st)
	}()
}

// takeover recovers the partition as the leader of st.Epoch and leads it,
// or hands the leadership to the replica whose log is the source.
func (b *Broker) takeover(t meta.Topic, p int32, l *partition.Log, st meta.PartitionState) {
	peers := map[int32]*replication.Peer{}
	for _, r := range st.Replicas {
		if r != b.cfg.NodeID {
			peers[r] = b.peer(r)
		}
	}
	log := b.log.With("topic", t.Name, "partition", p, "epoch", st.Epoch)
	for attempt := 0; b.ctx.Err() == nil; attempt++ {
		if !b.stillLeading(l.ID(), st.Epoch) {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		src, _, err := replication.Recover(ctx, l, st.Epoch, b.cfg.NodeID, st.Replicas, b.livePeers(ctx, peers))
		cancel()
		if err != nil {
			log.Warn("recovery waits for a quorum of replicas", "err", err)
			if !sleep(b.ctx, time.Second) {
				return
			}
			continue
		}
		if src != b.cfg.NodeID {
			log.Info("another replica's log holds more: handing leadership over", "to", src)
			for _, peer := range peers {
				peer.Untrack(l.ID())
			}
			if _, err := b.meta.AppointLeader(b.ctx, t.ID, p, st.Epoch, src); err != nil && !errors.Is(err, meta.ErrEpochMoved) {
				log.Warn("hand over leadership", "err", err)
			}
			return
		}
		if _, err := replication.Lead(l, st.Epoch, b.cfg.NodeID, st.Replicas, peers); err != nil {
			log.Warn("lead after recovery", "err", err)
			return
		}
		log.Info("leading after recovery")
		return
	}
}

// livePeers returns the peers whose brokers are registered in etcd. A
// recovery asks only them: the source it picks must be able to lead, and
// a quorum of live replicas holds every acknowledged entry as well as any
// other quorum does.
func (b *Broker) livePeers(ctx context.Context, peers map[int32]*replication.Peer) map[int32]*replication.Peer {
	brokers, err := b.brokers(ctx)
	if err != nil {
		return peers
	}
	live := map[int32]*replication.Peer{}
	for _, bi := range brokers {
		if p := peers[bi.ID]; p != nil {
			live[bi.ID] = p
		}
	}
	return live
}

func (b *Broker) stillLeading(id partition.ID, epoch int32) bool {
	b.repl.mu.Lock()
	defer b.repl.mu.Unlock()
	e, ok := b.repl.leading[id]
	return ok && e == epoch
}

// watchPartitions follows partition state changes (leadership epochs) from
// etcd into the topic cache and the replicas' roles.
func (b *Broker) watchPartitions() {
	for b.ctx.Err() == nil {
		err := b.meta.WatchPartitions(b.ctx, func(c meta.PartitionChange) {
			if c.Deleted {
				return // the topic's deletion handles it
			}
			t := b.setPartitionState(c)
			if t != nil {
				b.applyPartition(t.Topic, c.Partition, c.State)
			}
		})
		if err != nil && b.ctx.Err() == nil {
			b.log.Warn("watch partitions", "err", err)
			sleep(b.ctx, time.Second)
		}
	}
}

// setPartitionState replaces a partition's state in the topic cache
// (copy on write) and returns its topic, or nil if the cache does not know
// it (yet: the topic watch will load it).
func (b *Broker) setPartitionState(c meta.PartitionChange) *topicInfo {
	b.topicsMu.Lock()
	defer b.topicsMu.Unlock()
	old := b.topics.Load()
	if old == nil {
		return nil
	}
	t := old.byID[c.TopicID]
	if t == nil || c.Partition < 0 || c.Partition >= int32(len(t.parts)) || t.parts[c.Partition].Epoch > c.State.Epoch {
		return t
	}
	nt := *t
	nt.parts = slices.Clone(t.parts)
	nt.parts[c.Partition] = c.State
	next := &topicCache{byName: make(map[string]*topicInfo, len(old.byName)), byID: make(map[[16]byte]*topicInfo, len(old.byID))}
	for k, v := range old.byName {
		next.byName[k] = v
	}
	for k, v := range old.byID {
		next.byID[k] = v
	}
	next.byName[nt.Name] = &nt
	next.byID[nt.ID] = &nt
	b.topics.Store(next)
	if b.topicsChanged != nil {
		close(b.topicsChanged)
	}
	b.topicsChanged = make(chan struct{})
	return &nt
}

// failoverInterval is how often a broker looks for replicated partitions
// whose leader's broker has left etcd (its lease expired), and for led
// partitions that cannot reach a quorum.
const failoverInterval = 500 * time.Millisecond

// watchLeaders replaces leaders whose broker is gone: each live replica
// tries after a delay that grows with its rank among them, and etcd lets
// one win (AppointLeader); the winner takes over through the watch. It
// also resigns the leadership of partitions that cannot commit (resignStalled).
func (b *Broker) watchLeaders() {
	tick := time.NewTicker(failoverInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		brokers, err := b.brokers(ctx) // at most a second old
		cancel()
		if err != nil {
			continue
		}
		live := map[int32]bool{}
		for _, bi := range brokers {
			live[bi.ID] = true
		}
		stalled := map[partition.ID]bool{}
		for _, t := range b.allTopics() {
			for p, st := range t.parts {
				if len(st.Replicas) < 2 || !slices.Contains(st.Replicas, b.cfg.NodeID) {
					continue
				}
				id := partition.ID{Topic: t.ID, Partition: int32(p)}
				switch {
				case st.Leader == b.cfg.NodeID:
					if b.resignStalled(t, id, st, live) {
						stalled[id] = true
					}
				case !live[st.Leader]:
					b.replaceLeader(t, id, st, live)
				}
			}
		}
		b.repl.mu.Lock()
		for id := range b.repl.stalls {
			if !stalled[id] {
				delete(b.repl.stalls, id)
			}
		}
		b.repl.mu.Unlock()
	}
}

// replaceLeader tries, after a delay growing with its rank among the live
// replicas, to appoint this broker leader of a partition whose leader's
// broker is gone.
func (b *Broker) replaceLeader(t *topicInfo, id partition.ID, st meta.PartitionState, live map[int32]bool) {
	b.repl.mu.Lock()
	if b.repl.appointing == nil {
		b.repl.appointing = map[partition.ID]int32{}
	}
	busy := b.repl.appointing[id] == st.Epoch+1
	b.repl.appointing[id] = st.Epoch + 1
	b.repl.mu.Unlock()
	if busy {
		return
	}
	rank := 0
	for _, r := range st.Replicas {
		if live[r] && r < b.cfg.NodeID {
			rank++
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if !sleep(b.ctx, time.Duration(rank)*200*time.Millisecond+time.Duration(rand.IntN(50))*time.Millisecond) {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		if _, err := b.meta.AppointLeader(ctx, t.ID, id.Partition, st.Epoch, b.cfg.NodeID); err == nil {
			b.log.Info("replacing a leader whose broker is gone", "topic", t.Name, "partition", id.Partition, "old_leader", st.Leader, "epoch", st.Epoch+1)
		}
	}()
}

// resignStalled hands the leadership of a led partition to another live
// replica when records have waited for a quorum for a whole session TTL
// while the high watermark stood still: this broker is cut off from its
// followers (or its disk stalls), while they may still form a quorum
// together. It reports whether the partition is stalled.
func (b *Broker) resignStalled(t *topicInfo, id partition.ID, st meta.PartitionState, live map[int32]bool) bool {
	l := b.parts.Log(id)
	if l == nil || !b.stillLeading(id, st.Epoch) {
		return false
	}
	off := l.Offsets()
	if off.LogEnd <= off.HighWatermark {
		return false
	}
	now := time.Now()
	b.repl.mu.Lock()
	if b.repl.stalls == nil {
		b.repl.stalls = map[partition.ID]stall{}
	}
	s, ok := b.repl.stalls[id]
	if !ok || s.epoch != st.Epoch || s.hw != off.HighWatermark {
		s = stall{epoch: st.Epoch, hw: off.HighWatermark, since: now}
		b.repl.stalls[id] = s
	}
	b.repl.mu.Unlock()
	if now.Sub(s.since) < b.cfg.SessionTTL {
		return true
	}
	to := int32(-1)
	for _, r := range st.Replicas {
		if r != b.cfg.NodeID && live[r] {
			to = r
			break
		}
	}
	if to < 0 {
		return true // nobody to hand over to: wait
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := b.meta.AppointLeader(ctx, t.ID, id.Partition, st.Epoch, to); err != nil {
		if !errors.Is(err, meta.ErrEpochMoved) {
			b.log.Warn("resign a stalled leadership", "topic", t.Name, "partition", id.Partition, "err", err)
		}
		return true
	}
	b.log.Warn("resigned leadership: no quorum acknowledged for a session TTL", "topic", t.Name, "partition", id.Partition,
		"epoch", st.Epoch, "high_watermark", off.HighWatermark, "log_end", off.LogEnd, "to", to)
	return false
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
