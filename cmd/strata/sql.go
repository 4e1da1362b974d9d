package main

// "strata sql": a client for the SQL engine each broker serves at POST /sql
// on its --http-addr. The protocol is in docs/format/sql-http.md: a JSON
// request, a newline-delimited JSON response streamed as rows are produced.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

const defaultSQLServer = "http://127.0.0.1:8080"

// ---- HTTP client ----

// sqlClient posts statements to one server's /sql endpoint.
type sqlClient struct {
	base     string // the server URL, for messages
	endpoint string // base + /sql
	timeout  time.Duration
	http     *http.Client
}

// newSQLClient validates --server and --timeout. A server without a scheme
// ("host:port") means http.
func newSQLClient(cmd *cobra.Command, server string, timeout time.Duration) (*sqlClient, error) {
	raw := strings.TrimSpace(server)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid %s %q: want the URL of a broker's --http-addr, e.g. %s", flagRef(cmd, "server"), server, defaultSQLServer)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("invalid %s %s: must be positive", flagRef(cmd, "timeout"), timeout)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	base := u.String()
	u.Path += "/sql"
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: timeout,
		// Rows must reach the screen as they are flushed: no gzip.
		DisableCompression: true,
		MaxIdleConns:       2,
		IdleConnTimeout:    90 * time.Second,
	}
	// No overall deadline: a push query streams for as long as it runs.
	return &sqlClient{base: base, endpoint: u.String(), timeout: timeout, http: &http.Client{Transport: tr}}, nil
}

// sqlRequest is the JSON body of POST /sql.
type sqlRequest struct {
	SQL        string            `json:"sql"`
	Properties map[string]string `json:"properties,omitempty"`
}

// post sends one request and returns the response, whose body the caller
// closes. Errors are in words: the server is unreachable, has no SQL
// endpoint, is not ready, and so on. A 400 or 500 answer whose body is a
// protocol error line is returned as a response for the caller to decode.
func (c *sqlClient) post(ctx context.Context, sql string, props map[string]string) (*http.Response, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sqlRequest{SQL: sql, Properties: props}); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, &body)
	if err != nil {
		return nil, fmt.Errorf("building the request to %s: %w", c.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", clientID)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if ct := resp.Header.Get("Content-Type"); !isNDJSON(ct) {
			resp.Body.Close()
			return nil, fmt.Errorf("malformed response from the SQL server at %s: Content-Type %q, want application/x-ndjson", c.base, ct)
		}
		return resp, nil
	case http.StatusBadRequest, http.StatusInternalServerError:
		if isNDJSON(resp.Header.Get("Content-Type")) {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	text := bodySnippet(resp.Body)
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return nil, fmt.Errorf("the server at %s has no SQL endpoint (POST /sql answered %s): is it a broker's --http-addr, and is the broker recent enough to serve SQL?", c.base, resp.Status)
	case http.StatusServiceUnavailable:
		return nil, fmt.Errorf("the SQL server at %s is not ready (%s)%s: try again shortly", c.base, resp.Status, text)
	}
	return nil, fmt.Errorf("the SQL server at %s answered %s%s", c.base, resp.Status, text)
}

// isNDJSON reports whether a Content-Type is the protocol's (JSON is
// accepted too: a one-line body is both).
func isNDJSON(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasPrefix(ct, "application/x-ndjson") || strings.HasPrefix(ct, "application/json")
}

// bodySnippet reads the start of a plain-text error body as ": text", or
// "" when it is empty.
func bodySnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return ""
	}
	return ": " + s
}

// errSQLInterrupted means the request was canceled (Ctrl-C).
var errSQLInterrupted = errors.New("interrupted")

// transportError explains a failed request.
func (c *sqlClient) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errSQLInterrupted
	}
	const hint = "(is a broker running with --http-addr?)"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("cannot reach the SQL server at %s: no answer within %s (see --timeout) %s", c.base, c.timeout, hint)
	}
	// Keep the innermost cause: "connection refused", not the wrapping
	// "Post …: dial tcp …: connect: connection refused".
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot reach the SQL server at %s: no such host %q %s", c.base, dnsErr.Name, hint)
	}
	cause := err
	for {
		next := errors.Unwrap(cause)
		if next == nil {
			break
		}
		cause = next
	}
	return fmt.Errorf("cannot reach the SQL server at %s: %v %s", c.base, cause, hint)
}

