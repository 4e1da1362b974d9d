package meta_test

import (
	"errors"
	"testing"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

// TestSQLTasks checks the tasks of a persistent query: creation and
// takeover by compare-and-swap (one claim of several wins), no task for a
// query that is gone, checkpoints written only by the task's owner, and
// the removal of every task and checkpoint.
func TestSQLTasks(t *testing.T) {
	st := metatest.Shared(t)
	ctx := t.Context()
	const q = "CTAS_A/B_1" // a '/' in the id must not split its keys
	task := func(n int, owner int32) meta.SQLTask {
		return meta.SQLTask{Query: q, Task: n, Owner: owner, Stage: "aggregate", Partitions: []int32{int32(n)}}
	}
	if _, err := st.ClaimSQLTask(ctx, "query", task(0, 1), 0); !errors.Is(err, meta.ErrSQLTaskChanged) {
		t.Fatalf("claim of a task of a query that does not exist: %v", err)
	}
	if err := st.CreateSQLObject(ctx, meta.SQLObject{Kind: "query", Name: q, Statement: "CREATE TABLE …"}, false); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSQLObject(ctx, meta.SQLObject{Kind: "query", Name: "CTAS_A/B_10", Statement: "CREATE TABLE …"}, false); err != nil {
		t.Fatal(err)
	}
	var tasks []meta.SQLTask
	for n := range 3 {
		got, err := st.ClaimSQLTask(ctx, "query", task(n, int32(n)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revision == 0 {
			t.Fatal("a claimed task has no revision")
		}
		tasks = append(tasks, got)
	}
	other, err := st.ClaimSQLTask(ctx, "query", meta.SQLTask{Query: "CTAS_A/B_10", Task: 0, Owner: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimSQLTask(ctx, "query", task(1, 2), 0); !errors.Is(err, meta.ErrSQLTaskChanged) {
		t.Fatalf("second creation of task 1: %v", err)
	}
	got, err := st.SQLTasks(ctx, q)
	if err != nil || len(got) != 3 || got[1].Owner != 1 || got[2].Partitions[0] != 2 || got[1].Revision != tasks[1].Revision {
		t.Fatalf("tasks %+v, %v", got, err)
	}

	// Two brokers take over task 1 from what they read: one wins.
	won, err := st.ClaimSQLTask(ctx, "query", task(1, 0), got[1].Revision)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimSQLTask(ctx, "query", task(1, 2), got[1].Revision); !errors.Is(err, meta.ErrSQLTaskChanged) {
		t.Fatalf("the losing claim: %v", err)
	}
	all, err := st.AllSQLTasks(ctx)
	if err != nil || len(all) != 2 || len(all[q]) != 3 || all[q][1].Owner != 0 || len(all["CTAS_A/B_10"]) != 1 {
		t.Fatalf("all tasks %+v, %v", all, err)
	}

	// Checkpoints: the owner writes, the broker that lost the task does not.
	c := meta.SQLCheckpoint{Offsets: map[int32]int64{1: 42}, StateObject: "sql/state/x/1/1", Seq: 1}
	if err := st.PutSQLTaskCheckpoint(ctx, won, 1, c); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSQLTaskCheckpoint(ctx, tasks[1], 1, c); !errors.Is(err, meta.ErrSQLTaskChanged) {
		t.Fatalf("checkpoint by the old owner: %v", err)
	}
	whole := meta.SQLCheckpoint{Offsets: map[int32]int64{0: 7}, Seq: 3}
	if err := st.PutSQLTaskCheckpoint(ctx, tasks[0], meta.SQLWholeQuery, whole); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSQLCheckpoint(ctx, "CTAS_A/B_10", meta.SQLCheckpoint{Seq: 9}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := st.SQLTaskCheckpointOf(ctx, q, 1); !ok || err != nil || got.Offsets[1] != 42 {
		t.Fatalf("task checkpoint %+v %v %v", got, ok, err)
	}
	if got, ok, err := st.SQLCheckpointOf(ctx, q); !ok || err != nil || got.Seq != 3 {
		t.Fatalf("the query's own checkpoint %+v %v %v", got, ok, err)
	}
	cks, err := st.SQLCheckpoints(ctx, q)
	if err != nil || len(cks) != 2 || cks[1].StateObject != c.StateObject || cks[meta.SQLWholeQuery].Seq != 3 {
		t.Fatalf("checkpoints %+v, %v", cks, err)
	}

	// Terminating: tasks and checkpoints go, the other query's stay.
	if err := st.DeleteSQLTasks(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSQLCheckpoints(ctx, q); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.SQLTasks(ctx, q); len(got) != 0 {
		t.Fatalf("tasks after delete: %+v", got)
	}
	if cks, _ := st.SQLCheckpoints(ctx, q); len(cks) != 0 {
		t.Fatalf("checkpoints after delete: %+v", cks)
	}
	if err := st.PutSQLTaskCheckpoint(ctx, won, 1, c); !errors.Is(err, meta.ErrSQLTaskChanged) {
		t.Fatalf("checkpoint of a deleted task: %v", err)
	}
	if got, _ := st.SQLTasks(ctx, "CTAS_A/B_10"); len(got) != 1 || got[0].Revision != other.Revision {
		t.Fatalf("the other query's tasks: %+v", got)
	}
	if _, ok, _ := st.SQLCheckpointOf(ctx, "CTAS_A/B_10"); !ok {
		t.Fatal("the other query's checkpoint went too")
	}
}
