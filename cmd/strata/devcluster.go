package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// devChildren are brokers 1..N-1 of "strata dev --brokers N": each a
// "strata broker" child process of this one, on the embedded etcd and the
// same object store, so that killing one (kill -9 PID) shows a failover.
// A child that exits while strata dev runs is started again after
// devRestartDelay.
type devChildren struct {
	ctx      context.Context // ends when stop is called or strata dev ends
	cancel   context.CancelFunc
	log      *slog.Logger
	stderr   io.Writer
	children []*devChild
	wg       sync.WaitGroup
}

// devChild is one child broker.
type devChild struct {
	id    int32
	args  []string
	kafka string // its Kafka listener, from its ready line

	mu  sync.Mutex
	cmd *exec.Cmd
}

const (
	// devRestartDelay is how long a child broker that exited stays down:
	// long enough for its lease to expire and its partitions to fail over.
	devRestartDelay = 5 * time.Second
	// devChildReady bounds the wait for a child broker's ready line.
	devChildReady = time.Minute
	// devChildStop is how long a child has to shut down after SIGTERM.
	devChildStop = 15 * time.Second
)

// devChildSkip are the flags strata dev sets itself on its children, or
// that mean nothing to "strata broker".
var devChildSkip = map[string]bool{
	"brokers": true, "etcd-listen": true, "data-dir": true, "kafka-addr": true, "advertised-kafka-addr": true,
	"replication-addr": true, "replication-peer": true, "http-addr": true, "auto-create-topics": true, "config": true,
}

// childArgs returns the "strata broker" arguments of child broker i: the
// flags given to strata dev, ports shifted by i, its own data directory.
func childArgs(cmd *cobra.Command, f *serverFlags, i int, etcdURL string) ([]string, error) {
	shift := func(name, addr string) (string, error) {
		a, err := shiftPort(addr, i)
		if err != nil {
			return "", fmt.Errorf("--%s %q: %w", name, addr, err)
		}
		return a, nil
	}
	kafka, err := shift("kafka-addr", f.kafkaAddr)
	if err != nil {
		return nil, err
	}
	repl, err := shift("replication-addr", f.replicationAddr)
	if err != nil {
		return nil, err
	}
	args := []string{"broker", "--id", strconv.Itoa(i), "--etcd-endpoints", etcdURL,
		"--data-dir", filepath.Join(f.dataDir, fmt.Sprintf("broker-%d", i)),
		"--kafka-addr", kafka, "--replication-addr", repl, "--http-addr", "",
		"--auto-create-topics=" + strconv.FormatBool(f.autoCreate)}
	if f.advertisedAddr != "" {
		adv, err := shift("advertised-kafka-addr", f.advertisedAddr)
		if err != nil {
			return nil, err
		}
		args = append(args, "--advertised-kafka-addr", adv)
	}
	if f.objects.endpoint == "" && f.objects.dir == "" {
		args = append(args, "--object-store-dir", filepath.Join(f.dataDir, "objects"))
	}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if devChildSkip[fl.Name] {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+fl.Name, v)
			}
			return
		}
		args = append(args, "--"+fl.Name+"="+fl.Value.String())
	})
	return args, nil
}

// startDevChildren starts brokers 1..n-1 as child processes and waits
// until each has printed its ready line.
func startDevChildren(ctx context.Context, cmd *cobra.Command, f *serverFlags, n int, etcdURL string, log *slog.Logger) (*devChildren, error) {
	d := &devChildren{log: log, stderr: cmd.ErrOrStderr()}
	d.ctx, d.cancel = context.WithCancel(ctx)
	for i := 1; i < n; i++ {
		args, err := childArgs(cmd, f, i, etcdURL)
		if err != nil {
			d.stop()
			return nil, err
		}
		c := &devChild{id: int32(i), args: args}
		if err := d.start(c); err != nil {
			d.stop()
			return nil, fmt.Errorf("broker %d: %w", i, err)
		}
		d.children = append(d.children, c)
		d.wg.Add(1)
		go d.supervise(c)
	}
	return d, nil
}

// kafkaAddrs lists the children's Kafka listeners.
func (d *devChildren) kafkaAddrs() []string {
	var out []string
	for _, c := range d.children {
		out = append(out, c.kafka)
	}
	return out
}

// start runs c and waits for its ready line. Its stderr (its log) goes to
// strata dev's.
func (d *devChildren) start(c *devChild) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, c.args...)
	cmd.Stderr = d.stderr
	cmd.SysProcAttr = childSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "strata ready: ") {
				select {
				case ready <- line:
				default:
				}
			}
		}
		close(ready)
	}()
	timer := time.NewTimer(devChildReady)
	defer timer.Stop()
	select {
	case line, ok := <-ready:
		if !ok {
			err := cmd.Wait()
			return fmt.Errorf("exited before it was ready: %v", err)
		}
		for _, field := range strings.Fields(strings.TrimPrefix(line, "strata ready: ")) {
			if v, ok := strings.CutPrefix(field, "kafka="); ok {
				c.kafka = v
			}
		}
	case <-timer.C:
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("no ready line after %s", devChildReady)
	case <-d.ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		return d.ctx.Err()
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	d.log.Info("started broker", "broker", c.id, "pid", cmd.Process.Pid, "kafka", c.kafka)
	return nil
}

// supervise waits for c to exit and, unless stopping, starts it again.
func (d *devChildren) supervise(c *devChild) {
	ctx := d.ctx
	defer d.wg.Done()
	for {
		c.mu.Lock()
		cmd := c.cmd
		c.mu.Unlock()
		err := cmd.Wait()
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("broker exited; starting it again", "broker", c.id, "pid", cmd.Process.Pid, "exit", exitDesc(err), "in", devRestartDelay)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(devRestartDelay):
			}
			err := d.start(c)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			d.log.Error("restart broker", "broker", c.id, "err", err)
		}
	}
}

// exitDesc says how a child exited.
func exitDesc(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return fmt.Sprintf("status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "status 0"
}

// stop sends SIGTERM to every child and waits for them to exit (SIGKILL
// after devChildStop).
func (d *devChildren) stop() {
	d.cancel()
	var procs []*os.Process
	for _, c := range d.children {
		c.mu.Lock()
		if c.cmd != nil {
			procs = append(procs, c.cmd.Process)
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
		c.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(devChildStop):
		for _, p := range procs {
			p.Kill()
		}
		<-done
	}
}
