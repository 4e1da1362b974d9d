package quorum

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// The model runs the replication rules of log.go and the Tracker on a
// simulated partition: replicas with a log (what was written) and a
// durable prefix of it (what survives a crash), leaders appointed by a
// simulated etcd with increasing epochs, and a scheduler that picks, at
// random, one action at a time among: appoint a new leader (which fences,
// recovers from a quorum and writes its epoch's first entry), append on
// a leader (also on one that was deposed but does not know it yet), send
// a leader's log to a follower (or a prefix of it: messages get lost),
// sync a replica's log to disk, report a replica's durable end to a
// leader, crash a replica (losing what it had not synced) and restart it.
//
// After every action it checks what the brief promises: an acknowledged
// entry is durable on a quorum of replicas and never changes (no offset is
// acknowledged with two different entries); every leader that finished
// recovery holds every acknowledged entry.

// modelRules are the rules under test; the default is log.go's. The
// broken variants prove the model can fail.
type modelRules struct {
	countOldEpochs bool // acknowledge without the leader's epoch-start entry (Raft figure 8)
	sourceByEnd    bool // recover from the longest log, ignoring epochs
	noFence        bool // recover without waiting for a fenced quorum
}

type modelReplica struct {
	log     LogEnd // everything written
	durable int64  // log[0, durable) survives a crash
	fence   Fence  // persisted with every raise
	up      bool
}

type modelLeader struct {
	id      int32
	epoch   int32
	tracker *Tracker
}

type model struct {
	t        testing.TB
	rng      *rand.Rand
	rules    modelRules
	n, q     int
	replicas []*modelReplica
	leaders  []*modelLeader // every leader appointed so far; older ones may still act
	epoch    int32          // etcd's last epoch
	acked    map[int64]int32
	trace    []string
	failed   string
}

func newModel(t testing.TB, seed uint64, n int, rules modelRules) *model {
	m := &model{t: t, rng: rand.New(rand.NewPCG(seed, uint64(n))), rules: rules, n: n, q: Majority(n), acked: map[int64]int32{}}
	for range n {
		m.replicas = append(m.replicas, &modelReplica{up: true})
	}
	return m
}

func (m *model) ids() []int32 {
	ids := make([]int32, m.n)
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

func (m *model) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *model) fail(format string, args ...any) {
	if m.failed == "" {
		m.failed = fmt.Sprintf(format, args...)
	}
}

// appoint makes replica c the leader of a new epoch: it fences the up
// replicas that the messages reach, recovers from a quorum of them, and
// writes its epoch's first entry.
func (m *model) appoint(c int32) {
	if !m.replicas[c].up {
		return
	}
	m.epoch++
	e := m.epoch
	m.logf("appoint %d epoch %d", c, e)
	logs := map[int32]LogEnd{}
	for id, r := range m.replicas {
		if !r.up || (int32(id) != c && m.rng.IntN(4) == 0) {
			continue // down, or the fence got lost
		}
		if _, err := r.fence.Observe(e); err != nil {
			continue
		}
		logs[int32(id)] = r.log
	}
	if len(logs) < m.q && !m.rules.noFence {
		m.logf("  fenced only %d: recovery waits (this leader never serves)", len(logs))
		return
	}
	var src int32
	if m.rules.sourceByEnd {
		src = c
		for id, l := range logs {
			if l.End > logs[src].End {
				src = id
			}
		}
	} else {
		var err error
		if src, err = ChooseSource(logs, min(m.q, len(logs))); err != nil {
			m.t.Fatal(err)
		}
	}
	// The new leader takes the source's log: it keeps what it agrees on,
	// fetches the rest, and makes it durable before it writes.
	me := m.replicas[c]
	me.log = logs[src]
	me.durable = me.log.End // fetched what it lacked, and synced
	start := me.log.End
	me.log = me.log.Append(e, 1) // its epoch's first entry
	m.checkLeaderComplete(c, e)
	tr, err := New(m.ids(), m.q, 0)
	if err != nil {
		m.t.Fatal(err)
	}
	if !m.rules.countOldEpochs {
		tr.RequireEpochStart(start)
	}
	m.leaders = append(m.leaders, &modelLeader{id: c, epoch: e, tracker: tr})
	m.logf("  recovered from %d: %+v, epoch starts at %d", src, logs[src], start)
}

// live returns the leaders that still act: up, and not fenced by a newer
// epoch on their own replica.
func (m *model) live() []*modelLeader {
	var out []*modelLeader
	for _, l := range m.leaders {
		r := m.replicas[l.id]
		if r.up && r.fence.Epoch == l.epoch {
			out = append(out, l)
		}
	}
	return out
}

