package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads, which also says when a line appears.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDev runs "strata dev" in this process on free ports and returns the
// Kafka address; the server stops when the test ends.
func startDev(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"dev", "--data-dir", t.TempDir(), "--kafka-addr", "127.0.0.1:0",
		"--http-addr", "", "--etcd-listen", "http://127.0.0.1:0", "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("strata dev: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("strata dev did not stop within 30s")
		}
	})
	ready := regexp.MustCompile(`strata ready: kafka=(\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := ready.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("strata dev exited early: %v\nstderr:\n%s", err, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("strata dev not ready after 60s\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	return ""
}

// TestClientCommandsAgainstDev drives the client commands through cobra
// against an in-process "strata dev": topic create, produce, consume (plain
// and as a group), group describe, topic describe, cluster status, bench.
func TestClientCommandsAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process strata dev")
	}
	clearStrataEnv(t)
	addr := startDev(t)
	brokers := []string{"--brokers", addr, "--timeout", "20s"}
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, err := runCLI(t, stdin, append(args, brokers...)...)
		if err != nil {
			t.Fatalf("strata %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	sortedLines := func(s string) []string {
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		sort.Strings(lines)
		return lines
	}

	// topic create
	out := run("", "topic", "create", "e2e", "--partitions", "2", "--config", "retention.ms=3600000")
	if !strings.HasPrefix(out, `created topic "e2e"`) {
		t.Fatalf("topic create: %q", out)
	}
	if out := run("", "topic", "create", "e2e", "--if-not-exists"); out != "topic \"e2e\" already exists\n" {
		t.Errorf("topic create --if-not-exists: %q", out)
	}
	if out := run("", "topic", "list"); !regexp.MustCompile(`(?m)^e2e\s+2\s+\d+$`).MatchString(out) {
		t.Errorf("topic list:\n%s", out)
	}

	// produce
	out = run("k1:v1\nk2:v2\nk3:v3\n", "produce", "e2e", "--key-separator", ":", "--header", "src=e2e", "--verbose")
	if !regexp.MustCompile(`^(\d+@\d+\n){3}$`).MatchString(out) {
		t.Errorf("produce --verbose: %q", out)
	}
	if out := run("", "produce", "e2e", "--value", "v4", "--key", "k4"); out != "" {
		t.Errorf("produce --value printed %q", out)
	}

	// consume without a group: exits at the high watermark
	out = run("", "consume", "e2e", "--from-beginning", "--print-key", "--print-headers")
	if got, want := strings.Join(sortedLines(out), "|"), "\tk4\tv4|src=e2e\tk1\tv1|src=e2e\tk2\tv2|src=e2e\tk3\tv3"; got != want {
		t.Errorf("consume --from-beginning:\ngot  %q\nwant %q", got, want)
	}
	out = run("", "consume", "e2e", "--from-beginning", "--format", "json", "-n", "1")
	var rec struct {
		Topic string
		Key   *string
		Value *string
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Topic != "e2e" || rec.Key == nil || rec.Value == nil || strings.Count(out, "\n") != 1 {
		t.Errorf("consume --format json -n 1: %q (%v)", out, err)
	}
	if out := run("", "consume", "e2e"); out != "" {
		t.Errorf("consume from the end without --follow printed %q", out)
	}

	// consume as a group, then describe the group
	out = run("", "consume", "e2e", "--group", "e2e-group", "--from-beginning")
	if got := strings.Join(sortedLines(out), " "); got != "v1 v2 v3 v4" {
		t.Errorf("consume --group: %q", got)
	}
	if out := run("", "consume", "e2e", "--group", "e2e-group"); out != "" {
		t.Errorf("second group consume re-read %q", out)
	}
	out = run("", "group", "describe", "e2e-group")
	for _, want := range []string{"Group: e2e-group\n", "\nTotal lag: 0\n", "TOPIC  PARTITION  COMMITTED  LOG-END  LAG"} {
		if !strings.Contains(out, want) {
			t.Errorf("group describe lacks %q:\n%s", want, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^e2e\s+\d\s+\d+\s+\d+\s+0\s`).FindAllString(out, -1)); n != 2 {
		t.Errorf("group describe: %d partitions with lag 0, want 2:\n%s", n, out)
	}
	if out := run("", "group", "list"); !regexp.MustCompile(`(?m)^e2e-group\s+\S+\s+consumer$`).MatchString(out) {
		t.Errorf("group list:\n%s", out)
	}

	// describe and status
	out = run("", "topic", "describe", "e2e")
	if !strings.Contains(out, "Partitions: 2\n") || !regexp.MustCompile(`(?m)^retention\.ms\s+3600000\s+topic$`).MatchString(out) {
		t.Errorf("topic describe:\n%s", out)
	}
	if out := run("", "cluster", "status"); !strings.Contains(out, "API-VERSIONS") || !strings.Contains(out, addr) {
		t.Errorf("cluster status:\n%s", out)
	}

	// a short bench
	out = run("", "bench", "produce", "--topic", "e2e-bench", "--partitions", "1", "--duration", "500ms", "--rate", "200", "--record-size", "100", "--json")
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Records == 0 || res.Errors != 0 || res.Latency.Count != uint64(res.Records) {
		t.Errorf("bench produce: %s (%v)", out, err)
	}

	// errors name the topic and the Kafka error
	_, _, err := runCLI(t, "", append([]string{"consume", "no-such-topic"}, brokers...)...)
	if err == nil || !strings.Contains(err.Error(), `"no-such-topic"`) || !strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("consume of a missing topic: %v", err)
	}

	if out := run("", "topic", "delete", "e2e", "e2e-bench"); out != "deleted topic \"e2e\"\ndeleted topic \"e2e-bench\"\n" {
		t.Errorf("topic delete: %q", out)
	}
}
