package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A Workload is a queue workload for Check: Producers idempotent acks=all
// producers, each sending records round robin over every partition of
// Topic, and Consumers consumers that each read every partition under
// manual assignment from offset 0, all running for Duration while Faults
// injects faults. Each record's value is its RecordID. Then the producers
// stop and wait out their outstanding sends, the consumers stop, and a final
// read reads every partition from the start of its log to its end.
// Everything is recorded in a History.
//
// The clients reconnect to the same addresses after a fault, so a broker
// that is restarted must come back at its old address.
type Workload struct {
	Brokers    []string // seed addresses
	Topic      string   // created by Run
	Partitions int32
	Producers  int
	Consumers  int
	Duration   time.Duration
	// Rate caps the records each producer sends per second; 0 sends as
	// fast as the client takes them.
	Rate int
	// Faults, if set, is called on the goroutine that called Run once
	// every client runs, with a context that ends after Duration. Run waits
	// for it before it stops the clients, so the run may last longer than
	// Duration and a fault can end with a restart. Faults may call
	// t.FailNow: Run then stops its clients on the way out.
	Faults func(ctx context.Context)
	// Logf, if set, receives a summary of each phase.
	Logf func(format string, args ...any)
}

// Timeouts of a workload's phases.
const (
	// WorkloadDrainTimeout bounds the wait for the producers' outstanding
	// sends after Duration; what is left is failed as indeterminate.
	WorkloadDrainTimeout = 20 * time.Second
	// WorkloadFinalReadTimeout bounds the final read.
	WorkloadFinalReadTimeout = 60 * time.Second
)

// Run creates the topic, runs the workload into h and returns when the
// final read is done. An error means the workload could not do its part
// (a client did not start, the final read did not reach the end of the
// log); the anomalies of the system under test are for Check to find.
func (w *Workload) Run(h *History) error {
	if err := w.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.createTopic(ctx)
	cancel()
	if err != nil {
		return err
	}

	var (
		closers  []func()       // of every client, each to call once
		sending  sync.WaitGroup // producer send loops
		polling  sync.WaitGroup // consumer poll loops
		promises sync.WaitGroup // outstanding sends
		errs     workloadErrors
	)
	produceCtx, stopProducing := context.WithCancel(context.Background())
	consumeCtx, stopConsuming := context.WithCancel(context.Background())
	defer func() { // on every way out, FailNow in Faults included
		stopProducing()
		stopConsuming()
		for _, closeClient := range closers {
			closeClient()
		}
		sending.Wait()
		polling.Wait()
	}()

	producers := make([]*kgo.Client, w.Producers)
	for i := range producers {
		cl, err := kgo.NewClient(kgo.SeedBrokers(w.Brokers...),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and needs acks=all
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.MaxBufferedRecords(workloadInflight),
			kgo.MetadataMinAge(100*time.Millisecond))
		if err != nil {
			return fmt.Errorf("producer %d: %w", i, err)
		}
		producers[i] = cl
		closers = append(closers, sync.OnceFunc(cl.Close))
	}
	consumers := make([]*kgo.Client, w.Consumers)
	sessions := make([]*Session, w.Consumers)
	for i := range consumers {
		cl, err := w.reader(w.offsets(0))
		if err != nil {
			return fmt.Errorf("consumer %d: %w", i, err)
		}
		consumers[i] = cl
		closers = append(closers, sync.OnceFunc(cl.Close))
		sessions[i] = h.ManualSession(i, w.offsets(0))
	}
	for i, cl := range consumers {
		polling.Go(func() { w.consume(consumeCtx, cl, sessions[i], nil, &errs) })
	}
	start := time.Now()
	for i, cl := range producers {
		sending.Go(func() { w.produce(produceCtx, cl, i, h, &promises) })
	}

	runCtx, endRun := context.WithTimeout(context.Background(), w.Duration)
	defer endRun()
	if w.Faults != nil {
		w.Faults(runCtx)
	}
	<-runCtx.Done()
	w.logf("workload: ran %s; stopping the producers", time.Since(start).Round(time.Millisecond))

	stopProducing()
	sending.Wait() // no send starts from here on
	drained := time.Now()
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), WorkloadDrainTimeout)
	var flushes sync.WaitGroup
	for i, cl := range producers {
		flushes.Go(func() {
			if err := cl.Flush(drainCtx); err != nil {
				errs.add("flush", err)
			}
			closers[i]() // fails what is left: indeterminate
		})
	}
	flushes.Wait()
	cancelDrain()
	if !workloadWait(&promises, WorkloadDrainTimeout) {
		return fmt.Errorf("workload: produce promises still pending %s after closing the producers", WorkloadDrainTimeout)
	}
	w.logf("workload: producers drained in %s", time.Since(drained).Round(time.Millisecond))
	stopConsuming()
	polling.Wait()
	for _, closeClient := range closers[len(producers):] {
		closeClient()
	}

	final := time.Now()
	if err := w.finalRead(h); err != nil {
		return err
	}
	w.logf("workload: final read in %s; client errors seen: %v", time.Since(final).Round(time.Millisecond), errs.String())
	return nil
}

