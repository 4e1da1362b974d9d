package e2e

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A History records what a queue workload did to one topic: every record
// its producers sent and how each send ended, every record its consumers
// read, and the bounds of each partition's log at the end. Check judges it.
// Its methods are safe for concurrent use; Check may run while it is still
// being recorded, and judges what was recorded so far.
//
// Records are identified by a RecordID carried in their value, so that a
// read names the send it comes from.
type History struct {
	start time.Time

	mu struct {
		sync.Mutex
		sends    map[RecordID]*historySend
		reads    []historyRead
		sessions []historySession
		bounds   map[int32]historyBounds
	}
}

// A RecordID identifies one record sent by a workload: the producer that
// sent it and the producer's sequence number for it. A producer numbers its
// records 0, 1, 2, … in the order it hands them to its client, so a higher
// Seq is a later send.
type RecordID struct {
	Producer int
	Seq      int64
}

// String is the form of id carried in record values ("p3-17").
func (id RecordID) String() string { return fmt.Sprintf("p%d-%d", id.Producer, id.Seq) }

// Value is the record value that carries id.
func (id RecordID) Value() []byte { return []byte(id.String()) }

// ParseRecordID reads the RecordID in a record value written by Value; ok
// is false if v is not such a value.
func ParseRecordID(v []byte) (id RecordID, ok bool) {
	rest, found := strings.CutPrefix(string(v), "p")
	if !found {
		return RecordID{}, false
	}
	prod, seq, found := strings.Cut(rest, "-")
	if !found {
		return RecordID{}, false
	}
	p, err1 := strconv.Atoi(prod)
	s, err2 := strconv.ParseInt(seq, 10, 64)
	id = RecordID{Producer: p, Seq: s}
	if err1 != nil || err2 != nil || p < 0 || s < 0 || id.String() != string(v) {
		return RecordID{}, false
	}
	return id, true
}

// An Outcome is how a send ended.
type Outcome uint8

const (
	// Indeterminate: the client gave up without learning whether the
	// record was written (a timeout, a closed connection, a closed
	// client), or no outcome was recorded. The record may or may not be in
	// the log.
	Indeterminate Outcome = iota
	// Acked: the broker acknowledged the record at a partition and offset.
	Acked
	// Failed: the broker definitively refused the record; it must never
	// be read.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Indeterminate:
		return "indeterminate"
	case Acked:
		return "acked"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

type historySend struct {
	id        RecordID
	sent      time.Time
	done      time.Time // zero while indeterminate without a recorded outcome
	outcome   Outcome
	partition int32 // where acked
	offset    int64
	err       string
}

type historyRead struct {
	session   int // index in sessions
	partition int32
	offset    int64
	value     string
	at        time.Time
}

type historySession struct {
	consumer int
	manual   bool
	from     map[int32]int64
}

type historyBounds struct{ start, end int64 }

// NewHistory returns an empty history; times in reports are relative to
// the moment it was made.
func NewHistory() *History {
	h := &History{start: time.Now()}
	h.mu.sends = map[RecordID]*historySend{}
	h.mu.bounds = map[int32]historyBounds{}
	return h
}

// Send records that a producer hands the record id to its client, before it
// does. Each id may be sent once (a retry by the client is the same send);
// sending it again panics.
func (h *History) Send(id RecordID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.mu.sends[id]; dup {
		panic(fmt.Sprintf("history: %v sent twice", id))
	}
	h.mu.sends[id] = &historySend{id: id, sent: time.Now()}
}

// Ack records that the send of id was acknowledged at partition and
// offset.
func (h *History) Ack(id RecordID, partition int32, offset int64) {
	h.end(id, Acked, nil, func(s *historySend) { s.partition, s.offset = partition, offset })
}

// Fail records that the broker definitively refused the send of id, with
// err: an error that proves the record was not written. Use Indeterminate
// for any other error.
func (h *History) Fail(id RecordID, err error) { h.end(id, Failed, err, nil) }

// Indeterminate records that the send of id ended with err, which leaves
// open whether the record was written.
func (h *History) Indeterminate(id RecordID, err error) { h.end(id, Indeterminate, err, nil) }

func (h *History) end(id RecordID, o Outcome, err error, set func(*historySend)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.mu.sends[id]
	switch {
	case !ok:
		panic(fmt.Sprintf("history: outcome %v of %v, which was never sent", o, id))
	case !s.done.IsZero():
		panic(fmt.Sprintf("history: outcome %v of %v, which already ended %v", o, id, s.outcome))
	}
	s.done, s.outcome = time.Now(), o
	if err != nil {
		s.err = err.Error()
	}
	if set != nil {
		set(s)
	}
}

// A Session records the reads of one consumer session. A session is one
// consumer client reading a fixed set of partitions continuously: it begins
// when the client is created with its assignment (or subscription) and ends
// when the client is closed. Seeking, reassigning or recreating the client
// after an error starts a new session.
//
// Under manual assignment (ManualSession) the client fetches each
// partition sequentially, so within a session each partition's reads must
// move forward through the log one record at a time: every read is at a
// higher offset than the one before it (else the consumer went backwards),
// and no record known at an offset between the two (acknowledged there or
// read there by anyone) was passed over (else it skipped). The first read of
// a partition is held to the same rule against the offset the partition was
// assigned at. A group member's partitions move between members at every
// rebalance, so a SubscribedSession is exempt from these two checks; its
// reads count for everything else.
type Session struct {
	h *History
	n int
}

// ManualSession starts a session of consumer that assigned itself
// partitions: from holds the offset each partition was assigned at, where
// known (a partition not in from is checked from its first read on).
func (h *History) ManualSession(consumer int, from map[int32]int64) *Session {
	f := make(map[int32]int64, len(from))
	for p, o := range from {
		f[p] = o
	}
	return h.session(historySession{consumer: consumer, manual: true, from: f})
}

// SubscribedSession starts a session of consumer as a member of a
// consumer group, whose partitions the group assigns.
func (h *History) SubscribedSession(consumer int) *Session {
	return h.session(historySession{consumer: consumer})
}

func (h *History) session(s historySession) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.sessions = append(h.mu.sessions, s)
	return &Session{h: h, n: len(h.mu.sessions) - 1}
}

