package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartErrors starts the servers with bad settings: each must exit
// promptly with a non-zero code and a message on stderr that names the
// culprit, without ever becoming ready.
func TestStartErrors(t *testing.T) {
	Binary(t) // build before the parallel subtests
	devArgs := func(t *testing.T, extra ...string) []string {
		return append([]string{"dev", "--data-dir", t.TempDir(), "--kafka-addr", "127.0.0.1:0",
			"--http-addr", "127.0.0.1:0", "--etcd-listen", "http://127.0.0.1:0"}, extra...)
	}
	cases := []struct {
		name   string
		args   func(t *testing.T) []string
		env    []string
		within time.Duration
		want   []string // substrings of stderr
	}{{
		name: "broker-without-id",
		args: func(t *testing.T) []string {
			return []string{"broker", "--etcd-endpoints", "http://127.0.0.1:1", "--data-dir", t.TempDir()}
		},
		within: 5 * time.Second,
		want:   []string{"--id"},
	}, {
		name: "broker-etcd-unreachable",
		args: func(t *testing.T) []string {
			return []string{"broker", "--id", "1", "--etcd-endpoints", "http://127.0.0.1:1", "--data-dir", t.TempDir(),
				"--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
		},
		within: 15 * time.Second,
		want:   []string{"etcd unreachable", "http://127.0.0.1:1"},
	}, {
		name:   "dev-bad-log-level-flag",
		args:   func(t *testing.T) []string { return devArgs(t, "--log-level", "bogus") },
		within: 5 * time.Second,
		want:   []string{"--log-level", "bogus"},
	}, {
		// The root command promises errors that name "the flag and where the
		// value came from" (cmd/strata/config.go).
		name:   "dev-bad-log-level-env",
		args:   func(t *testing.T) []string { return devArgs(t) },
		env:    []string{"STRATA_LOG_LEVEL=bogus"},
		within: 5 * time.Second,
		want:   []string{"STRATA_LOG_LEVEL", "bogus"},
	}, {
		name: "dev-config-unknown-key",
		args: func(t *testing.T) []string {
			path := filepath.Join(t.TempDir(), "strata.yaml")
			if err := os.WriteFile(path, []byte("log-level: debug\nkafka-adress: 127.0.0.1:9999\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return devArgs(t, "--config", path)
		},
		within: 5 * time.Second,
		want:   []string{"kafka-adress", "strata.yaml"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args(t)
			r := Run(t, tc.within+15*time.Second, Env(tc.env...), args...)
			cmdline := strings.Join(append(tc.env, append([]string{"strata"}, args...)...), " ")
			if r.TimedOut {
				t.Fatalf("%s: still running after %s (killed); stderr:\n%s", cmdline, tc.within+15*time.Second, r.Stderr)
			}
			if r.Code == 0 {
				t.Errorf("%s: exit code 0, want non-zero", cmdline)
			}
			if r.Elapsed > tc.within {
				t.Errorf("%s: failed after %s, want within %s", cmdline, r.Elapsed.Round(time.Millisecond), tc.within)
			}
			if strings.Contains(r.Stdout, "strata ready") {
				t.Errorf("%s: became ready despite the bad setting:\n%s", cmdline, r.Stdout)
			}
			// The error is the last line on stderr (logs may come before it).
			lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "strata: ") {
				t.Errorf("%s: last stderr line %q is not the error (\"strata: ...\"); stderr:\n%s", cmdline, last, r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("%s: error %q does not mention %q", cmdline, last, w)
				}
			}
			t.Logf("%s: exit %d after %s: %s", cmdline, r.Code, r.Elapsed.Round(time.Millisecond), last)
		})
	}
}
