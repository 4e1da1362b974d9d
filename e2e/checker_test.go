package e2e

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
)

// checkerID is the record id of producer p's send number seq.
func checkerID(p int, seq int64) RecordID { return RecordID{Producer: p, Seq: seq} }

// checkerAck records a send of id acknowledged at partition and offset.
func checkerAck(h *History, id RecordID, partition int32, offset int64) {
	h.Send(id)
	h.Ack(id, partition, offset)
}

// checkerRead records reads by s of ids at partition, from offset on.
func checkerRead(s *Session, partition int32, offset int64, ids ...RecordID) {
	for i, id := range ids {
		s.Read(partition, offset+int64(i), id.Value())
	}
}

// checkerWant checks h and requires exactly the anomalies counted in want.
func checkerWant(t *testing.T, h *History, want map[AnomalyKind]int) Report {
	t.Helper()
	r := Check(h)
	if !maps.Equal(r.Counts, want) || len(r.Anomalies) != checkerSum(want) {
		t.Errorf("anomalies %v, want %v; report:\n%v", r.Counts, want, r)
	} else {
		t.Logf("report:\n%v", r)
	}
	if r.OK() != (len(want) == 0) {
		t.Errorf("OK() = %v with anomalies %v", r.OK(), r.Counts)
	}
	return r
}

func checkerSum(m map[AnomalyKind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkerClean is a history without anomalies: two producers writing two
// partitions, two consumers under manual assignment reading along, a final
// read, and sends that ended every possible way but in an anomaly.
func checkerClean() *History {
	h := NewHistory()
	a, b := checkerID(0, 0), checkerID(0, 1)
	c, d := checkerID(1, 0), checkerID(1, 1)
	checkerAck(h, a, 0, 0)
	checkerAck(h, c, 0, 1)
	checkerAck(h, b, 1, 0)
	// Indeterminate but written, at 1@1.
	h.Send(d)
	h.Indeterminate(d, errors.New("context deadline exceeded"))
	// Indeterminate and not written, failed and not written, and a send
	// with no recorded outcome at all.
	for _, id := range []RecordID{checkerID(0, 2), checkerID(1, 2), checkerID(1, 3)} {
		h.Send(id)
	}
	h.Indeterminate(checkerID(0, 2), errors.New("client closed"))
	h.Fail(checkerID(1, 2), errors.New("MESSAGE_TOO_LARGE"))

	s := h.ManualSession(0, map[int32]int64{0: 0, 1: 0})
	checkerRead(s, 0, 0, a)
	checkerRead(s, 1, 0, b, d)
	checkerRead(s, 0, 1, c)
	// A consumer that joined later, at offset 1.
	checkerRead(h.ManualSession(1, map[int32]int64{0: 1, 1: 1}), 0, 1, c)

	final := h.ManualSession(2, map[int32]int64{0: 0, 1: 0})
	checkerRead(final, 0, 0, a, c)
	checkerRead(final, 1, 0, b, d)
	h.LogBounds(0, 0, 2)
	h.LogBounds(1, 0, 2)
	return h
}

func TestCheckerCleanHistory(t *testing.T) {
	r := checkerWant(t, checkerClean(), map[AnomalyKind]int{})
	want := Report{Sends: 7, Acked: 3, Failed: 1, Indeterminate: 3, IndeterminateRead: 1,
		Producers: 2, Sessions: 3, Reads: 9, RecordsRead: 4, Partitions: 2}
	got := r
	got.Bounds, got.SendErrors, got.Counts, got.Anomalies = nil, nil, nil, nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	for _, s := range []string{"7 sends by 2 producers", "3 indeterminate of which 1 were read", "9 reads of 4 distinct records", "0:[0,2) 1:[0,2)", `send errors: "MESSAGE_TOO_LARGE" 1 "client closed" 1 "context deadline exceeded" 1`, "no anomalies"} {
		if !strings.Contains(r.String(), s) {
			t.Errorf("report does not say %q:\n%v", s, r)
		}
	}
}

func TestCheckerIndeterminateIsNeverLost(t *testing.T) {
	h := NewHistory()
	checkerAck(h, checkerID(0, 0), 0, 0)
	for seq := int64(1); seq <= 3; seq++ {
		h.Send(checkerID(0, seq))
		h.Indeterminate(checkerID(0, seq), errors.New("request timed out"))
	}
	h.Send(checkerID(0, 4)) // no outcome recorded
	// 0-2 was written (read at 0@1), the others were not; the final read
	// covers the whole log.
	final := h.ManualSession(0, map[int32]int64{0: 0})
	checkerRead(final, 0, 0, checkerID(0, 0), checkerID(0, 2))
	h.LogBounds(0, 0, 2)
	r := checkerWant(t, h, map[AnomalyKind]int{})
	if r.Indeterminate != 4 || r.IndeterminateRead != 1 {
		t.Errorf("indeterminate %d of which %d read, want 4 and 1", r.Indeterminate, r.IndeterminateRead)
	}
}

func TestCheckerLostWrite(t *testing.T) {
	t.Run("read past it", func(t *testing.T) {
		h := NewHistory()
		for seq := range int64(4) {
			checkerAck(h, checkerID(0, seq), 0, seq)
		}
		// Subscribed, so the gap at 0@2 is not also a skip.
		s := h.SubscribedSession(0)
		checkerRead(s, 0, 0, checkerID(0, 0), checkerID(0, 1))
		checkerRead(s, 0, 3, checkerID(0, 3))
		r := checkerWant(t, h, map[AnomalyKind]int{LostWrite: 1})
		if a := r.Anomalies[0]; a.Partition != 0 || a.Offset != 2 || !strings.Contains(a.Detail, "p0-2") {
			t.Errorf("lost write reported as %v, want p0-2 at 0@2", a)
		}
	})
	t.Run("final read ends before it", func(t *testing.T) {
		h := NewHistory()
		checkerAck(h, checkerID(0, 0), 0, 0)
		checkerAck(h, checkerID(0, 1), 0, 1)
		checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, checkerID(0, 0))
		h.LogBounds(0, 0, 1)
		checkerWant(t, h, map[AnomalyKind]int{LostWrite: 1})
	})
	t.Run("not judged without a read past it", func(t *testing.T) {
		h := NewHistory()
		checkerAck(h, checkerID(0, 0), 0, 0)
		checkerAck(h, checkerID(0, 1), 0, 1)
		checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, checkerID(0, 0))
		checkerWant(t, h, map[AnomalyKind]int{})
	})
	t.Run("before the start of the final log", func(t *testing.T) {
		// Deleted by retention before anyone read it: the final read
		// cannot tell, and no read went past it.
		h := NewHistory()
		checkerAck(h, checkerID(0, 0), 0, 0)
		h.LogBounds(0, 1, 1)
		checkerWant(t, h, map[AnomalyKind]int{})
	})
}

