package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
)

// aggSpill manages the spill files of an aggregation: one Arrow IPC stream
// of state rows (the snapshot's state schema) per spilled window part, in
// a directory of the operator's own.
type aggSpill struct {
	dir   string // parent of tmp
	tmp   string // the operator's directory; made on the first spill
	files int
	bytes int64
}

// remove deletes the spill files of w.
func (s *aggSpill) remove(w *aggWindow) {
	for _, path := range w.spills {
		_ = os.Remove(path) // best effort: close removes the directory
	}
	w.spills = nil
}

func (s *aggSpill) close() error {
	if s.tmp == "" {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	s.tmp = ""
	return err
}

// maybeSpill spills windows while the state of a tumbling or hopping EMIT
// FINAL aggregation is over MaxMemoryBytes, until it is under half of it:
// the oldest windows first, those stream time has not reached the end of
// (still filling) last.
func (a *Aggregate) maybeSpill(ctx context.Context) error {
	limit := a.cfg.MaxMemoryBytes
	if limit <= 0 || !a.cfg.Final || a.kind == Session || a.memBytes() <= limit {
		return nil
	}
	for _, filling := range []bool{false, true} {
		for _, start := range a.windows.starts {
			w := a.windows.byStart[start]
			if len(w.gids) == 0 || (start+a.size > a.streamTime) != filling {
				continue
			}
			if err := a.spillWindow(ctx, w); err != nil {
				return err
			}
			if a.memBytes() <= limit/2 {
				return nil
			}
		}
	}
	return nil
}

// spillWindow writes the groups of w in memory to a file and frees them.
func (a *Aggregate) spillWindow(ctx context.Context, w *aggWindow) error {
	if a.spill.tmp == "" {
		dir, err := os.MkdirTemp(a.spill.dir, "strata-aggregate-")
		if err != nil {
			return fmt.Errorf("exec: aggregation spill: %w", err)
		}
		a.spill.tmp = dir
	}
	path := filepath.Join(a.spill.tmp, fmt.Sprintf("window-%d-%d.arrows", w.start, a.spill.files))
	a.spill.files++
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("exec: aggregation spill: %w", err)
	}
	cw := &aggCountingWriter{w: bufio.NewWriter(f)}
	err = a.writeWindowState(ctx, cw, w)
	if err == nil {
		err = cw.w.(*bufio.Writer).Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("exec: aggregation spill: %w", err)
	}
	a.spill.bytes += cw.n
	w.spills = append(w.spills, path)
	for _, g := range w.gids {
		a.groups.release(g)
	}
	w.table, w.gids = aggKeyTable{}, nil
	return nil
}

// writeWindowState writes the groups of w in memory as one IPC stream.
func (a *Aggregate) writeWindowState(ctx context.Context, out io.Writer, w *aggWindow) error {
	iw := ipc.NewWriter(out, ipc.WithSchema(a.state), ipc.WithAllocator(compute.GetAllocator(ctx)))
	err := a.writeGroups(ctx, iw, w.gids)
	if cerr := iw.Close(); err == nil {
		err = cerr
	}
	return err
}

// unspill returns w with its spilled groups read back and merged with
// those in memory, which arrived later.
func (a *Aggregate) unspill(ctx context.Context, w *aggWindow) (*aggWindow, error) {
	if len(w.spills) == 0 {
		return w, nil
	}
	m := &aggWindow{start: w.start}
	for _, path := range w.spills {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("exec: aggregation spill: %w", err)
		}
		err = a.readState(ctx, bufio.NewReader(f), func(rec arrow.Record) error {
			a.encodeStateKeys(rec)
			a.importWindow(m, rec, 0, int(rec.NumRows()))
			return nil
		})
		f.Close()
		if err != nil {
			a.releaseWindow(m)
			a.releaseWindow(w)
			return nil, fmt.Errorf("exec: aggregation spill %s: %w", path, err)
		}
	}
	for slot, g := range w.gids {
		key := w.table.key(int32(slot))
		s, inserted := m.table.findOrInsert(a.keys.hash(key), key)
		if inserted {
			m.gids = append(m.gids, g)
			a.groups.win[g], a.groups.slot[g] = m, s
		} else {
			a.mergeGroups(m.gids[s], g)
		}
	}
	a.spill.remove(w)
	return m, nil
}

// readState calls fn with each record of an IPC stream of state rows.
func (a *Aggregate) readState(ctx context.Context, r io.Reader, fn func(arrow.Record) error) error {
	rdr, err := ipc.NewReader(r, ipc.WithAllocator(compute.GetAllocator(ctx)))
	if err != nil {
		return err
	}
	defer rdr.Release()
	if !rdr.Schema().Equal(a.state) {
		return errors.New("state columns differ from the aggregation's")
	}
	for rdr.Next() {
		if err := fn(rdr.Record()); err != nil {
			return err
		}
	}
	return rdr.Err()
}

// aggCountingWriter counts the bytes written through it.
type aggCountingWriter struct {
	w io.Writer
	n int64
}

func (c *aggCountingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
