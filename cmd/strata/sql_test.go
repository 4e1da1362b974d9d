package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- a server speaking the protocol of docs/format/sql-http.md ----

type fakeSQLServer struct {
	srv  *httptest.Server
	stop chan struct{}

	mu       sync.Mutex
	requests []sqlRequest
	// disconnects receives the statement of a streaming response whose
	// client went away.
	disconnects chan string
}

const (
	sqlFraudPull   = "SELECT * FROM fraud_by_card;"
	sqlFraudCreate = "CREATE STREAM possible_fraud AS SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;"
	sqlPush        = "SELECT * FROM possible_fraud EMIT CHANGES;"
	sqlPushLimit   = "SELECT * FROM possible_fraud EMIT CHANGES LIMIT 3;"
)

// canned answers to statements (white space collapsed), as response lines
// of a 200.
var sqlCanned = map[string][]string{
	sqlFraudPull: {
		`{"header":{"statement":"SELECT * FROM fraud_by_card;","queryId":"","columns":[{"name":"CARD_NUMBER","type":"STRING"},{"name":"KSQL_COL_0","type":"BIGINT"},{"name":"LAST_SEEN","type":"TIMESTAMP"}]}}`,
		`{"row":["4000-0001",4,"2024-05-01T12:00:00Z"]}`,
		`{"row":["4000-0002",12,null]}`,
		`{"done":true,"rows":2}`,
	},
	"SHOW STREAMS;": {
		`{"header":{"statement":"SHOW STREAMS;","queryId":"","columns":[{"name":"STREAM_NAME","type":"STRING"},{"name":"KAFKA_TOPIC","type":"STRING"},{"name":"FORMAT","type":"STRING"}]}}`,
		`{"row":["AUTHORIZATION_ATTEMPTS","authorization_attempts","JSON"]}`,
		`{"done":true,"rows":1}`,
	},
	"SHOW TABLES;": {
		`{"header":{"statement":"SHOW TABLES;","queryId":"","columns":[{"name":"TABLE_NAME","type":"STRING"}]}}`,
		`{"done":true,"rows":0}`,
	},
	sqlFraudCreate: {
		`{"status":{"statement":"CREATE STREAM possible_fraud AS …","message":"Stream POSSIBLE_FRAUD created and running","queryId":"CSAS_POSSIBLE_FRAUD_3"}}`,
	},
	"DROP STREAM old;": {`{"status":{"statement":"DROP STREAM old;","message":"Source OLD (topic: old) was dropped."}}`},
	// An error after rows: the last line of a 200.
	"SELECT * FROM flaky;": {
		`{"header":{"statement":"SELECT * FROM flaky;","queryId":"","columns":[{"name":"ID","type":"INT"}]}}`,
		`{"row":[1]}`,
		`{"error":{"message":"partition 3 of flaky is unavailable","statement":"SELECT * FROM flaky;"}}`,
	},
	"SELECT * FROM garbage;": {
		`{"header":{"statement":"SELECT * FROM garbage;","queryId":"","columns":[{"name":"ID","type":"INT"}]}}`,
		`<html>oops</html>`,
	},
	"SELECT * FROM cut;": {
		`{"header":{"statement":"SELECT * FROM cut;","queryId":"","columns":[{"name":"ID","type":"INT"}]}}`,
		`{"row":[1]}`,
	},
	"SELECT * FROM wide;": {
		`{"header":{"statement":"SELECT * FROM wide;","queryId":"","columns":[{"name":"ID","type":"INT"}]}}`,
		`{"row":[1,2]}`,
	},
}

// sqlBadStatements answer 400 with an error pointing into the statement.
var sqlBadStatements = map[string]string{
	"SELECT * FROM nosuch;":   `{"error":{"message":"NOSUCH does not exist.","line":1,"column":15,"statement":"SELECT * FROM nosuch;"}}`,
	"SELECT id, nope FROM t;": `{"error":{"message":"NOPE cannot be resolved.","line":2,"column":3,"statement":"SELECT id,\n  nope\nFROM t;"}}`,
}

func newFakeSQLServer(t *testing.T) *fakeSQLServer {
	t.Helper()
	f := &fakeSQLServer{stop: make(chan struct{}), disconnects: make(chan string, 16)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.stop) }) // runs first: ends streams
	return f
}

func (f *fakeSQLServer) sent() []sqlRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeSQLServer) statements() []string {
	var out []string
	for _, r := range f.sent() {
		out = append(out, r.SQL)
	}
	return out
}

