package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseAcks(t *testing.T) {
	for in, want := range map[string]kgo.Acks{
		"all": kgo.AllISRAcks(), "ALL": kgo.AllISRAcks(), "-1": kgo.AllISRAcks(),
		"1": kgo.LeaderAck(), "leader": kgo.LeaderAck(),
		"0": kgo.NoAck(), "none": kgo.NoAck(),
	} {
		got, err := parseAcks(in)
		if err != nil || got != want {
			t.Errorf("parseAcks(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"2", "", "most"} {
		_, err := parseAcks(bad)
		if err == nil || err.Error() != `invalid --acks "`+bad+`": want all, 1 or 0` {
			t.Errorf("parseAcks(%q) error = %v", bad, err)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "LZ4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	} {
		got, err := parseCompression(in)
		if err != nil || got != want {
			t.Errorf("parseCompression(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseCompression("brotli"); err == nil || !strings.Contains(err.Error(), `invalid --compression "brotli"`) {
		t.Errorf("brotli: %v", err)
	}
}

func TestProducerSettings(t *testing.T) {
	for _, tc := range []struct {
		ps      producerSettings
		nOpts   int // acks + compression (+ disable idempotence)
		errPart string
	}{
		{ps: producerSettings{acks: "all", idempotent: true}, nOpts: 2},
		{ps: producerSettings{acks: "all", idempotent: false}, nOpts: 3},
		{ps: producerSettings{acks: "1", idempotent: true}, nOpts: 3}, // default idempotence quietly off
		{ps: producerSettings{acks: "0", idempotent: true, idempotentChanged: true}, errPart: "--idempotent needs --acks all (got --acks 0)"},
		{ps: producerSettings{acks: "0", idempotent: false, idempotentChanged: true}, nOpts: 3},
		{ps: producerSettings{acks: "2"}, errPart: `invalid --acks "2"`},
		{ps: producerSettings{acks: "all", compression: "rar"}, errPart: `invalid --compression "rar"`},
	} {
		opts, err := tc.ps.opts()
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%+v: error = %v, want %q", tc.ps, err, tc.errPart)
			}
			continue
		}
		if err != nil || len(opts) != tc.nOpts {
			t.Errorf("%+v: %d opts, %v; want %d", tc.ps, len(opts), err, tc.nOpts)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	hs, err := parseHeaders([]string{"source=cli", "trace=", "source=again", "x=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []kgo.RecordHeader{{Key: "source", Value: []byte("cli")}, {Key: "trace", Value: []byte{}}, {Key: "source", Value: []byte("again")}, {Key: "x", Value: []byte("a=b")}}
	if len(hs) != len(want) {
		t.Fatalf("got %v", hs)
	}
	for i := range want {
		if hs[i].Key != want[i].Key || string(hs[i].Value) != string(want[i].Value) {
			t.Errorf("header %d = %q=%q", i, hs[i].Key, hs[i].Value)
		}
	}
	if _, err := parseHeaders([]string{"nokv"}); err == nil || err.Error() != `invalid --header "nokv": want key=value` {
		t.Errorf("bad header: %v", err)
	}
}

func TestLineRecord(t *testing.T) {
	hs := []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}
	tm := recordTemplate{topic: "t", keySep: "::", headers: hs, partition: -1}
	r := tm.lineRecord([]byte("user-1::{\"a\":1}::x"))
	if string(r.Key) != "user-1" || string(r.Value) != `{"a":1}::x` || r.Topic != "t" || len(r.Headers) != 1 || r.Partition != 0 {
		t.Errorf("with separator: %+v", r)
	}
	r = tm.lineRecord([]byte("no separator here"))
	if r.Key != nil || string(r.Value) != "no separator here" {
		t.Errorf("without separator: key %q value %q", r.Key, r.Value)
	}
	r = tm.lineRecord([]byte("::only value"))
	if r.Key == nil || len(r.Key) != 0 || string(r.Value) != "only value" {
		t.Errorf("empty key: key %q value %q", r.Key, r.Value)
	}
	tm = recordTemplate{topic: "t", partition: 4}
	r = tm.lineRecord([]byte("a:b"))
	if r.Key != nil || string(r.Value) != "a:b" || r.Partition != 4 {
		t.Errorf("no key separator configured: %+v", r)
	}
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	input := "one\r\ntwo\n\n" + long + "\nlast"
	var got []string
	err := readLines(strings.NewReader(input), func(n int, line []byte) error {
		if n != len(got)+1 {
			t.Errorf("line number %d, want %d", n, len(got)+1)
		}
		got = append(got, string(line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "", long, "last"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %.20q, want %.20q", i+1, got[i], want[i])
		}
	}

	// A trailing newline does not make an extra empty record; no input
	// makes none.
	for in, n := range map[string]int{"a\nb\n": 2, "": 0, "\n": 1} {
		count := 0
		if err := readLines(strings.NewReader(in), func(int, []byte) error { count++; return nil }); err != nil || count != n {
			t.Errorf("readLines(%q): %d lines, %v; want %d", in, count, err, n)
		}
	}

	// Lines handed out must not alias the reader's buffer.
	var kept [][]byte
	_ = readLines(strings.NewReader("aaa\nbbb\nccc\n"), func(_ int, l []byte) error { kept = append(kept, l); return nil })
	if string(kept[0]) != "aaa" || string(kept[1]) != "bbb" {
		t.Errorf("lines were overwritten: %q", kept)
	}

	stop := errors.New("stop")
	if err := readLines(strings.NewReader("a\nb\n"), func(int, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error not returned: %v", err)
	}
}

func TestProducerResult(t *testing.T) {
	p := &producer{topic: "t", total: 1, failed: 1, failures: []string{"record 1: UNKNOWN_TOPIC_OR_PARTITION: x"}}
	if err := p.result(); err.Error() != `produce to topic "t" failed: UNKNOWN_TOPIC_OR_PARTITION: x` {
		t.Errorf("one: %q", err)
	}
	p = &producer{topic: "t", total: 20, failed: 12}
	for i := 0; i < maxReportedFailures; i++ {
		p.failures = append(p.failures, "record n: boom")
	}
	err := p.result()
	if !strings.HasPrefix(err.Error(), `produce to topic "t": 12 of 20 records failed:`) || !strings.HasSuffix(err.Error(), "\n  ... and 2 more") {
		t.Errorf("many: %q", err)
	}
	if (&producer{total: 3}).result() != nil {
		t.Error("no failures should be nil")
	}
}

// Bad produce flags fail before anything talks to a broker.
func TestProduceFlagErrors(t *testing.T) {
	clearStrataEnv(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"produce", "t", "--acks", "2"}, `invalid --acks "2": want all, 1 or 0`},
		{[]string{"produce", "t", "--acks", "1", "--idempotent"}, "--idempotent needs --acks all"},
		{[]string{"produce", "t", "--compression", "brotli"}, `invalid --compression "brotli"`},
		{[]string{"produce", "t", "--header", "x"}, `invalid --header "x"`},
		{[]string{"produce", "t", "--key", "k"}, "--key only goes with --value"},
		{[]string{"produce", "t", "--partition", "-2"}, "invalid --partition -2"},
		{[]string{"produce"}, "accepts 1 arg(s), received 0"},
	} {
		_, _, err := runCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error = %v, want containing %q", tc.args, err, tc.err)
		}
	}
	// The environment is checked like the command line.
	t.Setenv("STRATA_ACKS", "most")
	if _, _, err := runCLI(t, "", "produce", "t"); err == nil || !strings.Contains(err.Error(), `invalid --acks "most"`) {
		t.Errorf("STRATA_ACKS: %v", err)
	}
}
