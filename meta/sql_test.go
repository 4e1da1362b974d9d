package meta_test

import (
	"errors"
	"testing"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestSQLObjects(t *testing.T) {
	st := metatest.Shared(t)
	ctx := t.Context()
	a := meta.SQLObject{Kind: "source", Name: "PAGE/VIEWS", Statement: "CREATE STREAM `PAGE/VIEWS` (A INT) WITH (KAFKA_TOPIC='pv');"}
	if err := st.CreateSQLObject(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSQLObject(ctx, a, false); !errors.Is(err, meta.ErrSQLObjectExists) {
		t.Fatalf("second create: %v, want ErrSQLObjectExists", err)
	}
	a.Statement = "CREATE OR REPLACE STREAM …"
	if err := st.CreateSQLObject(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSQLObject(ctx, meta.SQLObject{Kind: "query", Name: "CSAS_X_1", Statement: "CREATE STREAM X AS …"}, false); err != nil {
		t.Fatal(err)
	}
	got, err := st.SQLObjects(ctx, "source")
	if err != nil || len(got) != 1 || got[0].Name != "PAGE/VIEWS" || got[0].Statement != a.Statement {
		t.Fatalf("sources %+v, %v", got, err)
	}
	if ok, err := st.DeleteSQLObject(ctx, "source", "PAGE/VIEWS"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, _ := st.DeleteSQLObject(ctx, "source", "PAGE/VIEWS"); ok {
		t.Fatal("deleted twice")
	}
	if got, _ := st.SQLObjects(ctx, "query"); len(got) != 1 {
		t.Fatalf("queries %+v", got)
	}

	if _, ok, err := st.SQLCheckpointOf(ctx, "CSAS_X_1"); ok || err != nil {
		t.Fatalf("checkpoint before any: %v %v", ok, err)
	}
	c := meta.SQLCheckpoint{Offsets: map[int32]int64{0: 42, 3: 7}, StateObject: "sql/state/CSAS_X_1/1", Seq: 1}
	if err := st.PutSQLCheckpoint(ctx, "CSAS_X_1", c); err != nil {
		t.Fatal(err)
	}
	got2, ok, err := st.SQLCheckpointOf(ctx, "CSAS_X_1")
	if !ok || err != nil || got2.Offsets[3] != 7 || got2.StateObject != c.StateObject {
		t.Fatalf("checkpoint %+v %v %v", got2, ok, err)
	}
	if err := st.DeleteSQLCheckpoint(ctx, "CSAS_X_1"); err != nil {
		t.Fatal(err)
	}
}