func (f *fakeSQLServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/sql" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var req sqlRequest
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/plain") {
		b, _ := io.ReadAll(r.Body)
		req.SQL = string(b)
	} else if err := json.NewDecoder(r.Body).Decode(&req); err != nil || ct != "application/json" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"bad request body (%v, Content-Type %s)"}}`+"\n", err, ct)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-ndjson")
	fl := w.(http.Flusher)
	send := func(line string) error {
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}
	key := strings.Join(strings.Fields(req.SQL), " ")
	if e, ok := sqlBadStatements[key]; ok {
		w.WriteHeader(http.StatusBadRequest)
		send(e)
		return
	}
	if lines, ok := sqlCanned[key]; ok {
		for _, l := range lines {
			send(l)
		}
		return
	}
	switch key {
	case "SHOW PROPERTIES;": // echoes the properties received
		send(`{"header":{"statement":"SHOW PROPERTIES;","queryId":"","columns":[{"name":"PROPERTY","type":"STRING"},{"name":"VALUE","type":"STRING"}]}}`)
		for _, k := range sortedKeys(req.Properties) {
			send(string(jsonValue(map[string][]string{"row": {k, req.Properties[k]}})))
		}
		send(`{"done":true}`)
		return
	case sqlPush, sqlPushLimit:
		// Rows every 2ms, until the client goes away (or LIMIT 3 is
		// reached, after which the stream waits for the client to close).
		send(`{"header":{"statement":"…","queryId":"transient_POSSIBLE_FRAUD_1","columns":[{"name":"CARD_NUMBER","type":"STRING"},{"name":"KSQL_COL_0","type":"BIGINT"}]}}`)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			if key == sqlPushLimit && i > 3 {
				send(`{"done":true,"rows":3}`)
				break
			}
			select {
			case <-r.Context().Done():
				f.disconnects <- key
				return
			case <-f.stop:
				return
			case <-tick.C:
			}
			if send(fmt.Sprintf(`{"row":["5100-%04d",%d]}`, i, i)) != nil {
				f.disconnects <- key
				return
			}
		}
		select {
		case <-r.Context().Done():
			f.disconnects <- key
		case <-f.stop:
		}
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	send(string(jsonValue(map[string]map[string]string{"error": {"message": "the fake server has no answer for " + req.SQL}})))
}

// waitDisconnect asserts the server saw the client of stmt go away.
func (f *fakeSQLServer) waitDisconnect(t *testing.T, stmt string) {
	t.Helper()
	select {
	case got := <-f.disconnects:
		if got != stmt {
			t.Errorf("disconnect from %q, want %q", got, stmt)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("the server did not see the client of %q disconnect", stmt)
	}
}

// runSQLCLI runs "strata sql args…" against srv with stdin.
func runSQLCLI(t *testing.T, srv *fakeSQLServer, stdin string, args ...string) (string, string, error) {
	t.Helper()
	clearStrataEnv(t)
	if srv != nil {
		args = append([]string{"--server", srv.srv.URL}, args...)
	}
	return runCLI(t, stdin, append([]string{"sql"}, args...)...)
}

// ---- splitting ----

func TestSQLSplit(t *testing.T) {
	type st struct {
		text      string
		line, col int
	}
	for _, tc := range []struct {
		src  string
		want []st
		err  string
	}{
		{src: "", want: nil},
		{src: "  -- only a comment\n/* and\nanother */\n", want: nil},
		{src: "SHOW STREAMS;", want: []st{{"SHOW STREAMS;", 1, 1}}},
		{src: "SHOW STREAMS", want: []st{{"SHOW STREAMS", 1, 1}}},
		{src: "SHOW STREAMS;;  ;SHOW TABLES; ", want: []st{{"SHOW STREAMS;", 1, 1}, {"SHOW TABLES;", 1, 18}}},
		{src: "SELECT 'a;b' FROM t; SELECT 'it''s;' FROM u;", want: []st{{"SELECT 'a;b' FROM t;", 1, 1}, {"SELECT 'it''s;' FROM u;", 1, 22}}},
		{src: "SELECT `semi;colon`, \"dq;\" FROM t;", want: []st{{"SELECT `semi;colon`, \"dq;\" FROM t;", 1, 1}}},
		{src: "SELECT `a``;b` FROM t;", want: []st{{"SELECT `a``;b` FROM t;", 1, 1}}},
		{src: "-- a comment; with a semicolon\nSELECT a -- trailing; comment\nFROM t;",
			want: []st{{"SELECT a -- trailing; comment\nFROM t;", 2, 1}}},
		{src: "/* block; comment */ SELECT /* ; */ 1 FROM t;\n\n  DESCRIBE t;",
			want: []st{{"SELECT /* ; */ 1 FROM t;", 1, 22}, {"DESCRIBE t;", 3, 3}}},
		{src: "SELECT 'é;' FROM t; SHOW TABLES;", want: []st{{"SELECT 'é;' FROM t;", 1, 1}, {"SHOW TABLES;", 1, 21}}},
		{src: "SELECT a - -1 FROM t;", want: []st{{"SELECT a - -1 FROM t;", 1, 1}}},
		{src: "SHOW TABLES;\nSELECT 'open;\n", err: "line 2:8: unterminated string"},
		{src: "SELECT `open;", err: "line 1:8: unterminated quoted identifier"},
		{src: "SHOW TABLES; /* open", err: "line 1:14: unterminated /* comment"},
		{src: "SHOW TABLES; -- open", want: []st{{"SHOW TABLES;", 1, 1}}},
	} {
		stmts, err := splitAll(tc.src)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("splitAll(%q) error = %v, want %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("splitAll(%q): %v", tc.src, err)
			continue
		}
		var got []st
		for _, s := range stmts {
			got = append(got, st{s.Text, s.Line, s.Col})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitAll(%q)\n got %+v\nwant %+v", tc.src, got, tc.want)
		}
	}
}