func TestCheckerTruncated(t *testing.T) {
	h := NewHistory()
	for seq := range int64(3) {
		h.Send(checkerID(0, seq))
	}
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, checkerID(0, 0), checkerID(0, 1), checkerID(0, 2))
	// After a crash the log ends at 1: the records read at 1 and 2 are
	// gone.
	checkerRead(h.ManualSession(1, map[int32]int64{0: 0}), 0, 0, checkerID(0, 0))
	h.LogBounds(0, 0, 1)
	checkerWant(t, h, map[AnomalyKind]int{Truncated: 2})
}

func TestCheckerDuplicate(t *testing.T) {
	h := NewHistory()
	a, b := checkerID(0, 0), checkerID(0, 1)
	checkerAck(h, a, 0, 0)
	checkerAck(h, b, 0, 1)
	// A retry of a written first send 0 wrote it again at 0@2.
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, a, b, a)
	h.LogBounds(0, 0, 3)
	r := checkerWant(t, h, map[AnomalyKind]int{Duplicate: 1})
	if d := r.Anomalies[0].Detail; !strings.Contains(d, "0@0") || !strings.Contains(d, "0@2") {
		t.Errorf("duplicate detail %q does not name both places", d)
	}
}

func TestCheckerInconsistentOffset(t *testing.T) {
	t.Run("two reads", func(t *testing.T) {
		h := NewHistory()
		a, b, x := checkerID(0, 0), checkerID(0, 1), checkerID(1, 0)
		checkerAck(h, a, 0, 0)
		checkerAck(h, b, 0, 1)
		h.Send(x) // indeterminate: may be anywhere
		checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, a, b)
		checkerRead(h.ManualSession(1, map[int32]int64{0: 0}), 0, 0, a, x)
		checkerWant(t, h, map[AnomalyKind]int{InconsistentOffset: 1})
	})
	t.Run("read and ack", func(t *testing.T) {
		h := NewHistory()
		a, x := checkerID(0, 0), checkerID(1, 0)
		checkerAck(h, a, 0, 0)
		h.Send(x)
		checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, x)
		// a was acknowledged at 0@0 but the log holds x there: a is lost
		// too.
		checkerWant(t, h, map[AnomalyKind]int{InconsistentOffset: 1, LostWrite: 1})
	})
}

