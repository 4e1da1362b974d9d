package e2e

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyEcho is a loopback TCP server that echoes what it reads and counts
// the bytes it received.
type proxyEcho struct {
	addr     string
	received atomic.Int64
}

func startProxyEcho(t *testing.T) *proxyEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &proxyEcho{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return e
}

func proxyDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// proxyRoundTrip writes msg to c and reads it back within timeout.
func proxyRoundTrip(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return errors.New("echo " + string(got) + ", want " + msg)
	}
	return nil
}

func TestProxyForwards(t *testing.T) {
	e := startProxyEcho(t)
	p := NewProxy(t, e.addr)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := proxyDial(t, p.Addr())
			msg := string(bytes.Repeat([]byte{byte('a' + i)}, 100<<10)) // several chunks
			if err := proxyRoundTrip(c, msg, 10*time.Second); err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := e.received.Load(); got != 8*100<<10 {
		t.Errorf("target received %d bytes, want %d", got, 8*100<<10)
	}
}

// TestProxyCutHeal: a Cut closes the open connections and refuses new
// dials; Heal listens on the same address again.
func TestProxyCutHeal(t *testing.T) {
	e := startProxyEcho(t)
	p := NewProxy(t, e.addr)
	addr := p.Addr()
	c := proxyDial(t, addr)
	if err := proxyRoundTrip(c, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read of a cut connection: %d bytes, %v; want it closed", n, err)
	}
	if d, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		d.Close()
		t.Fatal("dial of a cut proxy succeeded")
	} else {
		t.Logf("dial of a cut proxy: %v", err)
	}
	p.Cut() // idempotent

	p.Heal()
	if p.Addr() != addr {
		t.Errorf("healed proxy at %s, was at %s", p.Addr(), addr)
	}
	if err := proxyRoundTrip(proxyDial(t, addr), "after", 5*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	p.Heal() // idempotent
}

// TestProxyBlackhole: during a Blackhole open connections stay open and new
// dials are accepted, but no byte reaches the target or comes back; after
// Heal the held bytes are delivered on both.
func TestProxyBlackhole(t *testing.T) {
	e := startProxyEcho(t)
	p := NewProxy(t, e.addr)
	old := proxyDial(t, p.Addr())
	if err := proxyRoundTrip(old, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := e.received.Load()

	p.Blackhole()
	fresh := proxyDial(t, p.Addr()) // accepted although partitioned
	for _, c := range []net.Conn{old, fresh} {
		err := proxyRoundTrip(c, "held", 300*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round trip through a blackhole: %v, want a timeout", err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := e.received.Load(); got != before {
		t.Fatalf("the target received %d bytes through a blackhole", got-before)
	}

	p.Heal()
	for name, c := range map[string]net.Conn{"old": old, "fresh": fresh} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
			t.Fatalf("%s connection after Heal: read %q, %v; want the held bytes echoed", name, got, err)
		}
		if err := proxyRoundTrip(c, "more", 5*time.Second); err != nil {
			t.Fatalf("%s connection after Heal: %v", name, err)
		}
	}

	// A Cut during a Blackhole closes everything; Heal ends both.
	p.Blackhole()
	p.Cut()
	p.Heal()
	if err := proxyRoundTrip(proxyDial(t, p.Addr()), "again", 5*time.Second); err != nil {
		t.Fatalf("after Blackhole, Cut, Heal: %v", err)
	}
}

// TestProxySetDelay: a delay applies in both directions, to each chunk
// independently (latency, not a throughput cap), and can be removed.
func TestProxySetDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	e := startProxyEcho(t)
	p := NewProxy(t, e.addr)
	c := proxyDial(t, p.Addr())
	p.SetDelay(delay)

	start := time.Now()
	if err := proxyRoundTrip(c, "slow", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(start)
	if rtt < 2*delay {
		t.Errorf("round trip took %s with a delay of %s each way, want at least %s", rtt, delay, 2*delay)
	}

	// Ten chunks 20ms apart: pipelined they are all back after about
	// 180ms+2*delay; delayed one after the other they would take over
	// 10*delay.
	start = time.Now()
	for range 10 {
		if _, err := c.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	burst := time.Since(start)
	if burst < 2*delay || burst > 5*delay {
		t.Errorf("10 chunks 20ms apart took %s with a delay of %s each way, want %s to %s", burst, delay, 2*delay, 5*delay)
	}

	p.SetDelay(0)
	start = time.Now()
	if err := proxyRoundTrip(c, "fast", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fast := time.Since(start)
	if fast >= delay {
		t.Errorf("round trip without delay took %s", fast)
	}
	t.Logf("round trips: %s with %s each way, %s without; 10 chunks in %s", rtt.Round(time.Millisecond), delay, fast.Round(time.Microsecond), burst.Round(time.Millisecond))
}