func (w *Workload) validate() error {
	switch {
	case len(w.Brokers) == 0:
		return errors.New("workload: no brokers")
	case w.Topic == "":
		return errors.New("workload: no topic")
	case w.Partitions <= 0 || w.Producers <= 0 || w.Consumers < 0 || w.Rate < 0:
		return fmt.Errorf("workload: %d partitions, %d producers, %d consumers, rate %d: need at least one partition and producer, and no negative count",
			w.Partitions, w.Producers, w.Consumers, w.Rate)
	case w.Duration <= 0:
		return fmt.Errorf("workload: duration %s", w.Duration)
	}
	return nil
}

func (w *Workload) logf(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	}
}

func (w *Workload) createTopic(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	// Replication factor -1: the cluster's default.
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, w.Partitions, -1, nil, w.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("workload: create topic %s with %d partitions: %w", w.Topic, w.Partitions, err)
	}
	return nil
}

// offsets maps every partition to offset.
func (w *Workload) offsets(offset int64) map[int32]int64 {
	m := make(map[int32]int64, w.Partitions)
	for p := range w.Partitions {
		m[p] = offset
	}
	return m
}

// reader is a client that reads the partitions in from under manual
// assignment, each from its offset.
func (w *Workload) reader(from map[int32]int64) (*kgo.Client, error) {
	parts := make(map[int32]kgo.Offset, len(from))
	for p, o := range from {
		parts[p] = kgo.NewOffset().At(o)
	}
	return kgo.NewClient(kgo.SeedBrokers(w.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.Topic: parts}),
		// Were an offset out of range, start over: the checker reports
		// it as going backwards instead of the client hiding it.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond))
}

// workloadInflight caps the sends of one producer that have not ended.
const workloadInflight = 5000

// produce sends records from producer p until ctx ends.
func (w *Workload) produce(ctx context.Context, cl *kgo.Client, p int, h *History, promises *sync.WaitGroup) {
	var interval time.Duration
	if w.Rate > 0 {
		interval = time.Second / time.Duration(w.Rate)
	}
	// The workload bounds the records in flight itself, so that the
	// client never blocks in Produce: the context given to Produce would
	// also fail every record it buffered once it ended.
	inflight := make(chan struct{}, workloadInflight)
	next := time.Now()
	for seq := int64(0); ; seq++ {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		// On schedule, but without a burst to catch up after a stall.
		if next = next.Add(interval); time.Since(next) > 100*time.Millisecond {
			next = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case inflight <- struct{}{}:
		}
		id := RecordID{Producer: p, Seq: seq}
		h.Send(id)
		promises.Add(1)
		r := &kgo.Record{Topic: w.Topic, Partition: int32(seq % int64(w.Partitions)), Value: id.Value()}
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer promises.Done()
			<-inflight
			switch {
			case err == nil:
				h.Ack(id, r.Partition, r.Offset)
			case workloadRefused(err):
				h.Fail(id, err)
			default:
				h.Indeterminate(id, err)
			}
		})
	}
}