// ---- response decoding ----

type sqlColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type sqlHeader struct {
	Statement string      `json:"statement"`
	QueryID   string      `json:"queryId"`
	Columns   []sqlColumn `json:"columns"`
}

type sqlStatus struct {
	Statement string `json:"statement"`
	Message   string `json:"message"`
	QueryID   string `json:"queryId,omitempty"`
}

// sqlServerError is the protocol's error object.
type sqlServerError struct {
	Message   string `json:"message"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	Statement string `json:"statement,omitempty"`
}

func (e *sqlServerError) Error() string { return e.Message }

// sqlLine is one line of a response; exactly one of its members is set.
type sqlLine struct {
	Header    *sqlHeader      `json:"header"`
	Row       json.RawMessage `json:"row"`
	Tombstone bool            `json:"tombstone"`
	Done      bool            `json:"done"`
	Status    *sqlStatus      `json:"status"`
	Error     *sqlServerError `json:"error"`
}

// malformedError is a response line that does not follow the protocol.
type malformedError struct {
	line   int
	reason string
	text   []byte
}

func (e *malformedError) Error() string {
	t := string(e.text)
	if len(t) > 120 {
		t = t[:120] + "…"
	}
	return fmt.Sprintf("line %d: %s: %q", e.line, e.reason, t)
}

// maxSQLLine bounds one response line (a row).
const maxSQLLine = 64 << 20

// readSQLResponse reads a response to one statement and feeds r until the
// statement's last line: {"done":true} after rows, a status, or an error
// (returned as a *sqlServerError). Lines of unknown kinds are skipped, and
// so are empty lines.
func readSQLResponse(body io.Reader, r sqlRenderer) error {
	br := bufio.NewReaderSize(body, 64<<10)
	n := 0
	var cols []sqlColumn // non-nil between a header and its done
	for {
		line, err := readLimitedLine(br)
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				if cols != nil {
					return errors.New("the server closed the response before the statement finished (no {\"done\":true} after the rows)")
				}
				return errors.New("the server closed the response without answering the statement")
			}
			return err
		}
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var l sqlLine
		if jerr := json.Unmarshal(line, &l); jerr != nil {
			return &malformedError{n, "not a JSON object", line}
		}
		switch {
		case l.Error != nil:
			if err := r.serverError(l.Error, line); err != nil {
				return err
			}
			return l.Error
		case l.Header != nil:
			if cols != nil {
				return &malformedError{n, "a header before the previous result's done", line}
			}
			cols = l.Header.Columns
			if cols == nil {
				cols = []sqlColumn{}
			}
			if err := r.header(l.Header); err != nil {
				return err
			}
		case l.Row != nil:
			if cols == nil {
				return &malformedError{n, "a row without a header", line}
			}
			var vals []json.RawMessage
			if len(l.Row) == 0 || l.Row[0] != '[' || json.Unmarshal(l.Row, &vals) != nil {
				return &malformedError{n, "row is not a JSON array", line}
			}
			if len(vals) != len(cols) {
				return &malformedError{n, fmt.Sprintf("a row of %d values under a header of %d columns", len(vals), len(cols)), line}
			}
			if err := r.row(vals, l.Tombstone); err != nil {
				return err
			}
		case l.Done:
			if cols == nil {
				return &malformedError{n, "done without a header", line}
			}
			return r.done()
		case l.Status != nil:
			if cols != nil {
				return &malformedError{n, "a status in the middle of rows", line}
			}
			return r.status(l.Status, line)
		}
	}
}

// readLimitedLine reads one line of at most maxSQLLine bytes.
func readLimitedLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		out = append(out, frag...)
		if len(out) > maxSQLLine {
			return nil, fmt.Errorf("a response line longer than %d bytes", maxSQLLine)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return out, err
		}
	}
}

// ---- errors with positions ----

// sqlError is an error in a statement: from the server, or found by the
// client (an unterminated string, a malformed SET). Pos is where in the
// input it is (Line 0: unknown; Col 0: the line only).
type sqlError struct {
	File    string
	Pos     textPos
	Msg     string
	Stmt    string  // the statement, shown under the message
	StmtPos textPos // where Stmt starts in the input
}

func (e *sqlError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	switch {
	case e.Pos.Line > 0 && e.Pos.Col > 0:
		fmt.Fprintf(&b, "line %d:%d: ", e.Pos.Line, e.Pos.Col)
	case e.Pos.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Pos.Line)
	}
	b.WriteString(e.Msg)
	if e.Stmt != "" {
		b.WriteString(e.excerpt())
	}
	return b.String()
}

// excerpt shows the statement under the message: the lines up to the
// error with a caret under its column, or the first lines.
func (e *sqlError) excerpt() string {
	const indent = "    "
	lines := strings.Split(e.Stmt, "\n")
	var b strings.Builder
	rel := e.Pos.Line - e.StmtPos.Line
	if e.Pos.Col > 0 && rel >= 0 && rel < len(lines) {
		col := e.Pos.Col - 1
		if rel == 0 {
			col = e.Pos.Col - e.StmtPos.Col
		}
		for _, l := range lines[max(0, rel-2) : rel+1] {
			b.WriteString("\n" + indent + strings.TrimRight(l, "\r"))
		}
		prefix := []rune(lines[rel])
		if col >= 0 && col <= len(prefix) {
			pad := []rune(strings.Repeat(" ", col))
			for i := range col {
				if prefix[i] == '\t' {
					pad[i] = '\t'
				}
			}
			b.WriteString("\n" + indent + string(pad) + "^")
		}
		return b.String()
	}
	for i, l := range lines {
		if i == 3 {
			b.WriteString("\n" + indent + "…")
			break
		}
		b.WriteString("\n" + indent + strings.TrimRight(l, "\r"))
	}
	return b.String()
}

// ---- session ----

// sqlSession runs statements one at a time against a server, keeping the
// properties set with SET/UNSET and sent with every request.
type sqlSession struct {
	client      *sqlClient
	out, errOut io.Writer
	json        bool
	props       map[string]string
	interactive bool   // a shell: errors are printed and the session goes on
	file        string // the script's name in messages ("" for -e and stdin)
	// interrupts, in a shell, cancels the running statement (Ctrl-C).
	interrupts <-chan struct{}
}

func (s *sqlSession) renderer(stmt string) sqlRenderer {
	if s.json {
		return &jsonRenderer{out: s.out}
	}
	return &tableRenderer{out: s.out, streaming: isStreamingStatement(stmt)}
}

// execute runs one statement. Its errors are *sqlError (the statement is
// wrong or failed), errSQLInterrupted, or others (transport, protocol).
func (s *sqlSession) execute(ctx context.Context, st sqlStatement) error {
	pos := textPos{st.Line, st.Col}
	if s.interactive {
		pos = textPos{1, 1} // positions count from the statement typed
	}
	stmtErr := func(msg string, line, col int) *sqlError {
		e := &sqlError{File: s.file, Msg: msg, Stmt: st.Text, StmtPos: pos}
		switch {
		case line > 0:
			e.Pos = textPos{Line: pos.Line + line - 1}
			if col > 0 {
				e.Pos.Col = col
				if line == 1 {
					e.Pos.Col = pos.Col + col - 1
				}
			}
		case !s.interactive:
			e.Pos = textPos{Line: pos.Line}
		}
		return e
	}
	r := s.renderer(st.Text)

	if lp, ok, err := parseLocalProperty(st.Text); ok {
		if err != nil {
			return stmtErr(err.Error(), 1, 1)
		}
		var msg string
		if lp.unset {
			if old, had := s.props[lp.name]; had {
				msg = fmt.Sprintf("Successfully unset local property '%s' (value was '%s').", lp.name, old)
			} else {
				msg = fmt.Sprintf("Local property '%s' was not set.", lp.name)
			}
			delete(s.props, lp.name)
		} else {
			s.props[lp.name] = lp.value
			msg = fmt.Sprintf("Successfully changed local property '%s' to '%s'.", lp.name, lp.value)
		}
		return r.status(&sqlStatus{Statement: st.Text, Message: msg}, nil)
	}

	resp, err := s.client.post(ctx, st.Text, s.props)
	if err != nil {
		return err
	}
	// Closing the body before the end closes the connection, which is how
	// a push query is stopped.
	defer resp.Body.Close()
	err = readSQLResponse(resp.Body, r)
	var se *sqlServerError
	var me *malformedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return stmtErr(se.Message, se.Line, se.Column)
	case ctx.Err() != nil:
		return errSQLInterrupted
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the SQL server at %s answered %s with a body that is not an error line: %w", s.client.base, resp.Status, err)
	case errors.As(err, &me):
		return fmt.Errorf("malformed response from the SQL server at %s: %w", s.client.base, err)
	}
	return fmt.Errorf("reading the response of the SQL server at %s: %w", s.client.base, err)
}

// run reads statements from lr and executes each as soon as its ';' is
// read. A script stops at the first error and returns it; a shell prints
// errors and goes on. Ctrl-C stops a script cleanly and, in a shell,
// cancels the running statement or clears the input being typed.
func (s *sqlSession) run(ctx context.Context, lr sqlLineReader) error {
	var buf sqlBuffer
	buf.reset()
	report := func(err error) error {
		if errors.Is(err, errSQLInterrupted) {
			fmt.Fprintln(s.errOut, "Query terminated")
			if s.interactive {
				return nil
			}
			return errSQLInterrupted
		}
		if s.interactive {
			fmt.Fprintln(s.errOut, err)
			return nil
		}
		return err
	}
	for {
		prompt := sqlPrompt
		if buf.pending() {
			prompt = sqlContinuation
		}
		line, err := lr.readLine(ctx, prompt)
		switch {
		case errors.Is(err, errPromptAborted):
			buf.clear()
			continue
		case errors.Is(err, io.EOF) && s.interactive:
			return nil // Ctrl-D drops a statement left unfinished
		case errors.Is(err, io.EOF):
			last, ferr := buf.finish()
			if ferr == nil && last != nil {
				ferr = s.runOne(ctx, lr, *last)
			}
			if ferr != nil {
				if err := report(ferr); err != nil {
					return stopOnInterrupt(err)
				}
			}
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading statements: %w", err)
		}
		if !buf.pending() {
			switch strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), ";"))) {
			case "exit", "quit":
				return nil
			case "help", `\?`, `\h`:
				if s.interactive {
					fmt.Fprint(s.out, sqlShellHelp)
					continue
				}
			}
		}
		for _, st := range buf.add(line + "\n") {
			if err := s.runOne(ctx, lr, st); err != nil {
				if err := report(err); err != nil {
					return stopOnInterrupt(err)
				}
				break // the rest of the line is not run after an error
			}
		}
	}
}

func stopOnInterrupt(err error) error {
	if errors.Is(err, errSQLInterrupted) {
		return nil // Ctrl-C ends a script cleanly
	}
	return err
}

// runOne executes a statement; in a shell it first records it in the
// history and lets Ctrl-C cancel it.
func (s *sqlSession) runOne(ctx context.Context, lr sqlLineReader, st sqlStatement) error {
	if !s.interactive {
		return s.execute(ctx, st)
	}
	// History entries are single lines.
	lr.addHistory(strings.ReplaceAll(strings.ReplaceAll(st.Text, "\r\n", " "), "\n", " "))
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Forget a Ctrl-C pressed before the statement started.
	for drained := false; !drained; {
		select {
		case <-s.interrupts:
		default:
			drained = true
		}
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-s.interrupts:
			cancel()
		case <-finished:
		}
	}()
	return s.execute(qctx, st)
}

// ---- command ----

type sqlOptions struct {
	server  string
	timeout time.Duration
	execute string
	file    string
	format  string
	props   []string
}

func newSQLCmd() *cobra.Command {
	var o sqlOptions
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Run SQL statements (ksqlDB dialect) against a broker's SQL engine",
		Long: `Send SQL statements to the SQL engine a broker serves at POST /sql on its
--http-addr, and print the results. Statements end with ';' (outside 'strings',
"quoted" or ` + "`backquoted`" + ` identifiers and comments); each is sent on its own,
in order.

Where the statements come from:
  (nothing)      an interactive shell when stdin is a terminal: prompt
                 "strata> ", "     > " while a statement continues over lines;
                 Ctrl-C cancels the running query (or clears the input being
                 typed), Ctrl-D or "exit" leaves; history is kept in
                 $HOME/.strata_sql_history
  -e 'SQL'       run the statements and exit
  -f FILE        run a file of statements (-f - reads stdin)
  (stdin)        when stdin is not a terminal, run the statements it holds

A script (-e, -f, stdin) stops at the first error: the error goes to stderr
as "strata: line 3:15: message" (line:column in the script) with the
statement, and the exit status is 1. Ctrl-C stops it cleanly.

Results (--format table):
  SELECT … (pull query), SHOW, DESCRIBE, EXPLAIN
      an aligned table, then "(N rows)"
  SELECT … EMIT CHANGES (push query), PRINT
      the header, then each row as it arrives, until the query's LIMIT or
      Ctrl-C; a deleted table row is marked "(tombstone)"
  CREATE, DROP, INSERT, TERMINATE, …
      the server's message
--format json prints, one per line, an object per row, {"COLUMN":value,…}
(a deleted table row as {"tombstone":{…}}), and the server's {"status":…}
and {"error":…} objects: for scripts.

SET 'name' = 'value'; and UNSET 'name'; are handled by the client: the
properties are sent with every later statement (--property sets some from
the start). E.g. SET 'auto.offset.reset' = 'earliest'; makes queries read
topics from the beginning.

--server is the URL of a broker's --http-addr (or STRATA_SERVER); --timeout
bounds connecting, not the query: a push query streams for as long as it
runs.`,
		Example: `  strata sql
  strata sql --server http://broker1:8080
  strata sql -e "SHOW STREAMS;"
  strata sql -p auto.offset.reset=earliest -e "CREATE STREAM possible_fraud AS SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;"
  strata sql --format json -e "SELECT * FROM possible_fraud EMIT CHANGES LIMIT 10;"
  strata sql -f pipeline.sql
  echo "DESCRIBE possible_fraud;" | strata sql`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q: give statements with -e 'SQL;' or -f FILE", args[0])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", defaultSQLServer, "URL of the SQL server: a broker's --http-addr")
	f.DurationVar(&o.timeout, "timeout", defaultTimeout, "how long to wait for a connection to the server (queries themselves have no deadline)")
	f.StringVarP(&o.execute, "execute", "e", "", "run these statements and exit")
	f.StringVarP(&o.file, "file", "f", "", "run the statements in this file and exit (- for stdin)")
	f.StringVar(&o.format, "format", "table", "output: table (aligned columns; text is a synonym) or json (one object per line)")
	f.StringArrayVarP(&o.props, "property", "p", nil, "a property name=value sent with every statement, like SET (repeatable)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runSQLCmd(cmd, &o)
	}
	return cmd
}

func runSQLCmd(cmd *cobra.Command, o *sqlOptions) error {
	if cmd.Flags().Changed("execute") && cmd.Flags().Changed("file") {
		return errors.New("--execute and --file are exclusive: give at most one")
	}
	var asJSON bool
	switch strings.ToLower(o.format) {
	case "table", "text", "":
	case "json":
		asJSON = true
	default:
		return fmt.Errorf("invalid %s %q: want table or json", flagRef(cmd, "format"), o.format)
	}
	props, _, err := parseKeyValues("property", o.props)
	if err != nil {
		return err
	}
	client, err := newSQLClient(cmd, o.server, o.timeout)
	if err != nil {
		return err
	}
	s := &sqlSession{client: client, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), json: asJSON, props: props}

	in := cmd.InOrStdin()
	switch {
	case cmd.Flags().Changed("execute"):
		return s.runScript(cmd, strings.NewReader(o.execute))
	case o.file == "-":
		return s.runScript(cmd, in)
	case o.file != "":
		fh, err := os.Open(o.file)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		defer fh.Close()
		s.file = o.file
		return s.runScript(cmd, fh)
	case stdinIsTerminal(in) && stdoutIsTerminal(cmd.OutOrStdout()):
		return s.runShell(cmd)
	}
	return s.runScript(cmd, in)
}

// runScript runs the statements read from r, stopping at the first error.
func (s *sqlSession) runScript(cmd *cobra.Command, r io.Reader) error {
	ctx, cancel := commandContext(cmd)
	defer cancel()
	return s.run(ctx, newPlainLineReader(r, nil))
}

// sqlShellInterrupts turns Ctrl-C (SIGINT) into the shell's interrupts for
// as long as the shell runs: at the prompt the terminal is raw and Ctrl-C
// is a key the line editor handles; while a statement runs it is a signal
// that cancels it.
func sqlShellInterrupts() (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return out, func() { signal.Stop(sig); close(done) }
}

// sqlTermContext is canceled by SIGTERM/SIGHUP (but not Ctrl-C, which the
// shell handles itself).
func sqlTermContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGHUP)
}
