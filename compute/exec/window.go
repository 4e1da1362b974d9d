package exec

import (
	"slices"
	"strconv"
	"time"
)

// WindowKind is the kind of a WINDOW clause.
type WindowKind int

// The window kinds.
const (
	NoWindow WindowKind = iota
	Tumbling
	Hopping
	Session
)

var windowKindNames = [...]string{NoWindow: "NONE", Tumbling: "TUMBLING", Hopping: "HOPPING", Session: "SESSION"}

func (k WindowKind) String() string {
	if k >= 0 && int(k) < len(windowKindNames) {
		return windowKindNames[k]
	}
	return "WindowKind(" + strconv.Itoa(int(k)) + ")"
}

// DefaultGrace is the grace period of a window without GRACE PERIOD:
// ksqlDB's documented default, inherited from Kafka Streams, of 24 hours.
const DefaultGrace = 24 * time.Hour

// NoGrace is the Grace of GRACE PERIOD 0: windows close as soon as stream
// time reaches their end.
const NoGrace time.Duration = -1

// WindowSpec is a WINDOW clause. Durations count in whole milliseconds.
type WindowSpec struct {
	Kind WindowKind
	// Size is the length of tumbling and hopping windows; Advance the hop
	// of hopping windows, in (0, Size].
	Size, Advance time.Duration
	// Gap is the inactivity gap of session windows.
	Gap time.Duration
	// Grace is how long after its end a window still accepts records: 0
	// means DefaultGrace, a negative value (NoGrace) none.
	Grace time.Duration
}

func (w WindowSpec) grace() time.Duration {
	switch {
	case w.Grace == 0:
		return DefaultGrace
	case w.Grace < 0:
		return 0
	}
	return w.Grace
}

// aggWindow is an open tumbling or hopping window (or the single window of
// an unwindowed aggregation): its groups in memory, and the files its
// earlier groups spilled to, oldest first.
type aggWindow struct {
	start  int64
	table  aggKeyTable
	gids   []int32 // slot → group
	spills []string
}

// aggWindows are the open time windows, by start.
type aggWindows struct {
	byStart map[int64]*aggWindow
	starts  []int64 // ascending
}

// get returns the window starting at start, opening it if need be.
func (ws *aggWindows) get(start int64) *aggWindow {
	if w := ws.byStart[start]; w != nil {
		return w
	}
	w := &aggWindow{start: start}
	ws.byStart[start] = w
	i, _ := slices.BinarySearch(ws.starts, start)
	ws.starts = slices.Insert(ws.starts, i, start)
	return w
}

// popClosed removes and returns the oldest window if it starts at or
// before last.
func (ws *aggWindows) popClosed(last int64) *aggWindow {
	if len(ws.starts) == 0 || ws.starts[0] > last {
		return nil
	}
	w := ws.byStart[ws.starts[0]]
	delete(ws.byStart, w.start)
	ws.starts = ws.starts[1:]
	return w
}
