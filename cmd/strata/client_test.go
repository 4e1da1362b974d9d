package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// runCLI runs the root command with args and returns stdout, stderr and the
// error, the way main would see them.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// clearStrataEnv keeps the developer's STRATA_* variables out of a test.
func clearStrataEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "STRATA_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestSeeds(t *testing.T) {
	for _, tc := range []struct {
		brokers []string
		timeout time.Duration
		want    []string
		err     string
	}{
		{brokers: []string{"127.0.0.1:9092"}, timeout: time.Second, want: []string{"127.0.0.1:9092"}},
		{brokers: []string{" a:1 ", "", "[::1]:9092"}, timeout: time.Second, want: []string{"a:1", "[::1]:9092"}},
		{brokers: []string{""}, timeout: time.Second, err: "--brokers is empty"},
		{brokers: []string{"localhost"}, timeout: time.Second, err: `invalid --brokers address "localhost": want host:port`},
		{brokers: []string{":9092"}, timeout: time.Second, err: `invalid --brokers address ":9092"`},
		{brokers: []string{"a:http"}, timeout: time.Second, err: `port "http" is not a number`},
		{brokers: []string{"a:70000"}, timeout: time.Second, err: `port "70000"`},
		{brokers: []string{"a:1"}, timeout: 0, err: "invalid --timeout 0s"},
	} {
		cf := &clientFlags{brokers: tc.brokers, timeout: tc.timeout}
		got, err := cf.seeds()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("seeds(%q) error = %v, want containing %q", tc.brokers, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("seeds(%q) = %q, %v; want %q", tc.brokers, got, err, tc.want)
		}
	}
}

func TestParseKeyValues(t *testing.T) {
	m, order, err := parseKeyValues("config", []string{"retention.ms=1000", "cleanup.policy=compact,delete", "empty=", "eq=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete", "empty": "", "eq": "a=b"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", m, want)
	}
	if strings.Join(order, " ") != "retention.ms cleanup.policy empty eq" {
		t.Errorf("order = %q", order)
	}
	for _, tc := range []struct {
		in  []string
		err string
	}{
		{[]string{"retention.ms"}, `invalid --config "retention.ms": want key=value`},
		{[]string{"=5"}, `invalid --config "=5": want key=value`},
		{[]string{"a=1", "a=2"}, `invalid --config: "a" given twice`},
	} {
		if _, _, err := parseKeyValues("config", tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("parseKeyValues(%q) error = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestKafkaErrString(t *testing.T) {
	if got := kafkaErrString(kerr.UnknownTopicOrPartition, ""); got != "UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition." {
		t.Errorf("got %q", got)
	}
	wrapped := fmt.Errorf("ctx: %w", kerr.TopicAlreadyExists)
	if got := kafkaErrString(wrapped, "topic exists"); !strings.HasPrefix(got, "TOPIC_ALREADY_EXISTS: ") || !strings.HasSuffix(got, " (topic exists)") {
		t.Errorf("got %q", got)
	}
	// A broker message that repeats the code or description adds nothing.
	if got := kafkaErrString(kerr.TopicAlreadyExists, `topic "t": TOPIC_ALREADY_EXISTS: Topic with this name already exists.`); got != "TOPIC_ALREADY_EXISTS: Topic with this name already exists." {
		t.Errorf("repeated message: %q", got)
	}
	if got := kafkaErrString(errors.New("boom"), ""); got != "boom" {
		t.Errorf("got %q", got)
	}
	if got := kafkaErrString(nil, "x"); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestWrap(t *testing.T) {
	cf := &clientFlags{brokers: []string{"h1:9092", "h2:9092"}, timeout: 3 * time.Second}
	err := cf.wrap("list topics", context.DeadlineExceeded)
	if want := "list topics: no answer from h1:9092,h2:9092 within 3s (is a broker running there? see --brokers and --timeout)"; err.Error() != want {
		t.Errorf("deadline: got %q, want %q", err, want)
	}
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if err := cf.wrap("list topics", fmt.Errorf("unable to dial: %w", opErr)); !strings.HasPrefix(err.Error(), "list topics: cannot reach brokers h1:9092,h2:9092: ") {
		t.Errorf("dial: got %q", err)
	}
	if err := cf.wrap("create topic", kerr.PolicyViolation); !strings.HasPrefix(err.Error(), "create topic: POLICY_VIOLATION: ") {
		t.Errorf("kerr: got %q", err)
	}
	if cf.wrap("x", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

func TestJoinInt32sAndOrDash(t *testing.T) {
	if got := joinInt32s([]int32{3, 1, 2}); got != "3,1,2" {
		t.Errorf("got %q", got)
	}
	if got := joinInt32s(nil); got != "-" {
		t.Errorf("got %q", got)
	}
	if orDash("") != "-" || orDash("x") != "x" {
		t.Error("orDash")
	}
}

// Flags reach the client commands from the command line, the environment
// and the --config YAML file. A bad address is rejected before any network
// traffic, and the message names it, so this shows where the value came from.
func TestClientFlagSources(t *testing.T) {
	clearStrataEnv(t)
	_, _, err := runCLI(t, "", "topic", "list", "--brokers", "flag-host")
	if err == nil || !strings.Contains(err.Error(), `"flag-host"`) {
		t.Errorf("flag: %v", err)
	}

	t.Setenv("STRATA_BROKERS", "env-host")
	_, _, err = runCLI(t, "", "group", "list")
	if err == nil || !strings.Contains(err.Error(), `"env-host"`) {
		t.Errorf("env: %v", err)
	}
	os.Unsetenv("STRATA_BROKERS")

	file := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(file, []byte("brokers: [127.0.0.1:9092, yaml-host]\ntimeout: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "", "cluster", "status", "--config", file)
	if err == nil || !strings.Contains(err.Error(), `"yaml-host"`) {
		t.Errorf("yaml: %v", err)
	}
	// For topic create, --config is a topic config; the file comes from
	// STRATA_CONFIG.
	t.Setenv("STRATA_CONFIG", file)
	_, _, err = runCLI(t, "", "topic", "create", "t")
	if err == nil || !strings.Contains(err.Error(), `"yaml-host"`) {
		t.Errorf("STRATA_CONFIG on topic create: %v", err)
	}
}

// Every client command explains itself with an example.
func TestHelpHasExamples(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{
		{"topic"}, {"topic", "create"}, {"topic", "list"}, {"topic", "describe"}, {"topic", "delete"}, {"topic", "alter"},
		{"produce"}, {"consume"}, {"group"}, {"group", "list"}, {"group", "describe"}, {"group", "delete"},
		{"cluster"}, {"cluster", "status"}, {"bench"}, {"bench", "produce"}, {"bench", "consume"},
	} {
		cmd, _, err := root.Find(path)
		if err != nil || cmd.Name() != path[len(path)-1] {
			t.Errorf("%v: not found (%v)", path, err)
			continue
		}
		if cmd.Short == "" || cmd.Example == "" {
			t.Errorf("%v: missing Short or Example", path)
		}
		if cmd.Runnable() && (cmd.Flags().Lookup("brokers") == nil || cmd.Flags().Lookup("timeout") == nil) {
			t.Errorf("%v: missing --brokers/--timeout", path)
		}
	}
}