func (m *model) step() {
	live := m.live()
	// Mostly the work of a leader; now and then a fault or a new leader.
	switch k := m.rng.IntN(100); {
	case k < 3 || len(live) == 0 && k < 40:
		m.appoint(int32(m.rng.IntN(m.n)))
	case k < 25 && len(live) > 0: // append
		l := live[m.rng.IntN(len(live))]
		r := m.replicas[l.id]
		r.log = r.log.Append(l.epoch, int64(1+m.rng.IntN(3)))
		m.logf("append on %d epoch %d: end %d", l.id, l.epoch, r.log.End)
	case k < 50 && len(live) > 0: // replicate to a follower
		l := live[m.rng.IntN(len(live))]
		f := int32(m.rng.IntN(m.n))
		fr, lr := m.replicas[f], m.replicas[l.id]
		if f == l.id || !fr.up {
			return
		}
		if _, err := fr.fence.Observe(l.epoch); err != nil {
			m.logf("replicate %d->%d epoch %d: fenced at %d", l.id, f, l.epoch, fr.fence.Epoch)
			return
		}
		p := TruncationPoint(lr.log, fr.log)
		end := p + m.rng.Int64N(lr.log.End-p+1) // a prefix of what was sent arrives
		fr.log = lr.log.TruncateTo(end)
		fr.durable = min(fr.durable, p)
		m.logf("replicate %d->%d epoch %d: truncate at %d, now %+v", l.id, f, l.epoch, p, fr.log)
	case k < 65: // sync
		r := m.replicas[m.rng.IntN(m.n)]
		if r.up {
			r.durable = r.log.End
		}
	case k < 90 && len(live) > 0: // report durable end to a leader
		l := live[m.rng.IntN(len(live))]
		f := int32(m.rng.IntN(m.n))
		fr := m.replicas[f]
		if !fr.up || fr.fence.Epoch != l.epoch {
			return // it follows another epoch now: its log may not be this leader's
		}
		if f != l.id && TruncationPoint(m.replicas[l.id].log, fr.log) < fr.durable {
			return // not yet caught up with this leader: nothing to report
		}
		before := l.tracker.HighWatermark()
		hw := l.tracker.Durable(f, fr.durable)
		m.logf("report %d->%d durable %d: hw %d", f, l.id, fr.durable, hw)
		for o := before; o < hw; o++ {
			e := m.replicas[l.id].log.EpochAt(o)
			if prev, ok := m.acked[o]; ok && prev != e {
				m.fail("offset %d acknowledged in epoch %d and again in epoch %d", o, prev, e)
			}
			m.acked[o] = e
		}
	case k < 95: // crash
		id := m.rng.IntN(m.n)
		r := m.replicas[id]
		if r.up {
			r.up = false
			r.log = r.log.TruncateTo(r.durable)
			// A leader's state is in memory: after a restart the broker
			// follows, or leads again under a new epoch.
			m.leaders = slices.DeleteFunc(m.leaders, func(l *modelLeader) bool { return l.id == int32(id) })
			m.logf("crash %d: keeps %+v", id, r.log)
		}
	default: // restart
		id := m.rng.IntN(m.n)
		m.replicas[id].up = true
	}
	m.checkDurable()
}

// checkDurable: every acknowledged entry is durable on a quorum.
func (m *model) checkDurable() {
	for o, e := range m.acked {
		copies := 0
		for _, r := range m.replicas {
			if o < r.durable && r.log.EpochAt(o) == e {
				copies++
			}
		}
		if copies < m.q {
			m.fail("acknowledged offset %d (epoch %d) is durable on %d replicas, fewer than %d", o, e, copies, m.q)
		}
	}
}

// checkLeaderComplete: a leader that finished recovery holds every
// acknowledged entry.
func (m *model) checkLeaderComplete(c, e int32) {
	for o, ae := range m.acked {
		if got := m.replicas[c].log.EpochAt(o); got != ae {
			m.fail("leader %d of epoch %d holds epoch %d at acknowledged offset %d (epoch %d)", c, e, got, o, ae)
		}
	}
}

// The model's operations on a log summary.

// TruncateTo returns the log cut at end (end at or below l.End).
func (l LogEnd) TruncateTo(end int64) LogEnd {
	end = max(0, min(end, l.End))
	i := sort.Search(len(l.Epochs), func(i int) bool { return l.Epochs[i].Start >= end })
	return LogEnd{Epochs: slices.Clone(l.Epochs[:i]), End: end}
}

// Append returns the log with n entries of epoch appended. epoch must not
// be below the last epoch.
func (l LogEnd) Append(epoch int32, n int64) LogEnd {
	out := LogEnd{Epochs: slices.Clone(l.Epochs), End: l.End + n}
	if n > 0 && epoch != l.LastEpoch() {
		out.Epochs = append(out.Epochs, EpochStart{Epoch: epoch, Start: l.End})
	}
	return out
}

// runModel runs seeds and returns the first failure, with its trace.
func runModel(t testing.TB, seeds, steps, n int, rules modelRules) (string, []string, int64) {
	var acked int64
	for seed := range seeds {
		m := newModel(t, uint64(seed), n, rules)
		for range steps {
			m.step()
			if m.failed != "" {
				return fmt.Sprintf("seed %d: %s", seed, m.failed), m.trace, acked
			}
		}
		acked += int64(len(m.acked))
	}
	return "", nil, acked
}

