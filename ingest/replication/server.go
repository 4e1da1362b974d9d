package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-log/strata/ingest/partition"
)

// Server is the follower side: it accepts leaders' connections and
// applies what they send to the local partitions.
type Server struct {
	local int32
	parts *partition.Manager
	log   *slog.Logger
	ln    net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

// NewServer serves replication on ln for broker local's partitions.
func NewServer(ln net.Listener, local int32, parts *partition.Manager, log *slog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{local: local, parts: parts, log: log.With("component", "replication"), ln: ln,
		ctx: ctx, cancel: cancel, conns: map[net.Conn]bool{}}
}

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts leaders until Close; it returns nil after Close.
func (s *Server) Serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replication: accept: %w", err)
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.serveConn(c); err != nil && s.ctx.Err() == nil {
				s.log.Warn("replication connection ended", "remote", c.RemoteAddr(), "err", err)
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// serveConn applies one leader's frames in order. Answers go through a
// writer goroutine: acknowledgements are sent from the WAL's durability
// callbacks, which must not block on the network.
func (s *Server) serveConn(c net.Conn) error {
	out := newOutbox(c)
	defer out.close()
	r := bufio.NewReaderSize(c, 1<<20)
	f, buf, err := readFrame(r, nil)
	if err != nil {
		return err
	}
	if f.Type != frameHello {
		return fmt.Errorf("%w: first frame of type %d, want hello", ErrFrame, f.Type)
	}
	leader := f.Broker
	out.send(&frame{Type: frameHello, Broker: s.local})
	for {
		f, buf, err = readFrame(r, buf)
		if err != nil {
			return err
		}
		switch f.Type {
		case frameAppend:
			s.apply(f, out)
		case frameTruncate:
			s.truncate(f, out)
		default:
			return fmt.Errorf("%w: leader %d sent frame type %d", ErrFrame, leader, f.Type)
		}
	}
}

func (s *Server) logOf(k partitionKey) *partition.Log {
	return s.parts.Log(partition.ID{Topic: k.Topic, Partition: k.Partition})
}

// apply appends an append frame's batches, acknowledging once durable.
func (s *Server) apply(f *frame, out *outbox) {
	l := s.logOf(f.Key)
	if l == nil {
		out.send(&frame{Type: frameReject, Key: f.Key, Epoch: f.Epoch, Code: rejectUnknown})
		return
	}
	key, epoch := f.Key, f.Epoch
	err := l.AppendReplica(epoch, f.Batches, func(end int64, err error) {
		if err != nil {
			out.send(&frame{Type: frameReject, Key: key, Epoch: epoch, Code: rejectStorage})
			return
		}
		out.send(&frame{Type: frameAck, Key: key, Epoch: epoch, End: end})
	})
	if err != nil {
		out.send(s.reject(l, f, err))
		return
	}
	if len(f.Batches) == 0 {
		// A probe: answer with the log, and take no high watermark from
		// it: this log may still differ from the leader's past the point
		// where they agree.
		out.send(&frame{Type: frameReject, Key: key, Epoch: epoch, Code: rejectMismatch, Log: l.LogEnd()})
		return
	}
	// The batches continued this log, so it agrees with the leader's up to
	// its end: the leader's high watermark holds for it.
	l.SetHighWatermark(f.HW)
}

// truncate applies a truncation and answers with the new end.
func (s *Server) truncate(f *frame, out *outbox) {
	l := s.logOf(f.Key)
	if l == nil {
		out.send(&frame{Type: frameReject, Key: f.Key, Epoch: f.Epoch, Code: rejectUnknown})
		return
	}
	if _, err := l.Fence(f.Epoch); err != nil {
		out.send(s.reject(l, f, err))
		return
	}
	if err := l.TruncateTo(f.End); err != nil {
		out.send(s.reject(l, f, err))
		return
	}
	out.send(&frame{Type: frameAck, Key: f.Key, Epoch: f.Epoch, End: l.LogEnd().End})
}

// reject turns a partition error into a reject frame carrying the log.
func (s *Server) reject(l *partition.Log, f *frame, err error) *frame {
	code := int16(rejectStorage)
	switch {
	case errors.Is(err, kerr.FencedLeaderEpoch):
		code = rejectFenced
	case errors.Is(err, kerr.OffsetOutOfRange):
		code = rejectMismatch
	}
	return &frame{Type: frameReject, Key: f.Key, Epoch: f.Epoch, Code: code, Log: l.LogEnd()}
}

// outbox writes frames to a connection from one goroutine, in the order
// they were sent, without ever blocking the sender.
type outbox struct {
	c      net.Conn
	mu     sync.Mutex
	queue  [][]byte
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newOutbox(c net.Conn) *outbox {
	o := &outbox{c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.run()
	return o
}

func (o *outbox) send(f *frame) {
	b := appendFrame(nil, f)
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.queue = append(o.queue, b)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	defer close(o.done)
	w := bufio.NewWriterSize(o.c, 1<<20)
	for range o.wake {
		o.mu.Lock()
		q := o.queue
		o.queue = nil
		closed := o.closed
		o.mu.Unlock()
		for _, b := range q {
			if _, err := w.Write(b); err != nil {
				o.c.Close()
				return
			}
		}
		if err := w.Flush(); err != nil {
			o.c.Close()
			return
		}
		if closed {
			return
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	<-o.done
}
