package exec

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Rows print as "ROWTIME ROWPARTITION ROWOFFSET A_K2 B_K2": K2 is a label,
// partition 0 is the left input, 1 the right, offsets count per input.
var joinLabelCols = []string{"ROWTIME", "ROWPARTITION", "ROWOFFSET", "A_K2", "B_K2"}

func TestStreamStreamJoin(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name                 string
		typ                  JoinType
		before, after, grace time.Duration
		twoKeys              bool
		cols                 []string
		steps                []joinStep
		late                 int64
	}{{
		name: "inner WITHIN 10", typ: InnerJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, 1, "a"))),
			jStep(jR(jrs(105, 1, "x")), "105 1 0 a x"),
			jStep(jR(jrs(111, 1, "y"))),
			jStep(jR(jrs(90, 1, "z")), "100 1 2 a z"),
			jStep(jL(jls(95, 1, "b"), jls(100, 2, "c")), "105 0 1 b x", "95 0 1 b z"),
			jStep(jR(jrs(100, 1, "w"), jrs(100, 2, "v")), "100 1 3 a w", "100 1 3 b w", "100 1 4 c v"),
		},
	}, {
		name: "inner WITHIN (5, 20)", typ: InnerJoin, before: 5 * ms, after: 20 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, 1, "a"))),
			jStep(jR(jrs(94, 1, "r94"))),
			jStep(jR(jrs(95, 1, "r95")), "100 1 1 a r95"),
			jStep(jR(jrs(120, 1, "r120")), "120 1 2 a r120"),
			jStep(jR(jrs(121, 1, "r121"))),
			jStep(jL(jls(125, 1, "b")), "125 0 1 b r120", "125 0 1 b r121"),
			jStep(jL(jls(90, 1, "c")), "94 0 2 c r94", "95 0 2 c r95"),
		},
	}, {
		name: "left: unmatched rows at Advance", typ: LeftJoin, before: 10 * ms, after: 10 * ms, grace: 5 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, 1, "a"), jls(100, 2, "b"))),
			jStep(jR(jrs(105, 1, "x")), "105 1 0 a x"),
			jStep(jAdv(124)),
			jStep(jAdv(125)),
			jStep(jAdv(126), "100 0 1 b NULL"),
			jStep(jR(jrs(110, 1, "late"))), // 110+10+5 < 126
			jStep(jR(jrs(112, 1, "y"))),
			jStep(jAdv(1000)),
		},
		late: 1,
	}, {
		name: "right", typ: RightJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jR(jrs(100, 1, "x"), jrs(100, 2, "y"))),
			jStep(jL(jls(95, 2, "a"), jls(150, 1, "b")), "100 0 0 a y"),
			jStep(jAdv(120)),
			jStep(jAdv(121), "100 1 0 NULL x"),
			jStep(jAdv(1000)),
		},
	}, {
		name: "full outer", typ: FullOuterJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, 1, "a"), jls(101, 3, "b"))),
			jStep(jR(jrs(100, 2, "x"), jrs(100, 1, "y")), "100 1 1 a y"),
			jStep(jAdv(1000), "101 0 1 b NULL", "100 1 0 NULL x"),
		},
	}, {
		name: "disorder within grace", typ: InnerJoin, before: 10 * ms, after: 10 * ms, grace: 50 * ms,
		steps: []joinStep{
			jStep(jAdv(200)),
			jStep(jL(jls(150, 1, "a"))), // 150+10+50 >= 200
			jStep(jR(jrs(145, 1, "x")), "150 1 0 a x"),
			jStep(jL(jls(139, 1, "late"))), // 139+10+50 < 200
			jStep(jR(jrs(140, 1, "y")), "150 1 1 a y"),
			jStep(jAdv(221)), // a is final: 150+10+10+50 < 221
			jStep(jR(jrs(161, 1, "z"))),
		},
		late: 1,
	}, {
		name: "late rows on both sides", typ: LeftJoin,
		steps: []joinStep{
			jStep(jAdv(100)),
			jStep(jL(jls(99, 1, "late"), jls(100, 1, "b"))),
			jStep(jR(jrs(99, 1, "late"), jrs(100, 1, "y")), "100 1 1 b y"),
			jStep(jAdv(math.MaxInt64)),
		},
		late: 2,
	}, {
		name: "NULL keys, left", typ: LeftJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, nil, "a")), "100 0 0 a NULL"),
			jStep(jR(jrs(100, nil, "x"))),
			jStep(jAdv(1000)),
		},
	}, {
		name: "NULL keys, inner", typ: InnerJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, nil, "a"))),
			jStep(jR(jrs(100, nil, "x"))),
			jStep(jAdv(1000)),
		},
	}, {
		name: "NULL keys, full", typ: FullOuterJoin, before: 10 * ms, after: 10 * ms,
		steps: []joinStep{
			jStep(jL(jls(100, nil, "a")), "100 0 0 a NULL"),
			jStep(jR(jrs(101, nil, "x")), "101 1 0 NULL x"),
			jStep(jAdv(1000)),
		},
	}, {
		name: "two key columns", typ: LeftJoin, before: 10 * ms, after: 10 * ms, twoKeys: true,
		cols: []string{"ROWOFFSET", "A_K1", "A_K2", "B_K1", "B_K2"},
		steps: []joinStep{
			jStep(jL(jls(100, 1, "a"), jls(100, 1, nil), jls(100, 2, "a")), "1 1 NULL NULL NULL"),
			jStep(jR(jrs(100, 1, "a"), jrs(100, 1, "b"), jrs(100, 2, "a"), jrs(100, 1, nil), jrs(100, nil, "a")), "0 1 a 1 a", "2 2 a 2 a"),
			jStep(jAdv(1000)),
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, mem := joinTestCtx(t)
			cfg := joinTestConfig(c.typ, false, false, c.twoKeys)
			cfg.Before, cfg.After, cfg.Grace = c.before, c.after, c.grace
			sink := &joinSink{t: t, cols: c.cols}
			if sink.cols == nil {
				sink.cols = joinLabelCols
			}
			j, err := NewStreamStreamJoin(cfg, sink.emit)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			sink.schema = j.Schema()
			joinRunSteps(t, ctx, mem, j, &cfg, sink, c.steps)
			if got := j.LateRecords(); got != c.late {
				t.Errorf("LateRecords() = %d, want %d", got, c.late)
			}
		})
	}
}

