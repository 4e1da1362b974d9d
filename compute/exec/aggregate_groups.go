package exec

// aggGroups allocates group ids, the indexes of the aggregates' state
// arrays, and keeps each group's window and key. Ids of evicted groups are
// reused.
type aggGroups struct {
	aggs  []aggFunc
	start []int64 // window bounds; a session's end is its last event time
	end   []int64
	win   []*aggWindow // nil for sessions
	slot  []int32      // key slot in win.table, or the session's key id
	alive []bool
	free  []int32
	live  int
}

// aggGroupMetaBytes is the per-group size of aggGroups' arrays.
const aggGroupMetaBytes = 8 + 8 + 8 + 4 + 1

// alloc returns an empty group; grown reports whether the id space grew,
// to a capacity of len(g.start).
func (g *aggGroups) alloc(start, end int64, win *aggWindow, slot int32) (id int32, grown bool) {
	if n := len(g.free); n > 0 {
		id = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		id = int32(len(g.start))
		n := max(1024, 2*len(g.start))
		g.start = aggGrow(g.start, n)
		g.end = aggGrow(g.end, n)
		g.win = aggGrow(g.win, n)
		g.slot = aggGrow(g.slot, n)
		g.alive = aggGrow(g.alive, n)
		for i := n - 1; i > int(id); i-- {
			g.free = append(g.free, int32(i))
		}
		for _, f := range g.aggs {
			f.grow(n)
		}
		grown = true
	}
	g.start[id], g.end[id], g.win[id], g.slot[id], g.alive[id] = start, end, win, slot, true
	g.live++
	return id, grown
}

// release empties group id and frees it.
func (g *aggGroups) release(id int32) {
	for _, f := range g.aggs {
		f.reset(id)
	}
	g.win[id], g.alive[id] = nil, false
	g.free = append(g.free, id)
	g.live--
}