// Read records that the session read the record with value at partition
// and offset. Reads of one session must be recorded in the order the client
// returned them.
func (s *Session) Read(partition int32, offset int64, value []byte) {
	now := time.Now()
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.mu.reads = append(s.h.mu.reads, historyRead{s.n, partition, offset, string(value), now})
}

// LogBounds records that partition holds offsets [start, end) at the end of
// the run, after every send ended, and that the history holds a read of all
// of them (the final read). Check then requires every acknowledged record
// at or after start to have been read, and no record to have been read at
// or after end.
func (h *History) LogBounds(partition int32, start, end int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.bounds[partition] = historyBounds{start, end}
}

// historySnapshot is a copy of a history's records, for Check.
type historySnapshot struct {
	start    time.Time
	sends    []historySend
	reads    []historyRead
	sessions []historySession
	bounds   map[int32]historyBounds
}

func (h *History) snapshot() historySnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := historySnapshot{
		start:    h.start,
		sends:    make([]historySend, 0, len(h.mu.sends)),
		reads:    append([]historyRead(nil), h.mu.reads...),
		sessions: append([]historySession(nil), h.mu.sessions...),
		bounds:   make(map[int32]historyBounds, len(h.mu.bounds)),
	}
	for _, send := range h.mu.sends {
		s.sends = append(s.sends, *send)
	}
	for p, b := range h.mu.bounds {
		s.bounds[p] = b
	}
	return s
}

// An AnomalyKind names one way a history breaks the semantics of a queue
// (Jepsen's queue and Kafka checkers: every acknowledged write is read,
// nothing is read twice or out of nowhere, and each partition is one log
// that every client sees the same way).
type AnomalyKind uint8

