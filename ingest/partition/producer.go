package partition

import (
	"fmt"

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
}

type seqBatch struct {
	firstSeq, lastSeq int32
	base, last        int64
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

// record remembers a written batch.
func (p *producer) record(h *batch.Header) {
	if h.ProducerEpoch != p.epoch {
		p.epoch = h.ProducerEpoch
		p.n, p.head = 0, 0
	}
	p.batches[p.head] = seqBatch{firstSeq: h.BaseSequence, lastSeq: h.LastSequence(), base: h.BaseOffset, last: h.LastOffset()}
	p.head = (p.head + 1) % producerWindow
	p.n = min(p.n+1, producerWindow)
}