func TestCheckerProducerReorder(t *testing.T) {
	h := NewHistory()
	a, b, c := checkerID(0, 0), checkerID(0, 1), checkerID(0, 2)
	checkerAck(h, a, 0, 1)
	checkerAck(h, b, 0, 0) // sent after a, landed before it
	h.Send(c)              // indeterminate, read at 0@2: in order
	// Another producer's order on another partition is its own.
	checkerAck(h, checkerID(1, 0), 1, 0)
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, b, a, c)
	checkerRead(h.ManualSession(0, map[int32]int64{1: 0}), 1, 0, checkerID(1, 0))
	r := checkerWant(t, h, map[AnomalyKind]int{ProducerReorder: 1})
	if d := r.Anomalies[0].Detail; !strings.Contains(d, "p0-1") || !strings.Contains(d, "p0-0") {
		t.Errorf("reorder detail %q does not name both sends", d)
	}
}

func TestCheckerConsumerSkip(t *testing.T) {
	h := NewHistory()
	ids := make([]RecordID, 5)
	for i := range ids {
		ids[i] = checkerID(0, int64(i))
		checkerAck(h, ids[i], 0, int64(i))
	}
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, ids...)
	// Skips 0@2 and 0@3 between two reads.
	s := h.ManualSession(1, map[int32]int64{0: 0})
	checkerRead(s, 0, 0, ids[0], ids[1])
	checkerRead(s, 0, 4, ids[4])
	// Assigned at 0, starts at 1.
	checkerRead(h.ManualSession(2, map[int32]int64{0: 0}), 0, 1, ids[1:]...)
	// Gaps in the offsets that hold no known record are no skips
	// (transaction markers take offsets, for one).
	g := NewHistory()
	checkerAck(g, ids[0], 0, 0)
	checkerAck(g, ids[1], 0, 5)
	gs := g.ManualSession(0, map[int32]int64{0: 0})
	checkerRead(gs, 0, 0, ids[0])
	checkerRead(gs, 0, 5, ids[1])
	r := checkerWant(t, h, map[AnomalyKind]int{ConsumerSkip: 2})
	if d := r.Anomalies[1].Detail; !strings.Contains(d, "skipping 2 known records at offsets [2 3]") {
		t.Errorf("skip detail %q does not list the skipped offsets", d)
	}
	checkerWant(t, g, map[AnomalyKind]int{})
}

func TestCheckerConsumerBackwards(t *testing.T) {
	h := NewHistory()
	ids := make([]RecordID, 4)
	for i := range ids {
		ids[i] = checkerID(0, int64(i))
		checkerAck(h, ids[i], 0, int64(i))
	}
	// Back from 3 to 1, then 2 read twice.
	s := h.ManualSession(0, map[int32]int64{0: 0})
	for _, off := range []int64{0, 1, 2, 3, 1, 2, 2} {
		s.Read(0, off, ids[off].Value())
	}
	// Assigned at 2, reads 1 first.
	checkerRead(h.ManualSession(1, map[int32]int64{0: 2}), 0, 1, ids[1], ids[2], ids[3])
	// A new session may start over, and a group member's reads jump with
	// its rebalances: neither is an anomaly.
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, ids...)
	g := h.SubscribedSession(3)
	checkerRead(g, 0, 2, ids[2], ids[3])
	checkerRead(g, 0, 0, ids[0])
	checkerWant(t, h, map[AnomalyKind]int{ConsumerBackwards: 3})
}

