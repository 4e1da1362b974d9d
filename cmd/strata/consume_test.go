package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseFromTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1714564800000":                  1714564800000,
		"0":                              0,
		"2024-05-01T12:00:00Z":           1714564800000,
		"2024-05-01T14:00:00+02:00":      1714564800000,
		"2024-05-01T12:00:00.123Z":       1714564800123,
		"2024-05-01T12:00:00.123456789Z": 1714564800123,
		"2024-05-01T12:00:00":            1714564800000, // no zone: UTC
		"2024-05-01":                     1714521600000,
		" 1714564800000 ":                1714564800000,
	} {
		got, err := parseFromTime(in)
		if err != nil || got != want {
			t.Errorf("parseFromTime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "", "-5", "2024-13-01T00:00:00Z", "12:00"} {
		_, err := parseFromTime(bad)
		if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("invalid --from-time %q", strings.TrimSpace(bad))) {
			t.Errorf("parseFromTime(%q) error = %v", bad, err)
		}
	}
}

func testRecord() *kgo.Record {
	return &kgo.Record{
		Topic: "orders", Partition: 2, Offset: 41,
		Timestamp: time.UnixMilli(1714564800123),
		Key:       []byte("user-1"),
		Value:     []byte(`{"n":1}`),
		Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("cli")}, {Key: "trace", Value: []byte("abc")}},
	}
}

func mustFormatter(t *testing.T, format string, key, offset, headers bool, sep string) *recordFormatter {
	t.Helper()
	f, err := newRecordFormatter(format, key, offset, headers, sep)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFormatText(t *testing.T) {
	r := testRecord()
	for _, tc := range []struct {
		key, offset, headers bool
		sep                  string
		want                 string
	}{
		{want: "{\"n\":1}\n"},
		{key: true, sep: "\t", want: "user-1\t{\"n\":1}\n"},
		{offset: true, sep: "\t", want: "2@41\t{\"n\":1}\n"},
		{key: true, offset: true, headers: true, sep: " | ", want: "2@41 | source=cli,trace=abc | user-1 | {\"n\":1}\n"},
	} {
		f := mustFormatter(t, "text", tc.key, tc.offset, tc.headers, tc.sep)
		if got := string(f.format(nil, r)); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc, got, tc.want)
		}
	}
	// Appends to what is already in the buffer; nil key and value print empty.
	f := mustFormatter(t, "", true, false, true, "\t")
	got := string(f.format([]byte("prev\n"), &kgo.Record{}))
	if got != "prev\n\t\t\n" {
		t.Errorf("nil record: %q", got)
	}
}

