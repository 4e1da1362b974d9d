package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// request is one decoded request on a connection.
type request struct {
	conn    *conn
	key     int16
	version int16
	corrID  int32
	client  string
	kreq    kmsg.Request
	// unsupported marks a parsed request of a version the broker does not
	// serve.
	unsupported bool
}

// conn serves one client connection. A reader goroutine decodes requests
// and runs them in order (see handle); a writer goroutine writes the
// responses in request order, as Kafka clients require.
type conn struct {
	b      *Broker
	nc     net.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	// slots carries, in request order, the channel each response arrives on.
	slots chan chan []byte
}

func (b *Broker) serveConn(nc net.Conn) {
	ctx, cancel := context.WithCancel(b.ctx)
	c := &conn{
		b: b, nc: nc, ctx: ctx, cancel: cancel,
		log:   b.log.With("remote", nc.RemoteAddr().String()),
		slots: make(chan chan []byte, 64),
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	b.metrics.connections.Inc()
	defer b.metrics.connections.Dec()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err := c.readLoop()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		c.log.Warn("closing connection", "err", err)
	}
	// The client is gone or misbehaved: stop in-flight handlers (a
	// long-polling fetch, a join waiting for its rebalance) and drop
	// their responses.
	cancel()
	close(c.slots)
	wg.Wait()
	nc.Close()
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.b.cfg.MaxRequestBytes {
			c.b.metrics.badRequests.Inc()
			return fmt.Errorf("request size %d outside [8, %d] (socket.request.max.bytes)", size, c.b.cfg.MaxRequestBytes)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("reading %d-byte request: %w", size, err)
		}
		c.b.metrics.bytesIn.Add(float64(size + 4))
		req, err := c.decode(buf)
		if err != nil {
			c.b.metrics.badRequests.Inc()
			return err
		}
		slot := make(chan []byte, 1)
		select {
		case c.slots <- slot:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		c.handle(req, slot)
	}
}

// decode parses a request header and body. Any error closes the
// connection, as Kafka does for requests it cannot parse.
func (c *conn) decode(buf []byte) (*request, error) {
	req := &request{
		conn:    c,
		key:     int16(binary.BigEndian.Uint16(buf[0:])),
		version: int16(binary.BigEndian.Uint16(buf[2:])),
		corrID:  int32(binary.BigEndian.Uint32(buf[4:])),
	}
	body := buf[8:]
	if len(body) < 2 {
		return nil, fmt.Errorf("request key %d: truncated header", req.key)
	}
	clientLen := int16(binary.BigEndian.Uint16(body))
	body = body[2:]
	if clientLen > 0 {
		if int(clientLen) > len(body) {
			return nil, fmt.Errorf("request key %d: client id length %d past the end", req.key, clientLen)
		}
		req.client = string(body[:clientLen])
		body = body[clientLen:]
	}
	a := lookupAPI(req.key)
	kreq := kmsg.RequestForKey(req.key)
	if a == nil || kreq == nil {
		return nil, fmt.Errorf("unknown api key %d (%s) version %d from client %q", req.key, kmsg.NameForKey(req.key), req.version, req.client)
	}
	if req.key == apiVersionsKey && (req.version < a.min || req.version > a.max) {
		// KIP-511: answer an ApiVersions request we cannot parse with v0
		// and UNSUPPORTED_VERSION, so the client can pick a version.
		req.kreq = nil
		return req, nil
	}
	if req.version < 0 || req.version > kreq.MaxVersion() {
		return nil, fmt.Errorf("%s version %d is unknown (serving %d-%d) for client %q", kmsg.NameForKey(req.key), req.version, a.min, a.max, req.client)
	}
	// A version we can parse but do not serve is answered with
	// UNSUPPORTED_VERSION (see handle).
	req.unsupported = req.version < a.min || req.version > a.max
	kreq.SetVersion(req.version)
	if kreq.IsFlexible() {
		// Request header v2: tagged fields after the client id.
		n, err := skipTags(body)
		if err != nil {
			return nil, fmt.Errorf("%s v%d: header tags: %w", kmsg.NameForKey(req.key), req.version, err)
		}
		body = body[n:]
	}
	if err := kreq.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%s v%d: malformed request: %w", kmsg.NameForKey(req.key), req.version, err)
	}
	req.kreq = kreq
	return req, nil
}

