package partition

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-log/strata/ingest/batch"
)

// producerWindow is how many recent batches per producer are remembered for
// duplicate detection: Kafka clients keep at most 5 requests in flight per
// partition when idempotent.
const producerWindow = 5

// producer is one idempotent producer's state on one partition: its epoch
// and its last few batches. It is rebuilt from the WAL on recovery, so it
// survives restarts.
type producer struct {
	epoch   int16
	batches [producerWindow]seqBatch
	n       int // number of valid entries, newest at (head-1)
	head    int
	lastMs  int64 // unix ms of its last append (or of its restoring)
}

type seqBatch struct {
	firstSeq, lastSeq int32
	base, last        int64
}

// ProducerState is an idempotent producer's state on a partition as
// tiering saves it in the manifest: the WAL segments that held its
// batches may be gone by the next start.
type ProducerState struct {
	ID      int64
	Epoch   int16
	Batches []SeqBatch // oldest first, at most five
	LastMs  int64      // unix ms of the producer's last append
}

// SeqBatch is a batch an idempotent producer wrote: its sequence numbers
// and offsets.
type SeqBatch struct {
	FirstSeq, LastSeq int32
	Base, Last        int64
}

func (l *Log) producerLocked(id int64) *producer {
	p := l.mu.producers[id]
	if p == nil {
		p = &producer{epoch: -1}
		l.mu.producers[id] = p
	}
	return p
}

func (p *producer) lastBatch() (seqBatch, bool) {
	if p.n == 0 {
		return seqBatch{}, false
	}
	return p.batches[(p.head+producerWindow-1)%producerWindow], true
}

// check validates h's sequence against the producer's state. It returns the
// earlier batch when h is a retry of one already written.
func (p *producer) check(h *batch.Header) (*seqBatch, error) {
	switch {
	case h.ProducerEpoch < p.epoch:
		return nil, fmt.Errorf("epoch %d is older than %d: %w", h.ProducerEpoch, p.epoch, kerr.InvalidProducerEpoch)
	case h.ProducerEpoch > p.epoch || p.n == 0:
		// A new producer, or a bumped epoch: sequences restart at 0.
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("first sequence %d for epoch %d, want 0: %w", h.BaseSequence, h.ProducerEpoch, kerr.OutOfOrderSequenceNumber)
		}
		return nil, nil
	}
	for i := 0; i < p.n; i++ {
		b := &p.batches[(p.head+producerWindow-1-i)%producerWindow]
		if b.firstSeq == h.BaseSequence && b.lastSeq == h.LastSequence() {
			dup := *b
			return &dup, nil
		}
	}
	last, _ := p.lastBatch()
	if want := int32((int64(last.lastSeq) + 1) % (1 << 31)); h.BaseSequence != want {
		return nil, fmt.Errorf("sequence %d, want %d: %w", h.BaseSequence, want, kerr.OutOfOrderSequenceNumber)
	}
	return nil, nil
}

// record remembers a written batch. Replay may show it a batch it already
// knows (restored from a manifest, then found again in the WAL): that is
// skipped.
func (p *producer) record(h *batch.Header) {
	if last, ok := p.lastBatch(); ok && h.ProducerEpoch == p.epoch && h.BaseOffset <= last.last {
		return
	}
	if h.ProducerEpoch != p.epoch {
		p.epoch = h.ProducerEpoch
		p.n, p.head = 0, 0
	}
	p.batches[p.head] = seqBatch{firstSeq: h.BaseSequence, lastSeq: h.LastSequence(), base: h.BaseOffset, last: h.LastOffset()}
	p.head = (p.head + 1) % producerWindow
	p.n = min(p.n+1, producerWindow)
}

// snapshot returns the producer's batches that end below end, oldest
// first, as a ProducerState (false if it has none).
func (p *producer) snapshot(id, end int64) (ProducerState, bool) {
	st := ProducerState{ID: id, Epoch: p.epoch, LastMs: p.lastMs}
	for i := p.n - 1; i >= 0; i-- {
		b := p.batches[(p.head+producerWindow-1-i)%producerWindow]
		if b.last < end {
			st.Batches = append(st.Batches, SeqBatch{FirstSeq: b.firstSeq, LastSeq: b.lastSeq, Base: b.base, Last: b.last})
		}
	}
	return st, len(st.Batches) > 0
}

// restore seeds the producer from a snapshot.
func (p *producer) restore(st ProducerState) {
	p.epoch, p.n, p.head, p.lastMs = st.Epoch, 0, 0, st.LastMs
	for _, b := range st.Batches[max(0, len(st.Batches)-producerWindow):] {
		p.batches[p.head] = seqBatch{firstSeq: b.FirstSeq, lastSeq: b.LastSeq, base: b.Base, last: b.Last}
		p.head = (p.head + 1) % producerWindow
		p.n++
	}
}

// Producers returns the state of the idempotent producers that wrote
// below offset end and appended since expireBeforeMs (unix ms), sorted by
// id: what the partition's manifest keeps for them once the WAL segments
// holding their batches are released.
func (l *Log) Producers(end, expireBeforeMs int64) []ProducerState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ProducerState
	for id, p := range l.mu.producers {
		if p.lastMs < expireBeforeMs {
			continue
		}
		if st, ok := p.snapshot(id, end); ok {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b ProducerState) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// dropFrom forgets the producer's batches at or above offset (a truncated
// tail) and reports whether none is left.
func (p *producer) dropFrom(offset int64) bool {
	for p.n > 0 {
		last, _ := p.lastBatch()
		if last.last < offset {
			break
		}
		p.head = (p.head + producerWindow - 1) % producerWindow
		p.n--
	}
	return p.n == 0
}
