package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// SQLTask is one unit of a persistent query that one broker runs: a set of
// its input partitions (or of its repartition topic's) with its own
// checkpoint. Its key, /sql/tasks/<query>/<task>, names the broker that
// runs it; brokers claim tasks with a compare-and-swap on the key's
// revision (ClaimSQLTask), so one broker at a time owns a task.
type SQLTask struct {
	Query string `json:"query"`
	Task  int    `json:"task"`
	// Owner is the broker that runs the task.
	Owner int32 `json:"owner"`
	// Stage and Partitions describe the task for people (SHOW QUERIES,
	// EXPLAIN, etcdctl): what it runs and the partitions it read when it
	// was placed. The engine derives both from the query's definition.
	Stage      string  `json:"stage,omitempty"`
	Partitions []int32 `json:"partitions,omitempty"`
	UpdatedMs  int64   `json:"updatedMs"`
	// Revision is the key's modification revision when it was read or
	// written (0: the key does not exist). Not stored.
	Revision int64 `json:"-"`
}

// ErrSQLTaskChanged is returned when a task's key is not at the revision
// the caller saw: another broker claimed it, or the query was terminated.
var ErrSQLTaskChanged = errors.New("meta: the SQL task changed")

// SQLWholeQuery is the task number that names the checkpoint of a query
// that runs as one task: /sql/checkpoints/<query>, the key queries had
// before they were split into tasks.
const SQLWholeQuery = -1

func (s *Store) sqlTasksRoot() string { return s.prefix + "/sql/tasks/" }

func (s *Store) sqlTaskPrefix(query string) string {
	return s.sqlTasksRoot() + url.PathEscape(query) + "/"
}

func (s *Store) sqlTaskKey(query string, task int) string {
	return s.sqlTaskPrefix(query) + strconv.Itoa(task)
}

// sqlTaskCheckpointKey is the checkpoint key of a task: the query's own
// key for SQLWholeQuery, else the query's key, '/' and the task number.
func (s *Store) sqlTaskCheckpointKey(query string, task int) string {
	if task == SQLWholeQuery {
		return s.sqlCheckpointKey(query)
	}
	return s.sqlCheckpointKey(query) + "/" + strconv.Itoa(task)
}

func decodeSQLTask(key []byte, value []byte, rev int64) (SQLTask, error) {
	var t SQLTask
	if err := json.Unmarshal(value, &t); err != nil {
		return t, fmt.Errorf("meta: SQL task %s: %w", key, err)
	}
	t.Revision = rev
	return t, nil
}

// SQLTasks returns a query's tasks by task number.
func (s *Store) SQLTasks(ctx context.Context, query string) ([]SQLTask, error) {
	resp, err := s.cli.Get(ctx, s.sqlTaskPrefix(query), clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]SQLTask, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := decodeSQLTask(kv.Key, kv.Value, kv.ModRevision)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Task < out[j].Task })
	return out, nil
}

// AllSQLTasks returns every query's tasks (by query, by task number), in
// one read.
func (s *Store) AllSQLTasks(ctx context.Context) (map[string][]SQLTask, error) {
	resp, err := s.cli.Get(ctx, s.sqlTasksRoot(), clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := map[string][]SQLTask{}
	for _, kv := range resp.Kvs {
		t, err := decodeSQLTask(kv.Key, kv.Value, kv.ModRevision)
		if err != nil {
			return nil, err
		}
		out[t.Query] = append(out[t.Query], t)
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Task < ts[j].Task })
	}
	return out, nil
}