func TestReplicationModel(t *testing.T) {
	seeds := 10000
	if testing.Short() || raceEnabled {
		seeds = 1000 // the model is single-threaded: -race only slows it
	}
	for _, n := range []int{1, 3, 5} {
		failure, trace, acked := runModel(t, seeds, 300, n, modelRules{})
		if failure != "" {
			t.Fatalf("%d replicas: %s\ntrace (last 40):\n%s", n, failure, tail(trace, 40))
		}
		if acked == 0 {
			t.Fatalf("%d replicas: nothing was ever acknowledged: the model exercised nothing", n)
		}
		t.Logf("%d replicas: %d seeds x 300 steps, %d acknowledged offsets checked", n, seeds, acked)
	}
}

// TestReplicationModelFindsBrokenRules runs the model on rules with one
// piece removed: each must be caught, or the model proves nothing.
func TestReplicationModelFindsBrokenRules(t *testing.T) {
	for name, rules := range map[string]modelRules{
		"commit by counting old-epoch copies": {countOldEpochs: true},
		"recover from the longest log":        {sourceByEnd: true},
		"recover without a fenced quorum":     {noFence: true},
	} {
		failure, _, _ := runModel(t, 5000, 300, 3, rules)
		if failure == "" {
			t.Errorf("%s: 5000 runs found no violation", name)
			continue
		}
		t.Logf("%s: caught (%s)", name, failure)
	}
}

func tail(lines []string, n int) string {
	lines = lines[max(0, len(lines)-n):]
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

func TestTruncationPoint(t *testing.T) {
	log := func(end int64, epochs ...EpochStart) LogEnd { return LogEnd{Epochs: epochs, End: end} }
	for _, tc := range []struct {
		leader, follower LogEnd
		want             int64
	}{
		{log(0), log(0), 0},
		{log(10, EpochStart{1, 0}), log(5, EpochStart{1, 0}), 5},                                     // follower behind
		{log(5, EpochStart{1, 0}), log(10, EpochStart{1, 0}), 5},                                     // follower ahead in the same epoch
		{log(10, EpochStart{1, 0}, EpochStart{3, 6}), log(9, EpochStart{1, 0}, EpochStart{2, 7}), 6}, // diverged at 6
		{log(10, EpochStart{1, 0}, EpochStart{3, 4}), log(9, EpochStart{1, 0}, EpochStart{2, 7}), 4}, // leader's epoch 3 started earlier
		{log(10, EpochStart{2, 0}), log(9, EpochStart{1, 0}), 0},                                     // nothing in common
		{log(12, EpochStart{1, 0}, EpochStart{2, 5}, EpochStart{4, 9}), log(12, EpochStart{1, 0}, EpochStart{2, 5}, EpochStart{3, 8}), 8},
	} {
		if got := TruncationPoint(tc.leader, tc.follower); got != tc.want {
			t.Errorf("TruncationPoint(%+v, %+v) = %d, want %d", tc.leader, tc.follower, got, tc.want)
		}
		// Property: the logs agree below the point and differ at it.
		p := TruncationPoint(tc.leader, tc.follower)
		for o := range p {
			if tc.leader.EpochAt(o) != tc.follower.EpochAt(o) {
				t.Errorf("%+v %+v: differ at %d below the point %d", tc.leader, tc.follower, o, p)
			}
		}
		if p < min(tc.leader.End, tc.follower.End) && tc.leader.EpochAt(p) == tc.follower.EpochAt(p) {
			t.Errorf("%+v %+v: agree at the point %d", tc.leader, tc.follower, p)
		}
	}
}

func TestChooseSourceAndFence(t *testing.T) {
	logs := map[int32]LogEnd{
		1: {Epochs: []EpochStart{{1, 0}}, End: 20},        // longest, older epoch
		2: {Epochs: []EpochStart{{1, 0}, {2, 5}}, End: 8}, // newest epoch
		3: {Epochs: []EpochStart{{1, 0}, {2, 5}}, End: 8}, // a tie: lowest id wins
	}
	if _, err := ChooseSource(logs, 4); err == nil {
		t.Fatal("ChooseSource without a quorum")
	}
	if got, err := ChooseSource(logs, 2); err != nil || got != 2 {
		t.Fatalf("ChooseSource = %d, %v; want 2", got, err)
	}
	var f Fence
	if raised, err := f.Observe(3); !raised || err != nil {
		t.Fatal(raised, err)
	}
	if _, err := f.Observe(2); err == nil {
		t.Fatal("an older epoch passed the fence")
	}
	if raised, err := f.Observe(3); raised || err != nil {
		t.Fatal(raised, err)
	}
	l := LogEnd{Epochs: []EpochStart{{1, 0}, {3, 4}, {6, 9}}, End: 12}
	if got := l.TruncateTo(5); len(got.Epochs) != 2 || got.End != 5 || got.EpochAt(4) != 3 || got.EpochAt(5) != -1 {
		t.Fatalf("TruncateTo(5) = %+v", got)
	}
}