// skipTags returns the length of a tagged-field section at the start of b.
func skipTags(b []byte) (int, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return 0, errors.New("bad tag count")
	}
	off := used
	for i := uint64(0); i < n; i++ {
		_, u := binary.Uvarint(b[off:])
		if u <= 0 {
			return 0, errors.New("bad tag")
		}
		off += u
		size, u := binary.Uvarint(b[off:])
		if u <= 0 || size > uint64(len(b)-off-u) {
			return 0, errors.New("bad tag size")
		}
		off += u + int(size)
	}
	return off, nil
}

// handle runs one request and hands its encoded response (nil for none)
// to the writer. Handlers run on the reader goroutine, so a connection's
// requests are processed in the order they were sent, as Kafka guarantees
// (an idempotent producer's pipelined batches must be appended in order).
// An API with a deferred part (a produce waiting for durability) finishes
// on its own goroutine, so the next request can start meanwhile; the
// writer still sends responses in request order.
func (c *conn) handle(req *request, slot chan<- []byte) {
	start := time.Now()
	var later func() kmsg.Response
	resp, ok := c.safely(req, func() kmsg.Response {
		name := kmsg.NameForKey(req.key)
		switch {
		case req.kreq == nil:
			return unsupportedAPIVersions()
		case req.unsupported:
			c.log.Info("unsupported request version", "api", name, "version", req.version, "client", req.client)
			return errorResponse(req, kerr.UnsupportedVersion, fmt.Sprintf("%s v%d is not supported", name, req.version))
		}
		a := lookupAPI(req.key)
		if a.start != nil {
			later = a.start(c.b, req)
			return nil
		}
		return a.handle(c.b, req)
	})
	switch {
	case !ok:
		slot <- nil
	case later == nil:
		c.respond(req, start, resp, slot)
	default:
		go func() {
			resp, ok := c.safely(req, later)
			if !ok {
				slot <- nil
				return
			}
			c.respond(req, start, resp, slot)
		}()
	}
}

// safely runs fn; a panic is logged and closes the connection rather than
// the broker.
func (c *conn) safely(req *request, fn func() kmsg.Response) (resp kmsg.Response, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			name := kmsg.NameForKey(req.key)
			c.log.Error("handler panic; closing connection", "api", name, "version", req.version, "panic", r, "stack", string(debug.Stack()))
			c.b.metrics.requestErrors.WithLabelValues(name).Inc()
			c.cancel()
			c.nc.Close()
			ok = false
		}
	}()
	return fn(), true
}

func (c *conn) respond(req *request, start time.Time, resp kmsg.Response, slot chan<- []byte) {
	name := kmsg.NameForKey(req.key)
	c.b.metrics.requests.WithLabelValues(name).Inc()
	c.b.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	slot <- c.encode(req, resp)
}

func (c *conn) encode(req *request, resp kmsg.Response) []byte {
	if resp == nil {
		return nil // acks=0 produce: no response
	}
	if req.kreq != nil {
		resp.SetVersion(req.version)
	}
	buf := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(buf[4:], uint32(req.corrID))
	// Response header v1 (a tag section) for flexible versions, except
	// ApiVersions which always uses header v0.
	if resp.IsFlexible() && req.key != apiVersionsKey {
		buf = append(buf, 0)
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	failed := false
	for slot := range c.slots {
		var out []byte
		select {
		case out = <-slot:
		case <-c.ctx.Done():
			failed = true
		}
		if failed || out == nil {
			continue
		}
		if _, err := w.Write(out); err != nil {
			failed = true
			c.cancel()
			continue
		}
		c.b.metrics.bytesOut.Add(float64(len(out)))
		if len(c.slots) == 0 {
			if err := w.Flush(); err != nil {
				failed = true
				c.cancel()
			}
		}
	}
	if !failed {
		w.Flush()
	}
}
