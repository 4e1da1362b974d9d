package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// SQLObject is a definition of the SQL engine kept in etcd: a stream or
// table (Kind "source") or a persistent query (Kind "query"), as the
// statement that created it, so every broker rebuilds the same catalog.
type SQLObject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Statement string `json:"statement"`
	// Props are the session properties the statement ran with.
	Props     map[string]string `json:"props,omitempty"`
	CreatedMs int64             `json:"createdMs"`
}

// ErrSQLObjectExists is returned by CreateSQLObject for a name in use.
var ErrSQLObjectExists = errors.New("meta: a SQL object of that name exists")

func (s *Store) sqlPrefix(kind string) string { return s.prefix + "/sql/" + kind + "/" }

func (s *Store) sqlKey(kind, name string) string { return s.sqlPrefix(kind) + url.PathEscape(name) }

// CreateSQLObject stores o unless an object of its kind and name exists
// (replace: overwrite it).
func (s *Store) CreateSQLObject(ctx context.Context, o SQLObject, replace bool) error {
	if o.Kind == "" || o.Name == "" || strings.ContainsAny(o.Kind, "/") {
		return fmt.Errorf("meta: SQL object needs a kind and a name: %+v", o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	key := s.sqlKey(o.Kind, o.Name)
	if replace {
		_, err := s.cli.Put(ctx, key, string(b))
		return err
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: %s %s", ErrSQLObjectExists, o.Kind, o.Name)
	}
	return nil
}

// SQLObjects lists the objects of a kind, by name.
func (s *Store) SQLObjects(ctx context.Context, kind string) ([]SQLObject, error) {
	resp, err := s.cli.Get(ctx, s.sqlPrefix(kind), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, err
	}
	out := make([]SQLObject, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var o SQLObject
		if err := json.Unmarshal(kv.Value, &o); err != nil {
			return nil, fmt.Errorf("meta: SQL object %s: %w", kv.Key, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// DeleteSQLObject removes an object; it reports whether it existed.
func (s *Store) DeleteSQLObject(ctx context.Context, kind, name string) (bool, error) {
	resp, err := s.cli.Delete(ctx, s.sqlKey(kind, name))
	if err != nil {
		return false, err
	}
	return resp.Deleted > 0, nil
}

// SQLCheckpoint is where a persistent query stands: the next offset of
// each input partition, and the bucket object holding its operators'
// state at that point ("" when it has none).
type SQLCheckpoint struct {
	Offsets map[int32]int64 `json:"offsets"`
	// RightOffsets are those of a join's right input.
	RightOffsets map[int32]int64 `json:"rightOffsets,omitempty"`
	StateObject  string          `json:"stateObject,omitempty"`
	Seq          int64           `json:"seq"`
	UpdatedMs    int64           `json:"updatedMs"`
}

func (s *Store) sqlCheckpointKey(query string) string {
	return s.prefix + "/sql/checkpoints/" + url.PathEscape(query)
}

// PutSQLCheckpoint records a query's checkpoint.
func (s *Store) PutSQLCheckpoint(ctx context.Context, query string, c SQLCheckpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.cli.Put(ctx, s.sqlCheckpointKey(query), string(b))
	return err
}

// SQLCheckpointOf returns a query's checkpoint; ok is false when it has
// none yet.
func (s *Store) SQLCheckpointOf(ctx context.Context, query string) (c SQLCheckpoint, ok bool, err error) {
	resp, err := s.cli.Get(ctx, s.sqlCheckpointKey(query))
	if err != nil || len(resp.Kvs) == 0 {
		return c, false, err
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &c); err != nil {
		return c, false, fmt.Errorf("meta: checkpoint of %s: %w", query, err)
	}
	return c, true, nil
}

// DeleteSQLCheckpoint removes a query's checkpoint.
func (s *Store) DeleteSQLCheckpoint(ctx context.Context, query string) error {
	_, err := s.cli.Delete(ctx, s.sqlCheckpointKey(query))
	return err
}

// ErrSQLObjectChanged is returned by ClaimSQLObject when the object changed
// since it was read.
var ErrSQLObjectChanged = errors.New("meta: the SQL object changed")

// ClaimSQLObject replaces an object's properties with props if its
// properties still equal seen (a compare-and-swap on the whole object, so
// that of several brokers taking over a query only one wins).
func (s *Store) ClaimSQLObject(ctx context.Context, o SQLObject, seen map[string]string) error {
	key := s.sqlKey(o.Kind, o.Name)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("%w: %s %s is gone", ErrSQLObjectChanged, o.Kind, o.Name)
	}
	var cur SQLObject
	if err := json.Unmarshal(resp.Kvs[0].Value, &cur); err != nil {
		return err
	}
	if !maps.Equal(cur.Props, seen) {
		return fmt.Errorf("%w: %s %s", ErrSQLObjectChanged, o.Kind, o.Name)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	txn, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return err
	}
	if !txn.Succeeded {
		return fmt.Errorf("%w: %s %s", ErrSQLObjectChanged, o.Kind, o.Name)
	}
	return nil
}