func TestFormatJSON(t *testing.T) {
	f := mustFormatter(t, "json", false, false, false, "")
	got := string(f.format(nil, testRecord()))
	want := `{"topic":"orders","partition":2,"offset":41,"timestamp":1714564800123,"key":"user-1","value":"{\"n\":1}","headers":[{"key":"source","value":"cli"},{"key":"trace","value":"abc"}]}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// Null key (and tombstone value), binary values as base64, no headers.
	r := &kgo.Record{Topic: "t", Offset: 0, Timestamp: time.UnixMilli(5), Key: nil, Value: nil}
	got = string(f.format(nil, r))
	want = `{"topic":"t","partition":0,"offset":0,"timestamp":5,"key":null,"value":null,"headers":[]}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Printed as is, without HTML escaping.
	r = &kgo.Record{Topic: "t", Timestamp: time.UnixMilli(5), Value: []byte("<a&b>")}
	if got := string(f.format(nil, r)); !strings.Contains(got, `"value":"<a&b>"`) {
		t.Errorf("HTML-escaped: %s", got)
	}
	r = &kgo.Record{Topic: "t", Timestamp: time.UnixMilli(5), Key: []byte{}, Value: []byte{0xff, 0x00, 0x01},
		Headers: []kgo.RecordHeader{{Key: "bin", Value: []byte{0xfe}}, {Key: "nil"}}}
	got = string(f.format(nil, r))
	want = `{"topic":"t","partition":0,"offset":0,"timestamp":5,"key":"","value":"/wAB","value_encoding":"base64","headers":[{"key":"bin","value":"/g==","value_encoding":"base64"},{"key":"nil","value":null}]}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestFormatTemplate(t *testing.T) {
	r := testRecord()
	for format, want := range map[string]string{
		"%p@%o %k=%s":                "2@41 user-1={\"n\":1}\n",
		`%t\t%T\t%K\t%S\t%h 100%%\n`: "orders\t1714564800123\t6\t7\tsource=cli,trace=abc 100%\n",
		`[%s]\n\n`:                   "[{\"n\":1}]\n\n",
		`%s\\n`:                      "{\"n\":1}\\n\n",
		`%s\x`:                       "{\"n\":1}\\x\n",
	} {
		f := mustFormatter(t, format, false, false, false, "")
		if got := string(f.format(nil, r)); got != want {
			t.Errorf("format %q: got %q, want %q", format, got, want)
		}
	}
	for _, tc := range []struct{ format, err string }{
		{"%q", `unknown verb at "%q"`},
		{"value %", `unknown verb at "%"`},
		{"yaml", `invalid --format "yaml": want text, json, or a template`},
	} {
		if _, err := newRecordFormatter(tc.format, false, false, false, ""); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("format %q: error = %v, want %q", tc.format, err, tc.err)
		}
	}
}

func TestPlanStarts(t *testing.T) {
	bounds := map[int32]partitionBounds{0: {start: 0, end: 100}, 1: {start: 50, end: 60}, 2: {start: 7, end: 7}}
	for _, tc := range []struct {
		name   string
		mode   startMode
		offset int64
		times  map[int32]int64
		want   map[int32]int64
	}{
		{"end", startEnd, 0, nil, map[int32]int64{0: 100, 1: 60, 2: 7}},
		{"beginning", startBeginning, 0, nil, map[int32]int64{0: 0, 1: 50, 2: 7}},
		{"offset clamps", startOffset, 55, nil, map[int32]int64{0: 55, 1: 55, 2: 7}},
		{"offset below start", startOffset, 3, nil, map[int32]int64{0: 3, 1: 50, 2: 7}},
		{"offset past end", startOffset, 1000, nil, map[int32]int64{0: 100, 1: 60, 2: 7}},
		{"negative offset is from the end", startOffset, -5, nil, map[int32]int64{0: 95, 1: 55, 2: 7}},
		{"negative offset clamps at start", startOffset, -20, nil, map[int32]int64{0: 80, 1: 50, 2: 7}},
		{"time", startTime, 0, map[int32]int64{0: 30, 1: -1}, map[int32]int64{0: 30, 1: 60, 2: 7}},
	} {
		got := planStarts(bounds, tc.mode, tc.offset, tc.times)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	pr := newProgress()
	pr.add(0, 5, 8)  // offsets 5, 6, 7 to read
	pr.add(1, 3, 3)  // empty: nothing to wait for
	pr.add(2, 0, 10) // revoked below
	if pr.done() {
		t.Fatal("done too early")
	}
	pr.remove(2)
	if !pr.saw(0, 5) || !pr.saw(0, 6) || pr.done() {
		t.Fatal("partition 0 should still be pending after offset 6")
	}
	if !pr.saw(0, 7) || !pr.done() {
		t.Fatal("offset 7 is the last before the end: should be done")
	}
	if pr.saw(0, 8) {
		t.Error("a record past the end of a finished partition is not below the end")
	}
	// A record that jumps past the end (e.g. after compaction) also finishes.
	pr.add(3, 0, 10)
	if pr.saw(3, 12) || !pr.done() {
		t.Error("jump past end")
	}
}

func TestConsumeOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    consumeOptions
		mode startMode
		arg  int64
		err  string
	}{
		{name: "default", o: consumeOptions{partition: -1}, mode: startEnd},
		{name: "beginning", o: consumeOptions{partition: -1, fromBeginning: true}, mode: startBeginning},
		{name: "offset", o: consumeOptions{partition: 3, offset: 9, offsetSet: true}, mode: startOffset, arg: 9},
		{name: "time", o: consumeOptions{partition: -1, fromTime: "2024-05-01T12:00:00Z", timeSet: true}, mode: startTime, arg: 1714564800000},
		{name: "group beginning", o: consumeOptions{partition: -1, group: "g", fromBeginning: true}, mode: startBeginning},
		{name: "two starts", o: consumeOptions{partition: -1, fromBeginning: true, offsetSet: true}, err: "exclusive"},
		{name: "bad time", o: consumeOptions{partition: -1, fromTime: "soon", timeSet: true}, err: `invalid --from-time "soon"`},
		{name: "group offset", o: consumeOptions{partition: -1, group: "g", offsetSet: true}, err: "--offset cannot be used with --group"},
		{name: "group time", o: consumeOptions{partition: -1, group: "g", timeSet: true}, err: "--from-time cannot be used with --group"},
		{name: "group partition", o: consumeOptions{partition: 0, group: "g"}, err: "--partition cannot be used with --group"},
		{name: "negative max", o: consumeOptions{partition: -1, maxMessages: -1}, err: "invalid --max-messages -1"},
	} {
		mode, arg, err := tc.o.validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || mode != tc.mode || arg != tc.arg {
			t.Errorf("%s: got %v %d %v, want %v %d", tc.name, mode, arg, err, tc.mode, tc.arg)
		}
	}
}

// Bad consume flags fail before anything talks to a broker.
func TestConsumeFlagErrors(t *testing.T) {
	clearStrataEnv(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"consume", "t", "--from-time", "yesterday"}, `invalid --from-time "yesterday"`},
		{[]string{"consume", "t", "--from-beginning", "--offset", "5"}, "exclusive"},
		{[]string{"consume", "t", "--group", "g", "--partition", "1"}, "--partition cannot be used with --group"},
		{[]string{"consume", "t", "--format", "xml"}, `invalid --format "xml"`},
		{[]string{"consume", "t", "-n", "x"}, `invalid argument "x" for "-n, --max-messages"`},
	} {
		_, _, err := runCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error = %v, want containing %q", tc.args, err, tc.err)
		}
	}
}
