package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/strata-log/strata/meta"
)

// stateMagic starts a state object: the snapshots of a pipeline's stateful
// operators, in pipeline order, each as a uvarint length and the bytes the
// operator's Snapshot wrote (docs/format/sql-checkpoint.md).
const stateMagic = "STRATA-SQL-STATE-1\n"

// taskRef names a task's checkpoint and the claim that lets this broker
// write it.
type taskRef struct {
	// key is the task's key as this broker claimed it: a checkpoint is
	// written only while the key is still at its revision.
	key meta.SQLTask
	// ckTask is the checkpoint's task number: meta.SQLWholeQuery for a
	// query that runs as one task (the key queries had before tasks).
	ckTask int
}

// stateDir is the prefix of a query's state objects.
func stateDir(id string) string { return "sql/state/" + id + "/" }

// stateObject names the state object of checkpoint seq: under the query's
// directory (and the task's, for a query of several tasks), the sequence
// number and the revision of the claim that wrote it, so that a broker
// that lost the task without knowing it yet never overwrites its
// successor's object.
func (r taskRef) stateObject(seq int64) string {
	if r.ckTask == meta.SQLWholeQuery {
		return fmt.Sprintf("%s%020d-%d", stateDir(r.key.Query), seq, r.key.Revision)
	}
	return fmt.Sprintf("%s%d/%020d-%d", stateDir(r.key.Query), r.ckTask, seq, r.key.Revision)
}

// checkpoint records where a task stands: its operators' state in a new
// bucket object (when it has stateful operators), then the input offsets
// (of a join's right side too) and that object in etcd, if the task is
// still this broker's; the previous object is deleted after. It reports
// whether it wrote a checkpoint: a task with state and no bucket does not.
func (e *Engine) checkpoint(ctx context.Context, ref taskRef, p *pipeline, ck *meta.SQLCheckpoint, pos, right map[int32]int64) (bool, error) {
	id := ref.key.Query
	next := meta.SQLCheckpoint{Offsets: maps.Clone(pos), RightOffsets: maps.Clone(right), Seq: ck.Seq + 1, UpdatedMs: time.Now().UnixMilli()}
	if len(p.state) > 0 {
		if e.cfg.Bucket == nil {
			return false, nil // no place for the state: the task restarts from its last checkpoint, or its start
		}
		var buf bytes.Buffer
		buf.WriteString(stateMagic)
		var one bytes.Buffer
		for _, op := range p.state {
			one.Reset()
			if err := op.Snapshot(ctx, &one); err != nil {
				return false, fmt.Errorf("checkpoint %s: %w", id, err)
			}
			buf.Write(binary.AppendUvarint(nil, uint64(one.Len())))
			buf.Write(one.Bytes())
		}
		next.StateObject = ref.stateObject(next.Seq)
		if err := e.cfg.Bucket.Upload(ctx, next.StateObject, &buf); err != nil {
			return false, fmt.Errorf("checkpoint %s: upload state: %w", id, err)
		}
	}
	if err := e.cfg.Meta.PutSQLTaskCheckpoint(ctx, ref.key, ref.ckTask, next); err != nil {
		if next.StateObject != "" && errors.Is(err, meta.ErrSQLTaskChanged) {
			e.cfg.Bucket.Delete(ctx, next.StateObject)
		}
		return false, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	if ck.StateObject != "" && ck.StateObject != next.StateObject && e.cfg.Bucket != nil {
		if err := e.cfg.Bucket.Delete(ctx, ck.StateObject); err != nil {
			e.log.Warn("delete an old query state object", "query", id, "object", ck.StateObject, "err", err)
		}
	}
	*ck = next
	return true, nil
}

// restore loads a task's checkpoint and its operators' state; a task
// without a checkpoint starts empty.
func (e *Engine) restore(ctx context.Context, ref taskRef, p *pipeline) (meta.SQLCheckpoint, error) {
	id := ref.key.Query
	ck, ok, err := e.cfg.Meta.SQLTaskCheckpointOf(ctx, id, ref.ckTask)
	if err != nil || !ok {
		return meta.SQLCheckpoint{}, err
	}
	if ck.StateObject == "" || len(p.state) == 0 {
		return ck, nil
	}
	if e.cfg.Bucket == nil {
		return ck, fmt.Errorf("query %s: its state is in object %s but the engine has no object store", id, ck.StateObject)
	}
	rc, err := e.cfg.Bucket.Get(ctx, ck.StateObject)
	if err != nil {
		return ck, fmt.Errorf("query %s: read state %s: %w", id, ck.StateObject, err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != stateMagic {
		return ck, fmt.Errorf("query %s: state %s is not a state object", id, ck.StateObject)
	}
	for i, op := range p.state {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return ck, fmt.Errorf("query %s: state %s: operator %d: %w", id, ck.StateObject, i, errors.Join(err, io.ErrUnexpectedEOF))
		}
		lr := io.LimitReader(r, int64(n))
		if err := op.Restore(ctx, lr); err != nil {
			return ck, fmt.Errorf("query %s: state %s: operator %d: %w", id, ck.StateObject, i, err)
		}
		if _, err := io.Copy(io.Discard, lr); err != nil { // what the operator left of its snapshot
			return ck, fmt.Errorf("query %s: state %s: operator %d: %w", id, ck.StateObject, i, err)
		}
	}
	return ck, nil
}