// Fed line by line, the buffer hands out statements as their ';' arrives
// and knows when a statement is still open.
func TestSQLBufferIncremental(t *testing.T) {
	var b sqlBuffer
	b.reset()
	if got := b.add("SELECT *\n"); len(got) != 0 || !b.pending() {
		t.Fatalf("open statement: %v, pending %v", got, b.pending())
	}
	if got := b.add("FROM t WHERE s = 'x;\n"); len(got) != 0 {
		t.Fatalf("inside a string: %v", got)
	}
	got := b.add("y'; SHOW TABLES; SHOW\n")
	if len(got) != 2 || got[0].Text != "SELECT *\nFROM t WHERE s = 'x;\ny';" || got[0].Line != 1 ||
		got[1].Text != "SHOW TABLES;" || got[1].Line != 3 || got[1].Col != 5 {
		t.Fatalf("got %+v", got)
	}
	b.clear() // Ctrl-C drops "SHOW"
	if b.pending() {
		t.Fatal("pending after clear")
	}
	if got := b.add("-- just a comment\n"); len(got) != 0 || b.pending() {
		t.Fatalf("comment: %v, pending %v", got, b.pending())
	}
	got = b.add("DESCRIBE x;\n")
	if len(got) != 1 || got[0].Line != 5 || got[0].Col != 1 {
		t.Fatalf("line counting: %+v", got)
	}
}

func TestSQLStatementKinds(t *testing.T) {
	for stmt, want := range map[string]bool{
		"SELECT * FROM t EMIT CHANGES;":                                          true,
		"select * from t emit changes limit 3;":                                  true,
		"SELECT * FROM t WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY a EMIT FINAL;": true,
		"PRINT 'topic' FROM BEGINNING;":                                          true,
		"SELECT * FROM t;":                                                       false,
		"SELECT 'EMIT CHANGES' FROM t;":                                          false,
		"SELECT * FROM t /* EMIT CHANGES */;":                                    false,
		// Streaming or not makes no difference to a status answer.
		"CREATE STREAM s AS SELECT * FROM t EMIT CHANGES;": true,
		"SHOW STREAMS;": false,
	} {
		if got := isStreamingStatement(stmt); got != want {
			t.Errorf("isStreamingStatement(%q) = %v, want %v", stmt, got, want)
		}
	}
	for _, tc := range []struct {
		stmt string
		want localProperty
		ok   bool
		err  string
	}{
		{stmt: "SET 'auto.offset.reset' = 'earliest';", want: localProperty{name: "auto.offset.reset", value: "earliest"}, ok: true},
		{stmt: "set 'a'='it''s' -- why\n;", want: localProperty{name: "a", value: "it's"}, ok: true},
		{stmt: "UNSET 'auto.offset.reset';", want: localProperty{unset: true, name: "auto.offset.reset"}, ok: true},
		{stmt: "SET auto.offset.reset = earliest;", ok: true, err: "SET wants a quoted name and value"},
		{stmt: "UNSET;", ok: true, err: "UNSET wants a quoted name"},
		{stmt: "SELECT 'SET' FROM t;"},
		{stmt: "SHOW PROPERTIES;"},
	} {
		got, ok, err := parseLocalProperty(tc.stmt)
		if ok != tc.ok || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) || (err == nil && got != tc.want) {
			t.Errorf("parseLocalProperty(%q) = %+v, %v, %v; want %+v, %v, %q", tc.stmt, got, ok, err, tc.want, tc.ok, tc.err)
		}
	}
}

// ---- rendering ----

func renderLines(t *testing.T, r sqlRenderer, lines ...string) error {
	t.Helper()
	return readSQLResponse(strings.NewReader(strings.Join(lines, "\n")+"\n"), r)
}