const (
	// LostWrite: a record was acknowledged at an offset but never read,
	// although a consumer read that offset or one past it, or the final
	// read covered it (LogBounds). Indeterminate sends are never lost.
	LostWrite AnomalyKind = iota + 1
	// Truncated: a consumer read an offset at or past the end of the final
	// log: a record it saw is gone.
	Truncated
	// Duplicate: one sent record is at more than one place (acknowledged
	// or read at two offsets or partitions).
	Duplicate
	// InconsistentOffset: one offset holds two different records, by two
	// reads or by a read and an acknowledgement.
	InconsistentOffset
	// ProducerReorder: a producer's later send got a lower offset on a
	// partition than one of its earlier sends. An idempotent producer's
	// records land in the order it sent them. A send's offset is the one it
	// was acknowledged at, else the lowest one it was read at.
	ProducerReorder
	// ConsumerSkip: within a session under manual assignment, two
	// successive reads of a partition passed over a record known to be
	// between them (see Session).
	ConsumerSkip
	// ConsumerBackwards: within a session under manual assignment, a read
	// of a partition was at an offset no higher than the read before it, or
	// below the offset the partition was assigned at.
	ConsumerBackwards
	// Phantom: a record was read that no producer sent.
	Phantom
	// AbortedRead: a record whose send definitively failed was read.
	AbortedRead
)

var historyKindNames = [...]string{
	LostWrite:          "lost-write",
	Truncated:          "truncated",
	Duplicate:          "duplicate",
	InconsistentOffset: "inconsistent-offset",
	ProducerReorder:    "producer-reorder",
	ConsumerSkip:       "consumer-skip",
	ConsumerBackwards:  "consumer-backwards",
	Phantom:            "phantom",
	AbortedRead:        "aborted-read",
}

func (k AnomalyKind) String() string {
	if int(k) < len(historyKindNames) && historyKindNames[k] != "" {
		return historyKindNames[k]
	}
	return fmt.Sprintf("AnomalyKind(%d)", uint8(k))
}

// An Anomaly is one violation found by Check, at the partition and offset
// it concerns (the first of them, if several).
type Anomaly struct {
	Kind      AnomalyKind
	Partition int32
	Offset    int64
	Detail    string
}

func (a Anomaly) String() string {
	return fmt.Sprintf("%v %d@%d: %s", a.Kind, a.Partition, a.Offset, a.Detail)
}

// A Report is what Check found in a history: how much it checked, and
// every anomaly.
type Report struct {
	Sends         int // records sent
	Acked         int // sends acknowledged
	Failed        int // sends definitively refused
	Indeterminate int // sends with no definite outcome
	// IndeterminateRead is how many of the indeterminate sends were read:
	// written after all.
	IndeterminateRead int
	// SendErrors counts the errors that failed and indeterminate sends
	// ended with, by message.
	SendErrors  map[string]int
	Producers   int
	Sessions    int // consumer sessions, the final read's included
	Reads       int // reads recorded
	RecordsRead int // distinct records read
	Partitions  int // partitions written, read or bounded
	// Bounds are the final logs given to LogBounds, as [start, end).
	Bounds map[int32][2]int64

	Counts    map[AnomalyKind]int
	Anomalies []Anomaly // ordered by kind, partition, offset
}

// OK reports whether the history has no anomaly.
func (r Report) OK() bool { return len(r.Anomalies) == 0 }

// historyPrintLimit caps the anomalies of each kind that Report.String
// prints.
const historyPrintLimit = 100

// String describes what was checked and lists the anomalies: all of them,
// unless a kind has more than 100, of which it lists the first 100
// (Anomalies holds every one).
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checked %d sends by %d producers (%d acked, %d failed, %d indeterminate of which %d were read) and %d reads of %d distinct records in %d consumer sessions, over %d partitions",
		r.Sends, r.Producers, r.Acked, r.Failed, r.Indeterminate, r.IndeterminateRead, r.Reads, r.RecordsRead, r.Sessions, r.Partitions)
	if len(r.SendErrors) > 0 {
		b.WriteString("; send errors:")
		for _, msg := range slices.Sorted(maps.Keys(r.SendErrors)) {
			fmt.Fprintf(&b, " %q %d", msg, r.SendErrors[msg])
		}
	}
	if len(r.Bounds) > 0 {
		b.WriteString("; final logs")
		for _, p := range slices.Sorted(maps.Keys(r.Bounds)) {
			fmt.Fprintf(&b, " %d:[%d,%d)", p, r.Bounds[p][0], r.Bounds[p][1])
		}
	}
	if r.OK() {
		b.WriteString("\nno anomalies")
		return b.String()
	}
	fmt.Fprintf(&b, "\n%d anomalies:", len(r.Anomalies))
	for k := LostWrite; int(k) < len(historyKindNames); k++ {
		if n := r.Counts[k]; n > 0 {
			fmt.Fprintf(&b, " %v %d", k, n)
		}
	}
	printed := map[AnomalyKind]int{}
	for _, a := range r.Anomalies {
		if printed[a.Kind]++; printed[a.Kind] <= historyPrintLimit {
			fmt.Fprintf(&b, "\n  %v", a)
		}
	}
	for k := LostWrite; int(k) < len(historyKindNames); k++ {
		if n := printed[k]; n > historyPrintLimit {
			fmt.Fprintf(&b, "\n  … and %d more %v anomalies (Report.Anomalies has them all)", n-historyPrintLimit, k)
		}
	}
	return b.String()
}

