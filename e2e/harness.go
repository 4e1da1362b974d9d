// Package e2e drives real strata processes with real clients.
//
// The harness builds the strata binary once per test process, starts
// "strata dev" (or any other strata command) as a child process, learns its
// addresses from the "strata ready:" line it prints on stdout, and stops it
// with SIGTERM or SIGKILL. Every wait is bounded and every child is killed
// when its test ends, so a misbehaving binary fails a test instead of hanging
// it. The tests themselves live in the _test.go files of this directory.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness. ReadyTimeout covers a restart after SIGKILL, in
// which the broker first waits out the etcd lease of its predecessor.
const (
	BuildTimeout = 5 * time.Minute
	ReadyTimeout = 60 * time.Second
	StopTimeout  = 30 * time.Second
	KillTimeout  = 10 * time.Second
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ModuleRoot is the directory holding the strata go.mod.
func ModuleRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// BinaryEnv names an environment variable that, if set, is the path of a
// strata binary to test instead of building one.
const BinaryEnv = "STRATA_E2E_BINARY"

// Binary builds ./cmd/strata once per test process and returns its path
// (or returns $STRATA_E2E_BINARY).
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if path := os.Getenv(BinaryEnv); path != "" {
			binary.path, binary.err = filepath.Abs(path)
			if binary.err == nil {
				_, binary.err = os.Stat(binary.path)
			}
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			binary.err = fmt.Errorf("find module root: %w", err)
			return
		}
		binary.dir, err = os.MkdirTemp("", "strata-e2e-bin-")
		if err != nil {
			binary.err = err
			return
		}
		path := filepath.Join(binary.dir, "strata")
		ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/strata")
		cmd.Dir = root
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/strata in %s: %v\n%s", root, err, out)
			return
		}
		binary.path = path
		t.Logf("built %s in %s", path, time.Since(start).Round(time.Millisecond))
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// RemoveBinary deletes the directory of the binary built by Binary. Call it
// from TestMain after the tests ran.
func RemoveBinary() {
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
}

// Env is the environment for strata children: this process's environment
// without any STRATA_* variable (so a developer's settings cannot change a
// test), plus extra ("KEY=value").
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Server is a running (or exited) strata server process.
type Server struct {
	// From the ready line.
	Kafka   string   // host:port of the (first) Kafka listener
	Brokers []string // every broker's Kafka listener ("strata dev --brokers N")
	HTTP    string   // base URL of the HTTP listener (http://host:port), if any
	Etcd    string   // client URL of the embedded etcd (strata dev only)
	DataDir string
	Cluster string
	// Ready is how long the process took to print its ready line.
	Ready time.Duration

	t          testing.TB
	name       string
	cmd        *exec.Cmd
	stderrPath string

	outMu  sync.Mutex
	stdout []string

	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

// StartDev starts "strata dev" on dataDir with loopback listeners on free
// ports, waits for its ready line and returns it. extra are more flags.
func StartDev(t testing.TB, dataDir string, extra ...string) *Server {
	t.Helper()
	return StartServer(t, Env(), append(devArgs(dataDir), extra...)...)
}

// TryStartDev is StartDev returning a start failure (the process exited or
// printed no ready line in time) instead of failing the test. The Server is
// returned either way, for its stderr.
func TryStartDev(t testing.TB, dataDir string, extra ...string) (*Server, error) {
	t.Helper()
	return TryStartServer(t, Env(), append(devArgs(dataDir), extra...)...)
}

func devArgs(dataDir string) []string {
	return []string{"dev", "--data-dir", dataDir,
		"--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--etcd-listen", "http://127.0.0.1:0"}
}

var starts struct {
	sync.Mutex
	n int
}

// StartServer starts strata with args and env and waits (at most
// ReadyTimeout) for its ready line. The process is killed when the test
// ends if it still runs; if the test failed, the tail of its stderr is
// logged.
func StartServer(t testing.TB, env []string, args ...string) *Server {
	t.Helper()
	s, err := TryStartServer(t, env, args...)
	if err != nil {
		t.Fatal(err) // the cleanup logs the stderr tail
	}
	return s
}

// TryStartServer is StartServer returning a start failure instead of
// failing the test.
func TryStartServer(t testing.TB, env []string, args ...string) (*Server, error) {
	t.Helper()
	bin := Binary(t)
	starts.Lock()
	starts.n++
	n := starts.n
	starts.Unlock()

	s := &Server{t: t, done: make(chan struct{})}
	s.stderrPath = filepath.Join(t.TempDir(), fmt.Sprintf("strata-%d.stderr", n))
	stderr, err := os.Create(s.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout = outW
	s.cmd.Stderr = stderr
	s.cmd.SysProcAttr = sysProcAttr()
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		t.Fatalf("start strata %s: %v", strings.Join(args, " "), err)
	}
	outW.Close()
	s.name = fmt.Sprintf("strata %s #%d (pid %d)", args[0], n, s.cmd.Process.Pid)

	ready := make(chan string, 1)
	go func() {
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			s.outMu.Lock()
			s.stdout = append(s.stdout, line)
			s.outMu.Unlock()
			if !sent && strings.HasPrefix(line, "strata ready: ") {
				ready <- line
				sent = true
			}
		}
	}()
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if !s.Exited() {
			s.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-s.done:
			case <-time.After(KillTimeout):
				t.Errorf("%s: still running %s after SIGKILL", s.name, KillTimeout)
			}
		}
		if t.Failed() {
			s.LogStderr(40)
		}
	})

	timer := time.NewTimer(ReadyTimeout)
	defer timer.Stop()
	select {
	case line := <-ready:
		s.Ready = time.Since(start)
		if err := s.parseReady(line); err != nil {
			return s, fmt.Errorf("%s: %v", s.name, err)
		}
		return s, nil
	case <-s.done:
		return s, fmt.Errorf("%s exited before it was ready: %v", s.name, s.waitErr)
	case <-timer.C:
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		return s, fmt.Errorf("%s: no ready line after %s (killed)", s.name, ReadyTimeout)
	}
}