// ClaimSQLTask writes t (its new owner) if its key is still at revision
// seen (0: the key must not exist) and the query's definition, the SQL
// object of kind queryKind named t.Query, still exists; it returns t with
// its new revision. It fails with ErrSQLTaskChanged otherwise, so of
// several brokers claiming a task only one wins, and no task is created
// for a query being terminated.
func (s *Store) ClaimSQLTask(ctx context.Context, queryKind string, t SQLTask, seen int64) (SQLTask, error) {
	if t.Query == "" || t.Task < 0 || strings.ContainsAny(queryKind, "/") || queryKind == "" {
		return t, fmt.Errorf("meta: SQL task needs a query kind, a query and a task number: %q %+v", queryKind, t)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	key := s.sqlTaskKey(t.Query, t.Task)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", seen),
			clientv3.Compare(clientv3.CreateRevision(s.sqlKey(queryKind, t.Query)), ">", 0)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return t, err
	}
	if !resp.Succeeded {
		return t, fmt.Errorf("%w: %s task %d", ErrSQLTaskChanged, t.Query, t.Task)
	}
	t.Revision = resp.Header.Revision
	return t, nil
}

// DeleteSQLTasks removes a query's tasks.
func (s *Store) DeleteSQLTasks(ctx context.Context, query string) error {
	_, err := s.cli.Delete(ctx, s.sqlTaskPrefix(query), clientv3.WithPrefix())
	return err
}

// SQLTaskCheckpointOf returns the checkpoint of a query's task (task
// SQLWholeQuery: the query's own); ok is false when it has none yet.
func (s *Store) SQLTaskCheckpointOf(ctx context.Context, query string, task int) (c SQLCheckpoint, ok bool, err error) {
	key := s.sqlTaskCheckpointKey(query, task)
	resp, err := s.cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) == 0 {
		return c, false, err
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &c); err != nil {
		return c, false, fmt.Errorf("meta: checkpoint %s: %w", key, err)
	}
	return c, true, nil
}

// PutSQLTaskCheckpoint records the checkpoint of task (SQLWholeQuery: the
// query's own key) if owner's task key is still at owner.Revision: a
// broker that lost the task (another took it over, or the query was
// terminated) gets ErrSQLTaskChanged and writes nothing.
func (s *Store) PutSQLTaskCheckpoint(ctx context.Context, owner SQLTask, task int, c SQLCheckpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.sqlTaskKey(owner.Query, owner.Task)), "=", owner.Revision)).
		Then(clientv3.OpPut(s.sqlTaskCheckpointKey(owner.Query, task), string(b))).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: %s task %d is no longer this broker's", ErrSQLTaskChanged, owner.Query, owner.Task)
	}
	return nil
}

// InitSQLTaskCheckpoint records the first checkpoint of a task (task
// SQLWholeQuery: the query's own), where a new query starts, unless it
// has one.
func (s *Store) InitSQLTaskCheckpoint(ctx context.Context, query string, task int, c SQLCheckpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := s.sqlTaskCheckpointKey(query, task)
	_, err = s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	return err
}

// SQLCheckpoints returns all of a query's checkpoints by task number: its
// own (SQLWholeQuery) and its tasks'.
func (s *Store) SQLCheckpoints(ctx context.Context, query string) (map[int]SQLCheckpoint, error) {
	out := map[int]SQLCheckpoint{}
	if c, ok, err := s.SQLCheckpointOf(ctx, query); err != nil {
		return nil, err
	} else if ok {
		out[SQLWholeQuery] = c
	}
	prefix := s.sqlCheckpointKey(query) + "/"
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	for _, kv := range resp.Kvs {
		task, err := strconv.Atoi(strings.TrimPrefix(string(kv.Key), prefix))
		if err != nil || task < 0 {
			continue // not a task's
		}
		var c SQLCheckpoint
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return nil, fmt.Errorf("meta: checkpoint %s: %w", kv.Key, err)
		}
		out[task] = c
	}
	return out, nil
}

// DeleteSQLCheckpoints removes all of a query's checkpoints (its own and
// its tasks').
func (s *Store) DeleteSQLCheckpoints(ctx context.Context, query string) error {
	key := s.sqlCheckpointKey(query)
	_, err := s.cli.Txn(ctx).Then(clientv3.OpDelete(key), clientv3.OpDelete(key+"/", clientv3.WithPrefix())).Commit()
	return err
}