func TestStreamStreamJoinSchema(t *testing.T) {
	ctx, mem := joinTestCtx(t)
	cfg := joinTestConfig(LeftJoin, false, false, false)
	j, err := NewStreamStreamJoin(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	want := "ROWTIME timestamp[ms, tz=UTC] false, ROWPARTITION int32 false, ROWOFFSET int64 false, " +
		"A_K1 int64 true, A_K2 utf8 true, A_V float64 true, A_L list<item: int32, nullable> true, " +
		"B_K1 int64 true, B_K2 utf8 true, B_W bool true"
	if got := joinSchemaString(j.Schema()); got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	rec := joinBatch(t, mem, cfg.Left, []jrow{jls(1, 1, "a")})
	defer rec.Release()
	if err := j.Right().Push(ctx, rec); err == nil {
		t.Error("left batch pushed into the right port: no error")
	}
}

func joinSchemaString(sc *arrow.Schema) string {
	s := ""
	for i, f := range sc.Fields() {
		if i > 0 {
			s += ", "
		}
		s += f.Name + " " + f.Type.String() + " " + map[bool]string{true: "true", false: "false"}[f.Nullable]
	}
	return s
}

func TestJoinConfigErrors(t *testing.T) {
	joinTestCtx(t) // nothing is allocated
	base := func() JoinConfig { return joinTestConfig(InnerJoin, false, false, false) }
	cases := []struct {
		name   string
		mutate func(*JoinConfig)
		check  func(error) bool
	}{
		{"key types differ", func(c *JoinConfig) { c.RightKeys = []int{4} }, func(err error) bool {
			var ke *JoinKeyError
			return errors.As(err, &ke) && ke.Pair == 0 && ke.Left.ID() == arrow.INT64 && ke.Right.ID() == arrow.STRING
		}},
		{"nested key", func(c *JoinConfig) {
			c.Right = c.Left
			c.LeftKeys, c.RightKeys = []int{6}, []int{6}
			c.RightPrefix = "B_"
		}, func(err error) bool { var ke *JoinKeyError; return errors.As(err, &ke) }},
		{"bad join type", func(c *JoinConfig) { c.Type = 7 }, func(err error) bool { return errors.Is(err, ErrJoinType) }},
		{"no keys", func(c *JoinConfig) { c.LeftKeys, c.RightKeys = nil, nil }, nil},
		{"key count", func(c *JoinConfig) { c.LeftKeys = []int{3, 4} }, nil},
		{"key out of range", func(c *JoinConfig) { c.LeftKeys = []int{9} }, nil},
		{"negative window", func(c *JoinConfig) { c.Before = -1 }, nil},
		{"time column type", func(c *JoinConfig) { c.LeftTime = 4 }, nil},
		{"same prefixes", func(c *JoinConfig) { c.RightPrefix = c.LeftPrefix }, nil},
		{"no pseudo columns", func(c *JoinConfig) {
			c.Left = arrow.NewSchema(c.Left.Fields()[1:], nil)
			c.LeftKeys, c.RightKeys = []int{2}, []int{3}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.mutate(&cfg)
			_, err := NewStreamStreamJoin(cfg, nil)
			if err == nil || c.check != nil && !c.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
	for _, typ := range []JoinType{RightJoin, FullOuterJoin} {
		if _, err := NewStreamTableJoin(joinTestConfig(typ, false, true, false), nil); !errors.Is(err, ErrJoinType) {
			t.Errorf("%v stream-table join: err = %v", typ, err)
		}
	}
	cfg := joinTestConfig(InnerJoin, true, true, false)
	cfg.Grace = time.Second
	if _, err := NewTableTableJoin(cfg, nil); err == nil {
		t.Errorf("table-table join with a grace period: no error")
	}
}

// TestStreamStreamJoinPorts drives the ports from two goroutines and closes
// them one by one.
func TestStreamStreamJoinPorts(t *testing.T) {
	ctx, mem := joinTestCtx(t)
	cfg := joinTestConfig(InnerJoin, false, false, false)
	cfg.Before, cfg.After = time.Hour, time.Hour
	var n int64
	j, err := NewStreamStreamJoin(cfg, func(_ context.Context, rec arrow.Record) error {
		n += rec.NumRows() // under the join's lock
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const batches, rows = 50, 10
	var wg sync.WaitGroup
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				op := joinOp{side: joinSide(s)}
				for i := range rows {
					r := jls(int64(b), i, "x")
					if op.side == joinRight {
						r = jrs(int64(b), i, "y")
					}
					op.rows = append(op.rows, r)
				}
				op.run(t, ctx, mem, j, &cfg)
			}
		}()
	}
	wg.Wait()
	if want := int64(batches * batches * rows); n != want {
		t.Errorf("%d rows joined, want %d", n, want)
	}
	if err := j.Left().Close(); err != nil {
		t.Fatal(err)
	}
	rec := joinBatch(t, mem, cfg.Left, []jrow{jls(1, 1, "x")})
	defer rec.Release()
	if err := j.Left().Push(ctx, rec); err == nil {
		t.Error("push into a closed port: no error")
	}
	if err := j.Right().Close(); err != nil { // releases the state
		t.Fatal(err)
	}
	if err := j.Right().Advance(ctx, 5); err == nil {
		t.Error("advance of a closed join: no error")
	}
}
