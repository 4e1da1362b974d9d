package replication

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/ingest/quorum"
)

// Peer is the leader side towards one follower broker: one connection
// carrying every partition this broker leads and that broker follows.
// For each partition it learns where the follower's log agrees with the
// leader's, truncates the rest, then sends batches as they are appended,
// keeping at most window bytes unacknowledged, and reports every
// acknowledged durable end to the partition's quorum tracker.
type Peer struct {
	local, remote int32
	addr          func() (string, error)
	log           *slog.Logger
	window        int

	mu      sync.Mutex
	streams map[partitionKey]*stream
	pending [][]byte // control frames to send before any batch
	wake    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// stream is one partition's replication to the follower.
type stream struct {
	log    *partition.Log
	epoch  int32
	unhook func()
	// next is the next offset to send; -1 until the follower's log is
	// known (after a probe).
	next    int64
	probing bool
	sent    []sentFrame // in flight, in offset order
	fenced  bool
	// hold: recovery is still deciding who leads; the stream probes the
	// follower (fencing it) and reports its log to probed, but truncates
	// and sends nothing until Start.
	hold   bool
	probed chan quorum.LogEnd
}

type sentFrame struct {
	end  int64
	size int
}

func (s *stream) inflight() int {
	n := 0
	for _, f := range s.sent {
		n += f.size
	}
	return n
}

// NewPeer replicates to broker remote, whose replication listener addr
// resolves before each connection attempt (a broker that is down has
// none; it is retried). window bounds the unacknowledged bytes per
// partition (0: 4 MiB).
func NewPeer(local, remote int32, addr func() (string, error), window int, log *slog.Logger) *Peer {
	if window <= 0 {
		window = 4 << 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{local: local, remote: remote, addr: addr, window: window,
		log:     log.With("component", "replication", "follower", remote),
		streams: map[partitionKey]*stream{}, wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go p.run()
	return p
}

// Track starts replicating l, which this broker leads in epoch, to the
// follower.
func (p *Peer) Track(l *partition.Log, epoch int32) {
	id := l.ID()
	k := partitionKey{id.Topic, id.Partition}
	s := &stream{log: l, epoch: epoch, next: -1, unhook: l.OnAppend(p.poke)}
	p.mu.Lock()
	if old := p.streams[k]; old != nil {
		old.unhook()
	}
	p.streams[k] = s
	p.mu.Unlock()
	p.poke()
}

// Probe fences the follower's copy of l at epoch and reports its log on
// the returned channel, without changing it: a new leader's recovery asks
// every replica before it decides whose log is the source. Start begins
// replication once the broker leads; Untrack gives up.
func (p *Peer) Probe(l *partition.Log, epoch int32) <-chan quorum.LogEnd {
	id := l.ID()
	k := partitionKey{id.Topic, id.Partition}
	s := &stream{log: l, epoch: epoch, next: -1, hold: true, probed: make(chan quorum.LogEnd, 1), unhook: l.OnAppend(p.poke)}
	p.mu.Lock()
	if old := p.streams[k]; old != nil {
		old.unhook()
	}
	p.streams[k] = s
	p.mu.Unlock()
	p.poke()
	return s.probed
}

// Start ends a probe's hold: replication of the partition begins (with a
// fresh probe, as the follower may have changed meanwhile).
func (p *Peer) Start(id partition.ID) {
	p.mu.Lock()
	if s := p.streams[partitionKey{id.Topic, id.Partition}]; s != nil && s.hold {
		s.hold, s.next, s.probing = false, -1, false
	}
	p.mu.Unlock()
	p.poke()
}

// Untrack stops replicating a partition.
func (p *Peer) Untrack(id partition.ID) {
	k := partitionKey{id.Topic, id.Partition}
	p.mu.Lock()
	if s := p.streams[k]; s != nil {
		s.unhook()
		delete(p.streams, k)
	}
	p.mu.Unlock()
}

// Close stops the peer.
func (p *Peer) Close() {
	p.cancel()
	<-p.done
	p.mu.Lock()
	for _, s := range p.streams {
		s.unhook()
	}
	p.mu.Unlock()
}

func (p *Peer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run keeps a connection up, reconnecting with backoff.
func (p *Peer) run() {
	defer close(p.done)
	wait := 50 * time.Millisecond
	for p.ctx.Err() == nil {
		err := p.session()
		if p.ctx.Err() != nil {
			return
		}
		p.log.Debug("replication connection lost; reconnecting", "err", err, "in", wait)
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// session runs one connection: every stream starts again with a probe.
func (p *Peer) session() error {
	addr, err := p.addr()
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(p.ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(p.ctx, func() { c.Close() })
	defer stop()
	p.mu.Lock()
	for _, s := range p.streams {
		s.next, s.probing, s.sent = -1, false, nil
	}
	p.pending = nil
	p.mu.Unlock()

	w := bufio.NewWriterSize(c, 1<<20)
	if _, err := w.Write(appendFrame(nil, &frame{Type: frameHello, Broker: p.local})); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	r := bufio.NewReaderSize(c, 64<<10)
	f, buf, err := readFrame(r, nil)
	if err != nil {
		return err
	}
	if f.Type != frameHello || f.Broker != p.remote {
		return fmt.Errorf("%w: expected hello from broker %d, got type %d broker %d", ErrFrame, p.remote, f.Type, f.Broker)
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			var f *frame
			var err error
			f, buf, err = readFrame(r, buf)
			if err != nil {
				readErr <- err
				return
			}
			p.handle(f)
		}
	}()
	for {
		if err := p.sendPending(w); err != nil {
			return err
		}
		// Wait for something to send: an append (OnAppend pokes), an
		// answer, a new stream; the timer covers high watermark moves the
		// follower should hear of while nothing is appended.
		select {
		case <-p.ctx.Done():
			return p.ctx.Err()
		case err := <-readErr:
			return err
		case <-p.wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sendPending sends probes to streams whose follower state is unknown and
// batches to the others, within the window.
func (p *Peer) sendPending(w *bufio.Writer) error {
	p.mu.Lock()
	frames := p.pending
	p.pending = nil
	for k, s := range p.streams {
		if s.fenced {
			continue
		}
		hw := s.log.Offsets().HighWatermark
		if s.next < 0 {
			if !s.probing {
				s.probing = true
				frames = append(frames, appendFrame(nil, &frame{Type: frameAppend, Key: k, Epoch: s.epoch, HW: hw}))
			}
			continue
		}
		for s.inflight() < p.window {
			batches, _, err := s.log.ReadReplica(s.next, min(1<<20, p.window-s.inflight()))
			if err != nil {
				p.log.Warn("replication read failed", "partition", s.log.ID(), "offset", s.next, "err", err)
				break
			}
			if len(batches) == 0 {
				break
			}
			f := &frame{Type: frameAppend, Key: k, Epoch: s.epoch, HW: hw, Batches: batches}
			frames = append(frames, appendFrame(nil, f))
			size := 0
			for _, b := range batches {
				size += len(b)
			}
			h, err := batch.ReadHeader(batches[len(batches)-1])
			if err != nil {
				p.log.Error("replication: stored batch unreadable", "partition", s.log.ID(), "err", err)
				break
			}
			s.next = h.LastOffset() + 1
			s.sent = append(s.sent, sentFrame{end: s.next, size: size})
		}
	}
	p.mu.Unlock()
	for _, b := range frames {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return w.Flush()
}

// handle applies a follower's answer.
func (p *Peer) handle(f *frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.streams[f.Key]
	if s == nil || f.Epoch != s.epoch {
		return // an answer for a stream that moved on
	}
	switch f.Type {
	case frameAck:
		s.log.ReplicaDurable(p.remote, f.End)
		n := 0
		for n < len(s.sent) && s.sent[n].end <= f.End {
			n++
		}
		s.sent = s.sent[n:]
	case frameReject:
		switch f.Code {
		case rejectFenced:
			s.fenced = true
			p.log.Warn("follower is fenced by a newer epoch: this broker no longer leads", "partition", s.log.ID(), "epoch", s.epoch)
		case rejectMismatch:
			if s.hold {
				// Report, and probe no more until Start (or a
				// reconnection) asks again.
				select {
				case s.probed <- f.Log:
				default:
				}
				break
			}
			// The follower's log: agree up to the truncation point, drop
			// the rest, and send from there.
			point := quorum.TruncationPoint(s.log.LogEnd(), f.Log)
			s.probing, s.sent = false, nil
			s.next = point
			// The follower's answer says what it holds, not what is
			// durable: its durability is counted from its next ack, which
			// covers everything before the batches it acknowledges.
			if point < f.Log.End {
				p.sendLater(&frame{Type: frameTruncate, Key: f.Key, Epoch: s.epoch, End: point})
			}
		default:
			// Unknown partition (the follower has not opened it yet) or a
			// storage error: probe again shortly.
			p.log.Debug("follower refused replication", "partition", s.log.ID(), "code", f.Code)
			s.next, s.probing = -1, false
		}
	}
	p.poke()
}

// sendLater queues a control frame for the sender: frames are written by
// the session goroutine only.
func (p *Peer) sendLater(f *frame) {
	p.pending = append(p.pending, appendFrame(nil, f))
}
