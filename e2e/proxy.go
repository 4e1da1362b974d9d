package e2e

import (
	"net"
	"sync"
	"testing"
	"time"
)

// A Proxy forwards TCP connections from a loopback address to a target, and
// injects network faults between the two on demand:
//
//   - Cut closes the listener and every connection through it: clients see
//     their connections reset and new dials refused, as when a process dies.
//   - Blackhole keeps every connection open and goes on accepting new ones,
//     but moves no byte in either direction, as a network partition does:
//     clients hang until their own timeouts fire.
//   - SetDelay adds latency to every chunk of bytes in both directions.
//   - Heal ends a Cut or a Blackhole: the proxy listens on the same port
//     again and moves the bytes held back by a Blackhole.
//
// The methods are safe for concurrent use. The proxy is closed when its test
// ends.
type Proxy struct {
	t      testing.TB
	target string
	addr   string // fixed by the first listen, kept across Cut and Heal
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		ln     net.Listener // nil while cut
		links  map[*proxyLink]struct{}
		gate   chan struct{} // closed while bytes flow; open during a Blackhole
		holed  bool
		delay  time.Duration
		closed bool
	}
}

// proxyDialTimeout bounds the dial of the target for each accepted
// connection.
const proxyDialTimeout = 5 * time.Second

// proxyChunk is the most bytes the proxy reads at once from one side.
const proxyChunk = 32 << 10

// NewProxy starts a proxy on 127.0.0.1 (a free port: Addr) forwarding every
// connection to target. It is closed, with every connection through it,
// when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target}
	p.mu.links = map[*proxyLink]struct{}{}
	p.mu.gate = make(chan struct{})
	close(p.mu.gate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: listen: %v", target, err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port, the address clients dial instead of the
// target's. It stays the same across Cut and Heal.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes the listener and every connection through the proxy. Until
// Heal, dials of Addr are refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.ln != nil {
		p.mu.ln.Close()
		p.mu.ln = nil
	}
	for l := range p.mu.links {
		l.closeLocked()
		delete(p.mu.links, l)
	}
}

// Blackhole stops moving bytes in both directions without closing anything:
// open connections stay open, new dials are accepted (the target is not
// dialed), and whatever either side writes is held back, until Heal. At most
// one chunk per direction is held by the proxy; the rest stays in the
// senders' socket buffers and then blocks their writes, as in a partition.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mu.holed {
		p.mu.holed = true
		p.mu.gate = make(chan struct{})
	}
}

// Heal ends a Cut or a Blackhole (the delay stays as set). After a Cut the
// proxy listens on Addr again, retrying for a few seconds while the port is
// busy, and reports a failure through t.Errorf, so Heal may be called from
// any goroutine. After a Blackhole the held-back bytes flow, and connections
// accepted meanwhile are connected to the target.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return
	}
	if p.mu.holed {
		p.mu.holed = false
		close(p.mu.gate)
	}
	if p.mu.ln != nil {
		return
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		p.t.Errorf("proxy to %s: listen on %s again: %v", p.target, p.addr, err)
		return
	}
	p.serveLocked(ln)
}

// SetDelay delays every chunk of bytes by d in each direction: a chunk read
// from one side at time T is written to the other side at T+d. Chunks are
// delayed independently, so the delay adds latency without capping
// throughput. A zero d forwards at once; the change applies to chunks read
// from then on.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.delay = d
}

func (p *Proxy) close() {
	p.Cut()
	p.mu.Lock()
	p.mu.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

func (p *Proxy) serveLocked(ln net.Listener) {
	p.mu.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		l := &proxyLink{in: in, done: make(chan struct{})}
		p.mu.Lock()
		if p.mu.ln != ln { // cut meanwhile
			p.mu.Unlock()
			in.Close()
			return
		}
		p.mu.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.connect(l)
	}
}

// connect dials the target for l once bytes may flow, then forwards in both
// directions.
func (p *Proxy) connect(l *proxyLink) {
	defer p.wg.Done()
	if !p.waitGate(l) {
		return
	}
	out, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		l.closeLocked()
		delete(p.mu.links, l)
		return
	}
	if l.isClosed() {
		out.Close()
		return
	}
	l.out = out
	p.wg.Add(2)
	go p.forward(l, l.in, out)
	go p.forward(l, out, l.in)
}

// waitGate waits until bytes may flow; false if l was closed first.
func (p *Proxy) waitGate(l *proxyLink) bool {
	for {
		p.mu.Lock()
		gate := p.mu.gate
		p.mu.Unlock()
		select {
		case <-l.done:
			return false
		case <-gate:
		}
		// The gate may have been replaced by a new Blackhole between
		// the read and the wakeup; only a gate that is current counts.
		p.mu.Lock()
		open := !p.mu.holed
		p.mu.Unlock()
		if open {
			return true
		}
	}
}

type proxyPacket struct {
	b   []byte
	due time.Time
}

// forward copies src to dst chunk by chunk: a reader stamps each chunk with
// its due time (now plus the delay) and a writer writes it then. Both stop
// at the gate while the proxy is blackholed. When src ends or fails, the
// chunks already read are written and then the whole link is closed.
func (p *Proxy) forward(l *proxyLink, dst, src net.Conn) {
	defer p.wg.Done()
	queue := make(chan proxyPacket, 64)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(queue)
		for {
			if !p.waitGate(l) {
				return
			}
			buf := make([]byte, proxyChunk)
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				due := time.Now().Add(p.mu.delay)
				p.mu.Unlock()
				select {
				case queue <- proxyPacket{buf[:n], due}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer p.drop(l)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for pkt := range queue {
		if wait := time.Until(pkt.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.done:
				return
			}
		}
		if !p.waitGate(l) {
			return
		}
		if _, err := dst.Write(pkt.b); err != nil {
			return
		}
	}
}

// drop closes l and forgets it.
func (p *Proxy) drop(l *proxyLink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.closeLocked()
	delete(p.mu.links, l)
}

// A proxyLink is one client connection and, once dialed, its connection to
// the target. Its fields are guarded by the proxy's mutex.
type proxyLink struct {
	in, out net.Conn
	done    chan struct{} // closed by closeLocked
}

func (l *proxyLink) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *proxyLink) closeLocked() {
	if l.isClosed() {
		return
	}
	close(l.done)
	l.in.Close()
	if l.out != nil {
		l.out.Close()
	}
}
