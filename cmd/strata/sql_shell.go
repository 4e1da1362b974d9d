package main

// The interactive side of "strata sql": reading lines with a line editor
// (github.com/peterh/liner) on a terminal, or plainly from any reader.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterh/liner"
	"github.com/spf13/cobra"
)

const (
	sqlPrompt       = "strata> "
	sqlContinuation = "     > "
	sqlHistoryFile  = ".strata_sql_history"
)

const sqlShellHelp = `Statements end with ';' and may span lines; each is sent to the server
when its ';' is typed.
  SET 'name' = 'value';   send a property with every statement (e.g.
                          'auto.offset.reset' = 'earliest')
  UNSET 'name';           stop sending it
  SHOW STREAMS; SHOW TABLES; SHOW QUERIES; DESCRIBE name;
  SELECT … EMIT CHANGES;  a push query: rows print as they arrive
Ctrl-C cancels the running query or clears the input; Ctrl-D, exit or quit
leaves.
`

// errPromptAborted is Ctrl-C at the prompt: drop the input typed so far.
var errPromptAborted = errors.New("input aborted")

// sqlLineReader gives the session its input line by line.
type sqlLineReader interface {
	// readLine returns the next line without its newline; io.EOF at the
	// end; errPromptAborted for Ctrl-C at the prompt.
	readLine(ctx context.Context, prompt string) (string, error)
	addHistory(entry string)
	close()
}

// plainLineReader reads lines from any reader, optionally writing prompts.
// Reads happen in a goroutine so that Ctrl-C (ctx) is not stuck behind a
// pipe that stays open.
type plainLineReader struct {
	br      *bufio.Reader
	prompts io.Writer // nil: no prompts
	pending chan lineResult
	eof     bool
}

type lineResult struct {
	line string
	err  error
}

func newPlainLineReader(r io.Reader, prompts io.Writer) *plainLineReader {
	return &plainLineReader{br: bufio.NewReader(r), prompts: prompts}
}

func (p *plainLineReader) readLine(ctx context.Context, prompt string) (string, error) {
	if p.eof {
		return "", io.EOF
	}
	if p.prompts != nil {
		io.WriteString(p.prompts, prompt)
	}
	if p.pending == nil {
		ch := make(chan lineResult, 1)
		p.pending = ch
		go func() {
			s, err := p.br.ReadString('\n')
			ch <- lineResult{s, err}
		}()
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-p.pending:
		p.pending = nil
		if r.err != nil {
			if !errors.Is(r.err, io.EOF) {
				return "", r.err
			}
			p.eof = true
			if r.line == "" {
				return "", io.EOF
			}
		}
		return strings.TrimSuffix(strings.TrimSuffix(r.line, "\n"), "\r"), nil
	}
}

func (p *plainLineReader) addHistory(string) {}
func (p *plainLineReader) close()            {}

// linerReader edits lines on a terminal, with history.
type linerReader struct {
	st       *liner.State
	histPath string
}

func newLinerReader() *linerReader {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetMultiLineMode(true)
	lr := &linerReader{st: st}
	if home, err := os.UserHomeDir(); err == nil {
		lr.histPath = filepath.Join(home, sqlHistoryFile)
		if f, err := os.Open(lr.histPath); err == nil {
			st.ReadHistory(f) // best effort
			f.Close()
		}
	}
	return lr
}

func (l *linerReader) readLine(_ context.Context, prompt string) (string, error) {
	line, err := l.st.Prompt(prompt)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", errPromptAborted
	}
	if errors.Is(err, io.EOF) {
		fmt.Println() // leave the prompt's line
	}
	return line, err
}

func (l *linerReader) addHistory(entry string) { l.st.AppendHistory(entry) }

// close saves the history (best effort) and restores the terminal.
func (l *linerReader) close() {
	if l.histPath != "" {
		if f, err := os.OpenFile(l.histPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			l.st.WriteHistory(f)
			f.Close()
		}
	}
	l.st.Close()
}

// stdinIsTerminal reports whether in is the process's stdin and a terminal.
func stdinIsTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok || f.Fd() != os.Stdin.Fd() {
		return false
	}
	_, err := liner.TerminalMode()
	return err == nil
}

// stdoutIsTerminal reports whether out is the process's stdout and a
// terminal (a character device) for the line editor to draw on.
func stdoutIsTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok || f.Fd() != os.Stdout.Fd() {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runShell is the interactive shell on the terminal.
func (s *sqlSession) runShell(cmd *cobra.Command) error {
	ctx, cancel := sqlTermContext(cmd)
	defer cancel()
	interrupts, stop := sqlShellInterrupts()
	defer stop()
	s.interactive = true
	s.interrupts = interrupts
	fmt.Fprintf(s.out, "strata sql: server %s. Statements end with ';'. Type help for help, Ctrl-D to leave.\n", s.client.base)
	lr := newLinerReader()
	closed := make(chan struct{})
	defer close(closed)
	go func() {
		// SIGTERM/SIGHUP: the line editor may be blocked reading the
		// terminal; restore it and go.
		select {
		case <-ctx.Done():
			select {
			case <-closed: // the shell has ended (and canceled ctx itself)
				return
			default:
			}
			lr.close()
			os.Exit(1)
		case <-closed:
		}
	}()
	defer lr.close()
	return s.run(ctx, lr)
}
