package engine

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
)

// maxRequestBytes bounds a POST /sql body.
const maxRequestBytes = 1 << 20

// Handler serves POST /sql: the statements of the request run in order and
// their headers, rows, statuses and errors stream back as newline-delimited
// JSON (docs/format/sql-http.md). A push query runs until the client
// disconnects.
func (e *Engine) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST a statement to /sql", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
		if err != nil {
			http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxRequestBytes {
			http.Error(w, "request larger than 1 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		var req struct {
			SQL        string            `json:"sql"`
			Properties map[string]string `json:"properties"`
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "text/plain" {
			req.SQL = string(body)
		} else if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `the body must be JSON {"sql": "...", "properties": {...}} or text/plain SQL: `+err.Error(), http.StatusBadRequest)
			return
		}
		out := &ndjson{w: w}
		err = e.Execute(r.Context(), req.SQL, req.Properties, out)
		if err == nil || r.Context().Err() != nil {
			return
		}
		var se *Error
		if !errors.As(err, &se) {
			se = &Error{Msg: err.Error()}
		}
		line := map[string]any{"error": map[string]any{"message": se.Msg, "statement": se.Statement}}
		if se.Line > 0 {
			line["error"].(map[string]any)["line"] = se.Line
			line["error"].(map[string]any)["column"] = se.Col
		}
		if !out.started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusBadRequest)
		}
		out.write(line)
	})
}

// ndjson is a Result writing one JSON object per line, flushed at once.
type ndjson struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	started bool
}

func (n *ndjson) write(v any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.started {
		n.w.Header().Set("Content-Type", "application/x-ndjson")
		n.started = true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := n.w.Write(append(b, '\n')); err != nil {
		return err
	}
	if f, ok := n.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (n *ndjson) Header(h Header) error { return n.write(map[string]any{"header": h}) }

func (n *ndjson) Row(values []any, tombstone bool) error {
	if tombstone {
		return n.write(map[string]any{"row": values, "tombstone": true})
	}
	return n.write(map[string]any{"row": values})
}

func (n *ndjson) Done(rows int64) error { return n.write(map[string]any{"done": true, "rows": rows}) }

func (n *ndjson) Status(s Status) error { return n.write(map[string]any{"status": s}) }