// workloadRefused reports whether err proves that the record was not
// written: the broker refused the record itself, as it refuses every
// attempt to send it. Any other error (a timeout, a lost connection, a
// closed client, retries exhausted) leaves open whether an earlier attempt
// was written.
func workloadRefused(err error) bool {
	for _, refusal := range []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.InvalidTopicException, kerr.TopicAuthorizationFailed} {
		if errors.Is(err, refusal) {
			return true
		}
	}
	return false
}

// consume records what cl reads into s until ctx ends, or, if until is
// not nil, until it has read every partition in until up to the offset
// before the one until maps it to (and ignores records from there on).
func (w *Workload) consume(ctx context.Context, cl *kgo.Client, s *Session, until map[int32]int64, errs *workloadErrors) {
	for ctx.Err() == nil && (until == nil || len(until) > 0) {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, kgo.ErrClientClosed) {
				errs.add(fmt.Sprintf("fetch partition %d", p), err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if until == nil {
				s.Read(r.Partition, r.Offset, r.Value)
				return
			}
			end, ok := until[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			s.Read(r.Partition, r.Offset, r.Value)
			if r.Offset == end-1 {
				delete(until, r.Partition)
			}
		})
	}
}

// finalRead lists the bounds of every partition and reads all of it.
func (w *Workload) finalRead(h *History) error {
	ctx, cancel := context.WithTimeout(context.Background(), WorkloadFinalReadTimeout)
	defer cancel()
	start, end, err := w.bounds(ctx)
	if err != nil {
		return err
	}
	until := map[int32]int64{}
	for p := range w.Partitions {
		h.LogBounds(p, start[p], end[p])
		if end[p] > start[p] {
			until[p] = end[p]
		}
	}
	cl, err := w.reader(start)
	if err != nil {
		return fmt.Errorf("final read: %w", err)
	}
	defer cl.Close()
	var errs workloadErrors
	w.consume(ctx, cl, h.ManualSession(w.Consumers, start), until, &errs)
	if len(until) > 0 {
		var left []string
		for _, p := range slices.Sorted(maps.Keys(until)) {
			left = append(left, fmt.Sprintf("%d:[%d,%d)", p, start[p], end[p]))
		}
		return fmt.Errorf("final read: did not reach the end of partitions %s within %s (errors: %s)",
			strings.Join(left, " "), WorkloadFinalReadTimeout, errs.String())
	}
	return nil
}

// bounds lists the start and end offsets of every partition, retrying
// while the cluster is unavailable.
func (w *Workload) bounds(ctx context.Context) (start, end map[int32]int64, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.Brokers...))
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	list := func(f func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		l, err := f(ctx, w.Topic)
		if err == nil {
			err = l.Error()
		}
		m := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		if err == nil && len(m) != int(w.Partitions) {
			err = fmt.Errorf("%d partitions listed, want %d", len(m), w.Partitions)
		}
		return m, err
	}
	for {
		if start, err = list(adm.ListStartOffsets); err == nil {
			if end, err = list(adm.ListEndOffsets); err == nil {
				return start, end, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("final read: list offsets of %s: %w", w.Topic, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// workloadWait waits for wg at most timeout; false if it timed out.
func workloadWait(wg *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// workloadErrors counts the client errors a workload saw, by message.
type workloadErrors struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *workloadErrors) add(what string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[what+": "+err.Error()]++
}

func (e *workloadErrors) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.n) == 0 {
		return "none"
	}
	var parts []string
	for _, msg := range slices.Sorted(maps.Keys(e.n)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", msg, e.n[msg]))
	}
	return strings.Join(parts, "; ")
}
