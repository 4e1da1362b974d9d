package exec

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"slices"
)

// aggSessions holds the open session windows. A session [start, end] spans
// the event times of its records; a record at t joins every open session
// of its key within the gap (end ≥ t-gap and start ≤ t+gap), merging them
// when it bridges several, as Kafka Streams' session aggregation does.
type aggSessions struct {
	keys aggKeyTable
	// lists maps a key id to the groups of its sessions, by end: first
	// those stream time closed (evicted after the Push), then the open
	// ones, disjoint and more than the gap apart.
	lists [][]int32
	live  int // keys with sessions
	ends  aggEndHeap
	// Per group, for EMIT CHANGES: the bounds last emitted, to retract.
	emitted        []bool
	emStart, emEnd []int64
	forward        []int32 // per group: the session it merged into, or -1
	merged         []int32 // groups merged away during the current Push
}

func (s *aggSessions) grow(n int) {
	s.emitted = aggGrow(s.emitted, n)
	s.emStart = aggGrow(s.emStart, n)
	s.emEnd = aggGrow(s.emEnd, n)
	for len(s.forward) < n {
		s.forward = append(s.forward, -1)
	}
}

// aggEndHeap is a min-heap of (session end, group) entries. Entries go
// stale when a session grows or merges away; closeSessions re-pushes or
// skips them.
type aggEndHeap []aggEndEntry

type aggEndEntry struct {
	end int64
	gid int32
}