// historyLoc is a place in the topic.
type historyLoc struct {
	p int32
	o int64
}

func (l historyLoc) String() string { return fmt.Sprintf("%d@%d", l.p, l.o) }

// historySeen is one observation of a record at a place: by an ack (read
// is -1) or by a read (the index of the read).
type historySeen struct {
	loc  historyLoc
	id   string // the record: its value
	read int
	ack  RecordID
}

// Check judges a history with the semantics of a queue; see AnomalyKind for
// what it looks for.
func Check(h *History) Report {
	c := historyChecker{historySnapshot: h.snapshot()}
	return c.check()
}

type historyChecker struct {
	historySnapshot
	sendOf    map[RecordID]*historySend
	at        map[historyLoc]historySeen   // first record seen at each place
	conflicts map[historyLoc][]historySeen // other records seen there
	where     map[string][]historySeen     // first sighting of a record at each of its places
	firstRead map[string]int               // first read of each record
	maxRead   map[int32]int                // read of the highest offset of each partition
	known     map[int32][]int64            // sorted offsets at which some record was seen
	report    Report
}

func (c *historyChecker) check() Report {
	c.sendOf = make(map[RecordID]*historySend, len(c.sends))
	c.at = map[historyLoc]historySeen{}
	c.conflicts = map[historyLoc][]historySeen{}
	c.where = map[string][]historySeen{}
	c.firstRead = map[string]int{}
	c.maxRead = map[int32]int{}
	c.known = map[int32][]int64{}
	r := &c.report
	r.Counts = map[AnomalyKind]int{}
	r.Sends, r.Reads, r.Sessions = len(c.sends), len(c.reads), len(c.sessions)

	// Sends in producer and sequence order.
	sortSends(c.sends)
	producers := map[int]bool{}
	for i := range c.sends {
		s := &c.sends[i]
		c.sendOf[s.id] = s
		producers[s.id.Producer] = true
		switch s.outcome {
		case Acked:
			r.Acked++
			c.see(historySeen{loc: historyLoc{s.partition, s.offset}, id: s.id.String(), read: -1, ack: s.id})
		case Failed:
			r.Failed++
		default:
			r.Indeterminate++
		}
		if s.err != "" {
			if r.SendErrors == nil {
				r.SendErrors = map[string]int{}
			}
			r.SendErrors[s.err]++
		}
	}
	r.Producers = len(producers)
	for i, rd := range c.reads {
		loc := historyLoc{rd.partition, rd.offset}
		c.see(historySeen{loc: loc, id: rd.value, read: i})
		if _, ok := c.firstRead[rd.value]; !ok {
			c.firstRead[rd.value] = i
		}
		if m, ok := c.maxRead[rd.partition]; !ok || rd.offset > c.reads[m].offset {
			c.maxRead[rd.partition] = i
		}
	}
	r.RecordsRead = len(c.firstRead)
	partitions := map[int32]bool{}
	for loc := range c.at {
		partitions[loc.p] = true
		c.known[loc.p] = append(c.known[loc.p], loc.o)
	}
	for p := range c.known {
		slices.Sort(c.known[p])
	}
	if len(c.bounds) > 0 {
		r.Bounds = map[int32][2]int64{}
	}
	for p, b := range c.bounds {
		partitions[p] = true
		r.Bounds[p] = [2]int64{b.start, b.end}
	}
	r.Partitions = len(partitions)

	c.checkPlaces()
	c.checkRecords()
	c.checkLost()
	c.checkProducers()
	c.checkSessions()

	slices.SortFunc(r.Anomalies, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.Offset, b.Offset), strings.Compare(a.Detail, b.Detail))
	})
	return *r
}