func TestCheckerPhantom(t *testing.T) {
	h := NewHistory()
	a := checkerID(0, 0)
	checkerAck(h, a, 0, 0)
	s := h.ManualSession(0, map[int32]int64{0: 0})
	checkerRead(s, 0, 0, a)
	checkerRead(s, 0, 1, checkerID(7, 7)) // well formed, never sent
	s.Read(0, 2, []byte("garbage"))
	s.Read(0, 3, []byte("p01-2")) // not the canonical form of p1-2
	r := checkerWant(t, h, map[AnomalyKind]int{Phantom: 3})
	if !strings.Contains(r.String(), `"garbage" was never sent`) {
		t.Errorf("report does not quote the phantom value:\n%v", r)
	}
}

func TestCheckerAbortedRead(t *testing.T) {
	h := NewHistory()
	a, b := checkerID(0, 0), checkerID(0, 1)
	checkerAck(h, a, 0, 0)
	h.Send(b)
	h.Fail(b, errors.New("MESSAGE_TOO_LARGE"))
	checkerRead(h.ManualSession(0, map[int32]int64{0: 0}), 0, 0, a, b)
	r := checkerWant(t, h, map[AnomalyKind]int{AbortedRead: 1})
	if d := r.Anomalies[0].Detail; !strings.Contains(d, "MESSAGE_TOO_LARGE") {
		t.Errorf("aborted read detail %q does not carry the send's error", d)
	}
}

// TestCheckerReportLimit: String lists 100 anomalies of a kind and says how
// many more there are.
func TestCheckerReportLimit(t *testing.T) {
	h := NewHistory()
	s := h.SubscribedSession(0)
	for i := range 150 {
		s.Read(0, int64(i), []byte(fmt.Sprintf("ghost-%d", i)))
	}
	r := Check(h)
	if r.Counts[Phantom] != 150 || len(r.Anomalies) != 150 {
		t.Fatalf("%d phantoms, %d anomalies, want 150", r.Counts[Phantom], len(r.Anomalies))
	}
	out := r.String()
	if n := strings.Count(out, "\n  phantom "); n != historyPrintLimit {
		t.Errorf("String lists %d phantoms, want %d", n, historyPrintLimit)
	}
	if !strings.Contains(out, "and 50 more phantom anomalies") {
		t.Errorf("String does not say how many it left out:\n%s", out[len(out)-300:])
	}
}

// TestCheckerConcurrentRecording records from many goroutines at once (run
// it with -race) while checking.
func TestCheckerConcurrentRecording(t *testing.T) {
	const producers, sends = 8, 500
	h := NewHistory()
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := map[int32]int64{}
	for p := range producers {
		wg.Go(func() {
			s := h.SubscribedSession(p)
			for seq := range int64(sends) {
				id := checkerID(p, seq)
				h.Send(id)
				part := int32(seq % 4)
				mu.Lock()
				off := next[part]
				next[part]++
				h.Ack(id, part, off) // under mu: offsets in ack order
				mu.Unlock()
				s.Read(part, off, id.Value())
			}
		})
	}
	for range 10 {
		Check(h)
	}
	wg.Wait()
	r := checkerWant(t, h, map[AnomalyKind]int{})
	if r.Acked != producers*sends || r.RecordsRead != producers*sends {
		t.Errorf("acked %d, read %d, want %d", r.Acked, r.RecordsRead, producers*sends)
	}
}

func TestCheckerRecordID(t *testing.T) {
	for _, id := range []RecordID{{0, 0}, {3, 17}, {1 << 20, 1 << 40}} {
		got, ok := ParseRecordID(id.Value())
		if !ok || got != id {
			t.Errorf("ParseRecordID(%q) = %v, %v", id.Value(), got, ok)
		}
	}
	for _, v := range []string{"", "p", "p1", "p1-", "p-1-2", "q1-2", "p01-2", "p1-02", "p1-2x", "p1-+2"} {
		if id, ok := ParseRecordID([]byte(v)); ok {
			t.Errorf("ParseRecordID(%q) = %v, want not ok", v, id)
		}
	}
}