func (h aggEndHeap) Len() int           { return len(h) }
func (h aggEndHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h aggEndHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *aggEndHeap) Push(x any)        { *h = append(*h, x.(aggEndEntry)) }
func (h *aggEndHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// sessionClosed reports whether a session ending at end is closed at
// stream time st: st > end + gap + grace.
func (a *Aggregate) sessionClosed(end, st int64) bool {
	return aggAddSat(end, a.gap+a.grace) < st
}

// pushSessions aggregates the prepared batch into session windows. Rows
// are assigned one by one (merges depend on earlier rows); sessions merge
// at once, the rows a merged-away session already got in this batch are
// forwarded, then every aggregate updates column at a time.
func (a *Aggregate) pushSessions(seq int64) {
	s := a.sessions
	gids := a.gids
	for i := range gids {
		gids[i] = -1
		if a.drop[i] {
			continue
		}
		gids[i] = a.assignSession(a.keys.hashes[i], a.keys.key(i), a.times[i], a.marks[i])
	}
	if len(s.merged) > 0 {
		for i, g := range gids {
			for g >= 0 && s.forward[g] >= 0 {
				g = s.forward[g]
			}
			gids[i] = g
		}
	}
	for _, f := range a.aggs {
		f.update(gids, seq)
	}
	if !a.cfg.Final {
		a.changes.note(gids)
	}
}

// keySessions returns the id of a key (added if new) and its sessions,
// counting the key live if it had none.
func (a *Aggregate) keySessions(h uint64, key []byte) (int32, []int32) {
	s := a.sessions
	kid, inserted := s.keys.findOrInsert(h, key)
	if inserted {
		s.lists = append(s.lists, nil)
	}
	list := s.lists[kid]
	if len(list) == 0 {
		s.live++
	}
	return kid, list
}

// assignSession returns the session of a record with event time t when
// stream time is st, or -1 if it is late.
func (a *Aggregate) assignSession(h uint64, key []byte, t, st int64) int32 {
	s := a.sessions
	kid, list := a.keySessions(h, key)
	// Sessions of a key are disjoint and sorted, so the closed ones and
	// those ending before t-gap come first, and the matches are a run.
	lo := 0
	for lo < len(list) && (a.groups.end[list[lo]] < t-a.gap || a.sessionClosed(a.groups.end[list[lo]], st)) {
		lo++
	}
	hi := lo
	for hi < len(list) && a.groups.start[list[hi]] <= t+a.gap {
		hi++
	}
	if lo == hi {
		if a.sessionClosed(t, st) {
			a.late++
			if len(list) == 0 {
				s.live--
			}
			return -1
		}
		g := a.newGroup(t, t, nil, kid)
		s.lists[kid] = slices.Insert(list, lo, g)
		heap.Push(&s.ends, aggEndEntry{end: t, gid: g})
		return g
	}
	g := list[lo]
	start, end := min(a.groups.start[g], t), max(a.groups.end[list[hi-1]], t)
	for _, b := range list[lo+1 : hi] {
		for _, f := range a.aggs {
			f.merge(g, b)
		}
		s.forward[b] = g
		s.merged = append(s.merged, b)
		if s.emitted[b] {
			a.changes.retract = append(a.changes.retract, aggRetraction{key: kid, start: s.emStart[b], end: s.emEnd[b]})
		}
	}
	s.lists[kid] = slices.Delete(list, lo+1, hi)
	a.groups.start[g], a.groups.end[g] = start, end
	return g
}

// releaseMerged frees the sessions merged away during a Push.
func (a *Aggregate) releaseMerged() {
	s := a.sessions
	for _, b := range s.merged {
		s.forward[b] = -1
		s.emitted[b] = false
		a.groups.release(b)
	}
	s.merged = s.merged[:0]
}

// closeSessions evicts the sessions that stream time closed, emitting them
// under EMIT FINAL ordered by end, start and key.
func (a *Aggregate) closeSessions(ctx context.Context) error {
	s := a.sessions
	var closed []int32
	for len(s.ends) > 0 && a.sessionClosed(s.ends[0].end, a.streamTime) {
		e := heap.Pop(&s.ends).(aggEndEntry)
		switch g := e.gid; {
		case !a.groups.alive[g]:
		case a.groups.end[g] > e.end:
			heap.Push(&s.ends, aggEndEntry{end: a.groups.end[g], gid: g})
		default:
			closed = append(closed, g)
		}
	}
	if len(closed) == 0 {
		return nil
	}
	// A group id can sit in the heap twice: an entry left by a released
	// group whose id was reused, re-pushed above with the new group's end.
	slices.Sort(closed)
	closed = slices.Compact(closed)
	if a.cfg.Final {
		slices.SortFunc(closed, func(x, y int32) int {
			return cmp.Or(
				cmp.Compare(a.groups.end[x], a.groups.end[y]),
				cmp.Compare(a.groups.start[x], a.groups.start[y]),
				bytes.Compare(a.groupKey(x), a.groupKey(y)))
		})
		rows := &a.rows
		rows.reset(len(closed))
		for _, g := range closed {
			rows.add(a.groupKey(g), a.groups.start[g], a.groups.end[g], g)
		}
		if err := a.emitRows(ctx, rows); err != nil {
			return err
		}
	}
	for _, g := range closed {
		kid := a.groups.slot[g]
		list := s.lists[kid]
		i := slices.Index(list, g)
		s.lists[kid] = slices.Delete(list, i, i+1)
		if len(s.lists[kid]) == 0 {
			s.live--
		}
		s.emitted[g] = false
		a.groups.release(g)
	}
	a.compactSessionKeys()
	return nil
}

// compactSessionKeys rebuilds the key table once most keys have no open
// session.
func (a *Aggregate) compactSessionKeys() {
	s := a.sessions
	dead := s.keys.len() - s.live
	if dead < 1024 || dead < s.live {
		return
	}
	var keys aggKeyTable
	lists := make([][]int32, 0, s.live)
	for kid, list := range s.lists {
		if len(list) == 0 {
			continue
		}
		nk, _ := keys.findOrInsert(s.keys.hashes[kid], s.keys.key(int32(kid)))
		lists = append(lists, list)
		for _, g := range list {
			a.groups.slot[g] = nk
		}
	}
	s.keys, s.lists = keys, lists
}

// openSession adds a restored session and returns its group.
func (a *Aggregate) openSession(h uint64, key []byte, start, end int64) int32 {
	s := a.sessions
	kid, list := a.keySessions(h, key)
	g := a.newGroup(start, end, nil, kid)
	i, _ := slices.BinarySearchFunc(list, end, func(g int32, t int64) int { return cmp.Compare(a.groups.end[g], t) })
	s.lists[kid] = slices.Insert(list, i, g)
	heap.Push(&s.ends, aggEndEntry{end: end, gid: g})
	return g
}