func (s *Server) parseReady(line string) error {
	for _, f := range strings.Fields(strings.TrimPrefix(line, "strata ready: ")) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("ready line %q: field %q is not key=value", line, f)
		}
		switch k {
		case "kafka":
			// "strata dev --brokers N" lists every broker.
			s.Brokers = strings.Split(v, ",")
			s.Kafka = s.Brokers[0]
		case "http":
			s.HTTP = v
		case "etcd":
			s.Etcd = v
		case "data":
			s.DataDir = v
		case "cluster":
			s.Cluster = v
		}
	}
	if s.Kafka == "" {
		return fmt.Errorf("ready line %q has no kafka= address", line)
	}
	return nil
}

// Name identifies the process in messages.
func (s *Server) Name() string { return s.name }

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits (at most StopTimeout) for the process to
// exit, failing the test unless it exits with code 0. It returns how long
// the shutdown took.
func (s *Server) Stop() time.Duration {
	s.t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("%s: SIGTERM: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(StopTimeout):
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		s.t.Fatalf("%s: did not exit within %s of SIGTERM (killed)", s.name, StopTimeout)
	}
	took := time.Since(start)
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("%s: exit code %d after SIGTERM, want 0 (%v)", s.name, code, s.waitErr)
	}
	return took
}

// Kill sends SIGKILL and waits for the process to die.
func (s *Server) Kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("%s: SIGKILL: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(KillTimeout):
		s.t.Fatalf("%s: still running %s after SIGKILL", s.name, KillTimeout)
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
		s.t.Errorf("%s: exited with %v before SIGKILL reached it", s.name, s.waitErr)
	}
}

// Pause stops the process with SIGSTOP (it keeps its sockets but answers
// nothing, and its etcd lease runs out); Resume continues it.
func (s *Server) Pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("%s: SIGSTOP: %v", s.name, err)
	}
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("%s: SIGCONT: %v", s.name, err)
	}
}

// Stderr is everything the process wrote to stderr so far.
func (s *Server) Stderr() string {
	b, err := os.ReadFile(s.stderrPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", s.stderrPath, err)
	}
	return string(b)
}

// Stdout is every line the process wrote to stdout so far.
func (s *Server) Stdout() []string {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return append([]string(nil), s.stdout...)
}

// LogStderr logs the last n lines of the process's stderr.
func (s *Server) LogStderr(n int) {
	s.t.Helper()
	lines := strings.Split(strings.TrimRight(s.Stderr(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s.t.Logf("%s: last %d lines of stderr (%s):\n%s", s.name, len(lines), s.stderrPath, strings.Join(lines, "\n"))
}

// Result is the outcome of a strata command run to completion.
type Result struct {
	Code     int // exit code; -1 if killed
	Stdout   string
	Stderr   string
	Elapsed  time.Duration
	TimedOut bool
}

// Run runs strata with args and env to completion, killing it after
// timeout.
func Run(t testing.TB, timeout time.Duration, env []string, args ...string) Result {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start), TimedOut: ctx.Err() != nil}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		t.Fatalf("run strata %s: %v", strings.Join(args, " "), err)
	}
	return r
}
