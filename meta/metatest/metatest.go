// Package metatest gives tests a real etcd-backed meta.Store, using an etcd
// server embedded in the test process.
//
// Fastest: one server per test binary, shared by all tests, each test with
// its own key prefix:
//
//	func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) } // optional: stops the server at the end
//
//	func TestX(t *testing.T) {
//		st := metatest.Shared(t)
//		...
//	}
//
// For a test that needs its own server (to stop or restart it), use
// NewStore or NewEmbedded.
package metatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/meta"
)

// NewEmbedded starts an embedded etcd in a fresh t.TempDir() on free
// loopback ports and stops it when the test ends.
func NewEmbedded(t testing.TB) *meta.Embedded {
	t.Helper()
	e, err := meta.StartEmbedded(meta.EmbedConfig{
		Dir:           filepath.Join(t.TempDir(), "etcd"),
		ClientURL:     "http://127.0.0.1:0",
		UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatalf("metatest: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// NewClient returns a client of e, closed when the test ends.
func NewClient(t testing.TB, e *meta.Embedded) *clientv3.Client {
	t.Helper()
	cli, err := e.Client()
	if err != nil {
		t.Fatalf("metatest: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// NewStore starts a private embedded etcd (see NewEmbedded) and returns a
// Store on it with the default prefix. Everything is cleaned up when the
// test ends.
func NewStore(t testing.TB) *meta.Store {
	t.Helper()
	return meta.NewStore(NewClient(t, NewEmbedded(t)), "")
}

var shared struct {
	once sync.Once
	mu   sync.Mutex
	e    *meta.Embedded
	cli  *clientv3.Client
	dir  string
	err  error
}

var seq atomic.Int64

// Shared returns a Store on the test binary's shared embedded etcd (started
// on first use) with a prefix unique to this call, so tests, parallel or
// not, do not see each other's keys. The prefix's keys are deleted when the
// test ends. Do not close the Store's client: it is shared.
func Shared(t testing.TB) *meta.Store {
	t.Helper()
	shared.once.Do(startShared)
	shared.mu.Lock()
	cli, err := shared.cli, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("metatest: shared etcd: %v", err)
	}
	if cli == nil {
		t.Fatalf("metatest: shared etcd already stopped")
	}
	prefix := fmt.Sprintf("/t%d-%s", seq.Add(1), sanitize(t.Name()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = cli.Delete(ctx, prefix+"/", clientv3.WithPrefix())
	})
	return meta.NewStore(cli, prefix)
}

// SharedEndpoints returns the shared server's client endpoints, starting it
// if needed; for tests that need clients of their own.
func SharedEndpoints(t testing.TB) []string {
	t.Helper()
	shared.once.Do(startShared)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.err != nil {
		t.Fatalf("metatest: shared etcd: %v", shared.err)
	}
	if shared.e == nil {
		t.Fatalf("metatest: shared etcd already stopped")
	}
	return shared.e.Endpoints()
}

// Main runs the tests and then stops the shared server (if one was started)
// and removes its data. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }
//
// Without it the shared server lives until the process exits, and its data
// directory is removed by the next test process that starts one.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server and removes its data directory.
// Shared fails the calling test afterwards.
func StopShared() {
	shared.once.Do(func() {}) // never start it after this
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cli != nil {
		_ = shared.cli.Close()
		shared.cli = nil
	}
	if shared.e != nil {
		_ = shared.e.Close()
		shared.e = nil
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
		shared.dir = ""
	}
}

const sharedDirPattern = "strata-metatest-"

func startShared() {
	removeStaleDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", sharedDirPattern, os.Getpid()))
	if err == nil {
		var e *meta.Embedded
		e, err = meta.StartEmbedded(meta.EmbedConfig{
			Dir:           filepath.Join(dir, "etcd"),
			ClientURL:     "http://127.0.0.1:0",
			UnsafeNoFsync: true,
		})
		if err == nil {
			var cli *clientv3.Client
			cli, err = e.Client()
			if err == nil {
				shared.mu.Lock()
				shared.e, shared.cli, shared.dir = e, cli, dir
				shared.mu.Unlock()
				return
			}
			_ = e.Close()
		}
		_ = os.RemoveAll(dir)
	}
	shared.mu.Lock()
	shared.err = err
	shared.mu.Unlock()
}

// removeStaleDirs removes shared data directories left by test processes
// that have exited.
func removeStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedDirPattern+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), sharedDirPattern)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(m)
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH)
}

// sanitize keeps a test name readable inside an etcd key.
func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}