func TestSQLTableGolden(t *testing.T) {
	var out bytes.Buffer
	if err := renderLines(t, &tableRenderer{out: &out}, sqlCanned[sqlFraudPull]...); err != nil {
		t.Fatal(err)
	}
	want := ` CARD_NUMBER | KSQL_COL_0 | LAST_SEEN
-------------+------------+----------------------
 4000-0001   |          4 | 2024-05-01T12:00:00Z
 4000-0002   |         12 | null
(2 rows)
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	// Cells: strings on one line, JSON for structures, tombstones marked.
	out.Reset()
	err := renderLines(t, &tableRenderer{out: &out},
		`{"header":{"statement":"s","queryId":"","columns":[{"name":"K","type":"STRING"},{"name":"V","type":"ARRAY<INT>"},{"name":"M","type":"MAP<STRING, STRING>"}]}}`,
		`{"row":["a\tb\nc", [1, 2], {"x": "y"}]}`,
		`{"row":["é", [], null],"tombstone":true}`,
		`{"done":true,"rows":2}`)
	if err != nil {
		t.Fatal(err)
	}
	want = ` K       | V     | M
---------+-------+-----------
 a\tb\nc | [1,2] | {"x":"y"}
 é       | []    | null  (tombstone)
(2 rows)
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	// One row, no rows.
	out.Reset()
	if err := renderLines(t, &tableRenderer{out: &out}, sqlCanned["SHOW TABLES;"]...); err != nil {
		t.Fatal(err)
	}
	if want := " TABLE_NAME\n------------\n(0 rows)\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// A push query's rows are printed as they come, in columns sized by type,
// widening for longer values up to a cap.
func TestSQLStreamingTableGolden(t *testing.T) {
	var out bytes.Buffer
	r := &tableRenderer{out: &out, streaming: true}
	long := strings.Repeat("x", 50)
	err := renderLines(t, r,
		`{"header":{"statement":"s","queryId":"q","columns":[{"name":"ID","type":"INT"},{"name":"NAME","type":"STRING"},{"name":"NOTE","type":"STRING"}]}}`,
		`{"row":[1,"short","a"]}`,
		`{"row":[2,"a name that is 27 chars wide","b"]}`,
		`{"row":[3,"`+long+`","`+long+`"]}`,
		`{"done":true,"rows":3}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `          ID | NAME                 | NOTE
-------------+----------------------+----------------------
           1 | short                | a
           2 | a name that is 27 chars wide | b
           3 | ` + strings.Repeat("x", 39) + `… | ` + long + `
(3 rows)
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	// Streaming prints the header before any row arrives.
	out.Reset()
	r = &tableRenderer{out: &out, streaming: true}
	r.header(&sqlHeader{Columns: []sqlColumn{{"A", "BOOLEAN"}}})
	if out.String() != " A\n-------\n" {
		t.Errorf("header: %q", out.String())
	}
}

func TestSQLJSONRender(t *testing.T) {
	var out bytes.Buffer
	r := &jsonRenderer{out: &out}
	lines := append(slices.Clone(sqlCanned[sqlFraudPull][:3]),
		`{"row":["<&>", {"a": [1, 2.50]}, null],"tombstone":true}`, `{"done":true}`)
	if err := renderLines(t, r, lines...); err != nil {
		t.Fatal(err)
	}
	if err := renderLines(t, r, sqlCanned[sqlFraudCreate]...); err != nil {
		t.Fatal(err)
	}
	r.status(&sqlStatus{Statement: "SET 'a'='b';", Message: "ok"}, nil)
	want := `{"CARD_NUMBER":"4000-0001","KSQL_COL_0":4,"LAST_SEEN":"2024-05-01T12:00:00Z"}
{"CARD_NUMBER":"4000-0002","KSQL_COL_0":12,"LAST_SEEN":null}
{"tombstone":{"CARD_NUMBER":"<&>","KSQL_COL_0":{"a":[1,2.50]},"LAST_SEEN":null}}
{"status":{"statement":"CREATE STREAM possible_fraud AS …","message":"Stream POSSIBLE_FRAUD created and running","queryId":"CSAS_POSSIBLE_FRAUD_3"}}
{"status":{"statement":"SET 'a'='b';","message":"ok"}}
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestSQLMalformedResponses(t *testing.T) {
	hdr := `{"header":{"statement":"s","queryId":"","columns":[{"name":"A","type":"INT"}]}}`
	for _, tc := range []struct {
		lines []string
		err   string
	}{
		{[]string{"not json"}, "line 1: not a JSON object"},
		{[]string{`{"row":[1]}`}, "line 1: a row without a header"},
		{[]string{hdr, `{"row":{"a":1}}`}, "line 2: row is not a JSON array"},
		{[]string{hdr, `{"row":[1,2]}`}, "a row of 2 values under a header of 1 columns"},
		{[]string{hdr, hdr}, "a header before the previous result's done"},
		{[]string{`{"done":true}`}, "done without a header"},
		{[]string{hdr, `{"row":[1]}`}, "closed the response before the statement finished"},
		{[]string{}, "closed the response without answering"},
	} {
		body := strings.Join(tc.lines, "\n")
		err := readSQLResponse(strings.NewReader(body), &tableRenderer{out: io.Discard})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", body, err, tc.err)
		}
	}
	// Unknown kinds of lines, blank lines and a missing final newline are fine.
	var out bytes.Buffer
	err := readSQLResponse(strings.NewReader("\n{\"progress\":1}\r\n"+hdr+"\n{\"row\":[7]}\n{\"done\":true}"), &jsonRenderer{out: &out})
	if err != nil || out.String() != "{\"A\":7}\n" {
		t.Errorf("lenient: %v, %q", err, out.String())
	}
}

// ---- the command against a server ----

func TestSQLExecute(t *testing.T) {
	srv := newFakeSQLServer(t)
	out, errOut, err := runSQLCLI(t, srv, "", "-e", sqlFraudPull+"\n"+sqlFraudCreate+" SHOW TABLES;")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, errOut)
	}
	want := ` CARD_NUMBER | KSQL_COL_0 | LAST_SEEN
-------------+------------+----------------------
 4000-0001   |          4 | 2024-05-01T12:00:00Z
 4000-0002   |         12 | null
(2 rows)
Stream POSSIBLE_FRAUD created and running (query CSAS_POSSIBLE_FRAUD_3)
 TABLE_NAME
------------
(0 rows)
`
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
	if got := srv.statements(); !slices.Equal(got, []string{sqlFraudPull, sqlFraudCreate, "SHOW TABLES;"}) {
		t.Errorf("statements sent one at a time: %q", got)
	}
}

func TestSQLFileAndStdin(t *testing.T) {
	srv := newFakeSQLServer(t)
	script := "-- the fraud pipeline\nSHOW STREAMS;\n\nDROP STREAM old;\n"
	file := filepath.Join(t.TempDir(), "pipeline.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	want := ` STREAM_NAME            | KAFKA_TOPIC            | FORMAT
------------------------+------------------------+--------
 AUTHORIZATION_ATTEMPTS | authorization_attempts | JSON
(1 row)
Source OLD (topic: old) was dropped.
`
	for name, args := range map[string][]string{
		"file":  {"-f", file},
		"-f -":  {"-f", "-"},
		"stdin": nil,
	} {
		out, errOut, err := runSQLCLI(t, srv, script, args...)
		if err != nil || out != want || errOut != "" {
			t.Errorf("%s: %v\nstdout\n%s\nstderr %q", name, err, out, errOut)
		}
	}
	if _, _, err := runSQLCLI(t, srv, "", "-f", filepath.Join(t.TempDir(), "missing.sql")); err == nil || !strings.Contains(err.Error(), "--file: open") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSQLErrorsStopScript(t *testing.T) {
	srv := newFakeSQLServer(t)
	// The error points into the second statement, which starts at column 15.
	out, _, err := runSQLCLI(t, srv, "", "-e", "SHOW STREAMS; SELECT * FROM nosuch;\nSHOW TABLES;")
	// The excerpt shows the statement itself, with the caret under column 15 of it.
	want := "line 1:29: NOSUCH does not exist.\n    SELECT * FROM nosuch;\n                  ^"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}
	if !strings.Contains(out, "AUTHORIZATION_ATTEMPTS") {
		t.Errorf("the first statement's output is missing: %q", out)
	}
	if got := srv.statements(); len(got) != 2 {
		t.Errorf("ran past the error: %q", got)
	}

	// A multi-line statement in a file: line 2 of the statement is line 4
	// of the file.
	file := filepath.Join(t.TempDir(), "q.sql")
	os.WriteFile(file, []byte("SHOW TABLES;\n\nSELECT id,\n  nope\nFROM t;\n"), 0o644)
	_, _, err = runSQLCLI(t, srv, "", "-f", file)
	want = file + ": line 4:3: NOPE cannot be resolved.\n    SELECT id,\n      nope\n      ^"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}

	// An error after rows, without a position: the statement's line.
	_, _, err = runSQLCLI(t, srv, "", "-e", "\n  SELECT * FROM flaky;")
	want = "line 2: partition 3 of flaky is unavailable\n    SELECT * FROM flaky;"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}

	// A client-side error: an unterminated string.
	_, _, err = runSQLCLI(t, srv, "", "-e", "SHOW TABLES;\nSELECT 'x FROM t;")
	if err == nil || !strings.HasPrefix(err.Error(), "line 2:8: unterminated string") {
		t.Errorf("unterminated: %v", err)
	}

	// JSON: rows, statuses and errors as objects on stdout.
	out, _, err = runSQLCLI(t, srv, "", "--format", "json", "-e", sqlFraudPull+sqlFraudCreate+"SELECT * FROM nosuch;")
	wantOut := `{"CARD_NUMBER":"4000-0001","KSQL_COL_0":4,"LAST_SEEN":"2024-05-01T12:00:00Z"}
{"CARD_NUMBER":"4000-0002","KSQL_COL_0":12,"LAST_SEEN":null}
{"status":{"statement":"CREATE STREAM possible_fraud AS …","message":"Stream POSSIBLE_FRAUD created and running","queryId":"CSAS_POSSIBLE_FRAUD_3"}}
{"error":{"message":"NOSUCH does not exist.","line":1,"column":15,"statement":"SELECT * FROM nosuch;"}}
`
	if out != wantOut || err == nil || !strings.HasPrefix(err.Error(), "line 1:") {
		t.Errorf("json: %v\n%s", err, out)
	}
}

func TestSQLProperties(t *testing.T) {
	srv := newFakeSQLServer(t)
	out, _, err := runSQLCLI(t, srv, "", "-p", "processing.guarantee=exactly_once", "-e",
		"SET 'auto.offset.reset' = 'earliest'; SHOW PROPERTIES; UNSET 'auto.offset.reset'; SHOW PROPERTIES;")
	if err != nil {
		t.Fatal(err)
	}
	sent := srv.sent()
	if len(sent) != 2 {
		t.Fatalf("SET/UNSET must stay in the client: sent %+v", sent)
	}
	if got := fmt.Sprint(sent[0].Properties); got != "map[auto.offset.reset:earliest processing.guarantee:exactly_once]" {
		t.Errorf("after SET: %s", got)
	}
	if got := fmt.Sprint(sent[1].Properties); got != "map[processing.guarantee:exactly_once]" {
		t.Errorf("after UNSET: %s", got)
	}
	for _, s := range []string{
		"Successfully changed local property 'auto.offset.reset' to 'earliest'.",
		"Successfully unset local property 'auto.offset.reset' (value was 'earliest').",
		" auto.offset.reset    | earliest",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	// A malformed SET is an error of the client.
	_, _, err = runSQLCLI(t, srv, "", "-e", "SET auto.offset.reset = earliest;")
	if err == nil || !strings.Contains(err.Error(), "line 1:1: SET wants a quoted name and value") {
		t.Errorf("bad SET: %v", err)
	}
}

// A push query with LIMIT ends with done: the client closes the connection
// right away, without waiting for the server to end the response.
func TestSQLPushLimit(t *testing.T) {
	srv := newFakeSQLServer(t)
	out, _, err := runSQLCLI(t, srv, "", "-e", sqlPushLimit)
	if err != nil {
		t.Fatal(err)
	}
	want := ` CARD_NUMBER          |           KSQL_COL_0
----------------------+----------------------
 5100-0001            |                    1
 5100-0002            |                    2
 5100-0003            |                    3
(3 rows)
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	srv.waitDisconnect(t, sqlPushLimit)
}

// rowWatcher is an output that calls fn once n lines holding mark were
// written.
type rowWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	mark string
	n    int
	fn   func()
}

func (w *rowWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.n > 0 {
		w.n -= strings.Count(string(p), w.mark)
		if w.n <= 0 {
			w.fn()
		}
	}
	return len(p), nil
}

func (w *rowWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Ctrl-C (the command's context) stops a push query: the connection is
// closed and the script ends cleanly.
func TestSQLPushCanceled(t *testing.T) {
	clearStrataEnv(t)
	srv := newFakeSQLServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &rowWatcher{mark: "5100-", n: 3, fn: cancel}
	var errOut bytes.Buffer
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"sql", "--server", srv.srv.URL, "--format", "json", "-e", sqlPush + " SHOW TABLES;"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	srv.waitDisconnect(t, sqlPush)
	if !strings.HasPrefix(out.String(), `{"CARD_NUMBER":"5100-0001","KSQL_COL_0":1}`+"\n") {
		t.Errorf("stdout %q", out.String())
	}
	if errOut.String() != "Query terminated\n" {
		t.Errorf("stderr %q", errOut.String())
	}
	if got := srv.statements(); len(got) != 1 {
		t.Errorf("the script went on after Ctrl-C: %q", got)
	}
}

// The shell, fed by a reader instead of a terminal: prompts, multi-line
// statements, errors that do not end the session, Ctrl-C cancelling a push
// query and clearing the input, exit.
func TestSQLShell(t *testing.T) {
	srv := newFakeSQLServer(t)
	client, err := newSQLClient(newSQLCmd(), srv.srv.URL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	interrupts := make(chan struct{}, 1)
	out := &rowWatcher{mark: "5100-", n: 3, fn: func() { interrupts <- struct{}{} }}
	var errOut bytes.Buffer
	s := &sqlSession{client: client, out: out, errOut: &errOut, props: map[string]string{},
		interactive: true, interrupts: interrupts}
	input := strings.Join([]string{
		"SET 'auto.offset.reset' = 'earliest';",
		"SELECT *",
		"  FROM fraud_by_card;",
		"SHOW STREAMS; SELECT * FROM nosuch; SHOW TABLES;",
		"SELECT * FROM possible_fraud",
		"EMIT CHANGES;",
		"SHOW PROPERTIES;",
		"quit",
		"SHOW TABLES;",
	}, "\n")
	if err := s.run(context.Background(), newPlainLineReader(strings.NewReader(input), out)); err != nil {
		t.Fatal(err)
	}
	srv.waitDisconnect(t, sqlPush)
	got := out.String()
	for _, want := range []string{
		"strata> Successfully changed local property 'auto.offset.reset' to 'earliest'.\nstrata>      > ",
		"(2 rows)\nstrata>  STREAM_NAME",
		"(1 row)\nstrata>      >  CARD_NUMBER ",
		" 5100-0003 ",
		"strata>  PROPERTY ",
		" auto.offset.reset | earliest\n(1 row)\nstrata> ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.HasSuffix(got, "SHOW TABLES") {
		t.Errorf("ran past quit")
	}
	// Positions count from the statement typed; the rest of its line is
	// not run after an error.
	wantErr := "line 1:15: NOSUCH does not exist.\n    SELECT * FROM nosuch;\n                  ^\nQuery terminated\n"
	if errOut.String() != wantErr {
		t.Errorf("stderr\n%s\nwant\n%s", errOut.String(), wantErr)
	}
	if got := srv.statements(); !slices.Equal(got, []string{"SELECT *\n  FROM fraud_by_card;", "SHOW STREAMS;", "SELECT * FROM nosuch;",
		"SELECT * FROM possible_fraud\nEMIT CHANGES;", "SHOW PROPERTIES;"}) {
		t.Errorf("sent %q", got)
	}
}

// scriptedReader plays back lines and errors as a terminal would give them.
type scriptedReader struct {
	items   []lineResult
	prompts []string
	history []string
}

func (r *scriptedReader) readLine(_ context.Context, prompt string) (string, error) {
	r.prompts = append(r.prompts, prompt)
	if len(r.items) == 0 {
		return "", io.EOF
	}
	it := r.items[0]
	r.items = r.items[1:]
	return it.line, it.err
}
func (r *scriptedReader) addHistory(e string) { r.history = append(r.history, e) }
func (r *scriptedReader) close()              {}

func TestSQLShellCtrlCAtPrompt(t *testing.T) {
	srv := newFakeSQLServer(t)
	client, _ := newSQLClient(newSQLCmd(), srv.srv.URL, time.Second)
	var out, errOut bytes.Buffer
	s := &sqlSession{client: client, out: &out, errOut: &errOut, props: map[string]string{}, interactive: true,
		interrupts: make(chan struct{})}
	lr := &scriptedReader{items: []lineResult{
		{line: "SELECT * FROM"}, {err: errPromptAborted}, {line: "SHOW"}, {line: "  TABLES;"}, {line: "SHOW STREAMS"},
	}}
	if err := s.run(context.Background(), lr); err != nil {
		t.Fatal(err)
	}
	// Ctrl-D drops the unfinished "SHOW STREAMS".
	if got := srv.statements(); !slices.Equal(got, []string{"SHOW\n  TABLES;"}) {
		t.Errorf("sent %q", got)
	}
	if want := []string{sqlPrompt, sqlContinuation, sqlPrompt, sqlContinuation, sqlPrompt, sqlContinuation}; !slices.Equal(lr.prompts, want) {
		t.Errorf("prompts %q, want %q", lr.prompts, want)
	}
	if want := []string{"SHOW   TABLES;"}; !slices.Equal(lr.history, want) {
		t.Errorf("history %q, want %q", lr.history, want)
	}
}

func TestSQLServerErrors(t *testing.T) {
	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = runSQLCLI(t, nil, "", "--server", "http://"+addr, "-e", "SHOW STREAMS;")
	want := "cannot reach the SQL server at http://" + addr + ": connection refused (is a broker running with --http-addr?)"
	if err == nil || err.Error() != want {
		t.Errorf("unreachable: %v\nwant %s", err, want)
	}

	for _, tc := range []struct {
		name    string
		status  int
		ct      string
		body    string
		err     string
		errFull string
	}{
		{name: "404", status: 404, ct: "text/plain", body: "404 page not found\n",
			err: "has no SQL endpoint (POST /sql answered 404 Not Found): is it a broker's --http-addr"},
		{name: "503", status: 503, ct: "text/plain", body: "starting\n", err: "is not ready (503 Service Unavailable): starting: try again shortly"},
		{name: "502", status: 502, ct: "text/html", body: "<h1>Bad Gateway</h1>", err: "answered 502 Bad Gateway: <h1>Bad Gateway</h1>"},
		{name: "500 plain", status: 500, ct: "text/plain", body: "panic", err: "answered 500 Internal Server Error: panic"},
		{name: "500 line", status: 500, ct: "application/x-ndjson", body: `{"error":{"message":"out of memory"}}` + "\n", errFull: "line 1: out of memory\n    SHOW STREAMS;"},
		{name: "400 not an error", status: 400, ct: "application/x-ndjson", body: "oops\n",
			err: "answered 400 Bad Request with a body that is not an error line: line 1: not a JSON object"},
		{name: "html 200", status: 200, ct: "text/html", body: "<html>", err: `malformed response from the SQL server at http://`},
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tc.ct)
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		_, _, err := runSQLCLI(t, nil, "", "--server", hs.URL, "-e", "SHOW STREAMS;")
		hs.Close()
		if tc.errFull != "" {
			if err == nil || err.Error() != tc.errFull {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.errFull)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}

	srv := newFakeSQLServer(t)
	for stmt, want := range map[string]string{
		"SELECT * FROM garbage;": "malformed response from the SQL server at " + srv.srv.URL + `: line 2: not a JSON object: "<html>oops</html>"`,
		"SELECT * FROM cut;":     "reading the response of the SQL server at " + srv.srv.URL + ": the server closed the response before the statement finished",
		"SELECT * FROM wide;":    "a row of 2 values under a header of 1 columns",
	} {
		_, _, err := runSQLCLI(t, srv, "", "-e", stmt)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", stmt, err, want)
		}
	}
}

func TestSQLFlags(t *testing.T) {
	srv := newFakeSQLServer(t)
	// STRATA_SERVER through the config-source mechanism; host:port means http.
	clearStrataEnv(t)
	t.Setenv("STRATA_SERVER", strings.TrimPrefix(srv.srv.URL, "http://"))
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"sql", "-e", "SHOW TABLES;"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "(0 rows)") {
		t.Errorf("STRATA_SERVER: %v %q", err, out.String())
	}
	os.Unsetenv("STRATA_SERVER")

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--server", "ftp://x", "-e", "x"}, `invalid --server "ftp://x": want the URL of a broker's --http-addr`},
		{[]string{"--server", "http://", "-e", "x"}, `invalid --server "http://"`},
		{[]string{"--timeout", "0s", "-e", "x"}, "invalid --timeout 0s: must be positive"},
		{[]string{"--format", "xml", "-e", "x"}, `invalid --format "xml": want table or json`},
		{[]string{"-e", "x", "-f", "y"}, "--execute and --file are exclusive"},
		{[]string{"-p", "novalue", "-e", "x"}, `invalid --property "novalue": want key=value`},
		{[]string{"SHOW STREAMS;"}, `unexpected argument "SHOW STREAMS;": give statements with -e`},
	} {
		_, _, err := runSQLCLI(t, nil, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
	t.Setenv("STRATA_FORMAT", "yaml")
	_, _, err := runCLI(t, "", "sql", "-e", "x")
	if err == nil || !strings.Contains(err.Error(), `invalid --format (from environment STRATA_FORMAT) "yaml"`) {
		t.Errorf("format from env: %v", err)
	}

	// Help: the modes, the formats and the seed query.
	help, _, _ := runCLI(t, "", "sql", "--help")
	for _, s := range []string{"-e, --execute", "-f, --file", "--format", "--server", "EMIT CHANGES",
		sqlFraudCreate, ".strata_sql_history", "Ctrl-C", "--format json"} {
		if !strings.Contains(help, s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

// The text/plain request form and the request body the client sends.
func TestSQLRequestBody(t *testing.T) {
	var got []byte
	var ct, accept string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		ct, accept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, `{"status":{"statement":"x","message":"ok"}}`+"\n")
	}))
	defer hs.Close()
	_, _, err := runSQLCLI(t, nil, "", "--server", hs.URL+"/", "-p", "a=<b>", "-e", "INSERT INTO t VALUES ('<&>');")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"sql":"INSERT INTO t VALUES ('<&>');","properties":{"a":"<b>"}}` + "\n"; string(got) != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if ct != "application/json" || accept != "application/x-ndjson" {
		t.Errorf("Content-Type %q, Accept %q", ct, accept)
	}
	// The fake server accepts text/plain too, as the protocol says.
	srv := newFakeSQLServer(t)
	resp, err := http.Post(srv.srv.URL+"/sql", "text/plain; charset=utf-8", strings.NewReader("SHOW TABLES;"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if err := readSQLResponse(resp.Body, &tableRenderer{out: &out}); err != nil || !strings.Contains(out.String(), "(0 rows)") {
		t.Errorf("text/plain: %v %q", err, out.String())
	}
}