func sortSends(sends []historySend) {
	slices.SortFunc(sends, func(a, b historySend) int {
		return cmp.Or(cmp.Compare(a.id.Producer, b.id.Producer), cmp.Compare(a.id.Seq, b.id.Seq))
	})
}

// see indexes one observation.
func (c *historyChecker) see(s historySeen) {
	if first, ok := c.at[s.loc]; !ok {
		c.at[s.loc] = s
	} else if first.id != s.id && !slices.ContainsFunc(c.conflicts[s.loc], func(o historySeen) bool { return o.id == s.id }) {
		c.conflicts[s.loc] = append(c.conflicts[s.loc], s)
	}
	if !slices.ContainsFunc(c.where[s.id], func(o historySeen) bool { return o.loc == s.loc }) {
		c.where[s.id] = append(c.where[s.id], s)
	}
}

func (c *historyChecker) add(k AnomalyKind, loc historyLoc, format string, args ...any) {
	c.report.Counts[k]++
	c.report.Anomalies = append(c.report.Anomalies, Anomaly{Kind: k, Partition: loc.p, Offset: loc.o, Detail: fmt.Sprintf(format, args...)})
}

// rel is t relative to the start of the history.
func (c *historyChecker) rel(t time.Time) string {
	return "+" + t.Sub(c.start).Round(time.Millisecond).String()
}

// who describes an observation.
func (c *historyChecker) who(s historySeen) string {
	if s.read < 0 {
		send := c.sendOf[s.ack]
		return fmt.Sprintf("%s sent %s, acked at %v %s", s.id, c.rel(send.sent), s.loc, c.rel(send.done))
	}
	return fmt.Sprintf("%q read at %v %s", s.id, s.loc, c.readBy(s.read))
}

// readBy describes the reader of read i.
func (c *historyChecker) readBy(i int) string {
	rd := c.reads[i]
	ses := c.sessions[rd.session]
	return fmt.Sprintf("by consumer %d (session %d) %s", ses.consumer, rd.session, c.rel(rd.at))
}

// checkPlaces finds offsets that hold two records, and reads past the end
// of the final log.
func (c *historyChecker) checkPlaces() {
	for loc, others := range c.conflicts {
		parts := []string{c.who(c.at[loc])}
		for _, o := range others {
			parts = append(parts, c.who(o))
		}
		c.add(InconsistentOffset, loc, "%d different records: %s", len(parts), strings.Join(parts, "; "))
	}
	for loc, s := range c.at {
		b, ok := c.bounds[loc.p]
		if !ok || loc.o < b.end {
			continue
		}
		// The first read at loc, if any; an ack past the end is a lost
		// write.
		for _, seen := range append([]historySeen{s}, c.conflicts[loc]...) {
			if seen.read >= 0 {
				c.add(Truncated, loc, "%s, but the final log of partition %d is [%d, %d)", c.who(seen), loc.p, b.start, b.end)
				break
			}
		}
	}
}

// checkRecords finds records at several places, records read but never
// sent and records read although their send failed.
func (c *historyChecker) checkRecords() {
	for id, places := range c.where {
		slices.SortFunc(places, func(a, b historySeen) int {
			return cmp.Or(cmp.Compare(a.loc.p, b.loc.p), cmp.Compare(a.loc.o, b.loc.o))
		})
		if len(places) > 1 {
			var parts []string
			for _, s := range places {
				parts = append(parts, c.who(s))
			}
			c.add(Duplicate, places[0].loc, "%s is at %d places: %s", id, len(places), strings.Join(parts, "; "))
		}
		first, read := c.firstRead[id]
		if !read {
			continue
		}
		rid, ok := ParseRecordID([]byte(id))
		send := c.sendOf[rid]
		loc := historyLoc{c.reads[first].partition, c.reads[first].offset}
		switch {
		case !ok || send == nil:
			c.add(Phantom, loc, "%q was never sent, but read at %v %s", id, loc, c.readBy(first))
		case send.outcome == Failed:
			c.add(AbortedRead, loc, "%s failed %s (%s), but was read at %v %s", id, c.rel(send.done), send.err, loc, c.readBy(first))
		case send.outcome == Indeterminate:
			c.report.IndeterminateRead++
		}
	}
}

