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

// checkpoint records where a persistent query stands: its operators' state
// in a new bucket object (when it has stateful operators), then the input
// offsets (of a join's right side too) and that object in etcd; the
// previous object is deleted after.
func (e *Engine) checkpoint(ctx context.Context, id string, p *pipeline, ck *meta.SQLCheckpoint, pos, right map[int32]int64) error {
	next := meta.SQLCheckpoint{Offsets: maps.Clone(pos), RightOffsets: maps.Clone(right), Seq: ck.Seq + 1, UpdatedMs: time.Now().UnixMilli()}
	if len(p.state) > 0 {
		if e.cfg.Bucket == nil {
			return nil // no place for the state: the query restarts from its last checkpoint, or its start
		}
		var buf bytes.Buffer
		buf.WriteString(stateMagic)
		var one bytes.Buffer
		for _, op := range p.state {
			one.Reset()
			if err := op.Snapshot(ctx, &one); err != nil {
				return fmt.Errorf("checkpoint %s: %w", id, err)
			}
			buf.Write(binary.AppendUvarint(nil, uint64(one.Len())))
			buf.Write(one.Bytes())
		}
		next.StateObject = fmt.Sprintf("sql/state/%s/%020d", id, next.Seq)
		if err := e.cfg.Bucket.Upload(ctx, next.StateObject, &buf); err != nil {
			return fmt.Errorf("checkpoint %s: upload state: %w", id, err)
		}
	}
	if err := e.cfg.Meta.PutSQLCheckpoint(ctx, id, next); err != nil {
		return fmt.Errorf("checkpoint %s: %w", id, err)
	}
	if ck.StateObject != "" {
		if err := e.cfg.Bucket.Delete(ctx, ck.StateObject); err != nil {
			e.log.Warn("delete an old query state object", "query", id, "object", ck.StateObject, "err", err)
		}
	}
	*ck = next
	return nil
}

// restore loads a query's checkpoint and its operators' state; a query
// without a checkpoint starts empty.
func (e *Engine) restore(ctx context.Context, id string, p *pipeline) (meta.SQLCheckpoint, error) {
	ck, ok, err := e.cfg.Meta.SQLCheckpointOf(ctx, id)
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
		if err := op.Restore(ctx, io.LimitReader(r, int64(n))); err != nil {
			return ck, fmt.Errorf("query %s: state %s: operator %d: %w", id, ck.StateObject, i, err)
		}
	}
	return ck, nil
}