// checkLost finds acknowledged records that were never read although they
// should have been.
func (c *historyChecker) checkLost() {
	for i := range c.sends {
		s := &c.sends[i]
		if s.outcome != Acked {
			continue
		}
		if _, read := c.firstRead[s.id.String()]; read {
			continue
		}
		loc := historyLoc{s.partition, s.offset}
		if m, ok := c.maxRead[s.partition]; ok && c.reads[m].offset >= s.offset {
			c.add(LostWrite, loc, "%s sent %s, acked at %v %s, was never read, but offset %d was read %s", s.id, c.rel(s.sent), loc, c.rel(s.done), c.reads[m].offset, c.readBy(m))
			continue
		}
		if b, ok := c.bounds[s.partition]; ok && s.offset >= b.start {
			c.add(LostWrite, loc, "%s sent %s, acked at %v %s, was never read, and the final read covered [%d, %d)", s.id, c.rel(s.sent), loc, c.rel(s.done), b.start, b.end)
		}
	}
}

// checkProducers finds producers whose sends landed out of order.
func (c *historyChecker) checkProducers() {
	type last struct {
		id  RecordID
		loc historyLoc
	}
	var highest map[int32]last // of the current producer, per partition
	producer := -1
	for i := range c.sends {
		s := &c.sends[i]
		if s.id.Producer != producer {
			producer, highest = s.id.Producer, map[int32]last{}
		}
		var loc historyLoc
		switch places := c.where[s.id.String()]; {
		case s.outcome == Acked:
			loc = historyLoc{s.partition, s.offset}
		case len(places) > 0:
			loc = places[0].loc // lowest, sorted by checkRecords
		default:
			continue
		}
		h, ok := highest[loc.p]
		switch {
		case !ok || loc.o > h.loc.o:
			highest[loc.p] = last{s.id, loc}
		case loc.o < h.loc.o:
			c.add(ProducerReorder, loc, "%s landed at %v, below %s, which producer %d sent earlier, at %v", s.id, loc, h.id, producer, h.loc)
		}
	}
}

// checkSessions finds consumers under manual assignment that skipped
// records or went backwards within a session.
func (c *historyChecker) checkSessions() {
	type key struct {
		session   int
		partition int32
	}
	prev := map[key]int{} // last read of each session and partition
	for i, rd := range c.reads {
		ses := c.sessions[rd.session]
		if !ses.manual {
			continue
		}
		k := key{rd.session, rd.partition}
		loc := historyLoc{rd.partition, rd.offset}
		j, ok := prev[k]
		prev[k] = i
		var after int64
		var what string
		switch from, assigned := ses.from[rd.partition]; {
		case ok:
			after, what = c.reads[j].offset, fmt.Sprintf("after reading offset %d %s", c.reads[j].offset, c.rel(c.reads[j].at))
		case assigned:
			after, what = from-1, fmt.Sprintf("as its first read of the partition, assigned at offset %d", from)
		default:
			continue
		}
		if rd.offset <= after {
			c.add(ConsumerBackwards, loc, "consumer %d (session %d) read %v %s %s", ses.consumer, rd.session, loc, c.rel(rd.at), what)
			continue
		}
		known := c.known[rd.partition]
		lo, _ := slices.BinarySearch(known, after+1)
		hi, _ := slices.BinarySearch(known, rd.offset)
		if hi > lo {
			skipped := known[lo:hi]
			more := ""
			if len(skipped) > 10 {
				skipped, more = skipped[:10], " …"
			}
			c.add(ConsumerSkip, loc, "consumer %d (session %d) read %v %s %s, skipping %d known records at offsets %v%s",
				ses.consumer, rd.session, loc, c.rel(rd.at), what, hi-lo, skipped, more)
		}
	}
}
