package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// nestedBatch has rows: arr ARRAY<INT>, m MAP<VARCHAR, BIGINT>, s STRUCT<ID INT, NAME VARCHAR>.
//
//	0: [1, 2, 3]   {a: 10, b: 20}  {1, 'x'}
//	1: []          {}              NULL
//	2: NULL        NULL            {3, NULL}
//	3: [NULL, 5]   {b: 7}          {4, 'w'}
func nestedBatch(t *testing.T, mem memory.Allocator) arrow.Record {
	st := Struct(arrow.Field{Name: "ID", Type: Int, Nullable: true}, arrow.Field{Name: "NAME", Type: String, Nullable: true})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "arr", Type: Array(Int), Nullable: true},
		{Name: "m", Type: Map(String, BigInt), Nullable: true},
		{Name: "s", Type: st, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	lb := b.Field(0).(*array.ListBuilder)
	lv := lb.ValueBuilder().(*array.Int32Builder)
	lb.Append(true)
	lv.AppendValues([]int32{1, 2, 3}, nil)
	lb.Append(true)
	lb.AppendNull()
	lb.Append(true)
	lv.AppendNull()
	lv.Append(5)

	mb := b.Field(1).(*array.MapBuilder)
	kb, ib := mb.KeyBuilder().(*array.StringBuilder), mb.ItemBuilder().(*array.Int64Builder)
	mb.Append(true)
	kb.AppendValues([]string{"a", "b"}, nil)
	ib.AppendValues([]int64{10, 20}, nil)
	mb.Append(true)
	mb.AppendNull()
	mb.Append(true)
	kb.Append("b")
	ib.Append(7)

	sb := b.Field(2).(*array.StructBuilder)
	idb, nb := sb.FieldBuilder(0).(*array.Int32Builder), sb.FieldBuilder(1).(*array.StringBuilder)
	sb.Append(true)
	idb.Append(1)
	nb.Append("x")
	sb.AppendNull() // appends NULL children too
	sb.Append(true)
	idb.Append(3)
	nb.AppendNull()
	sb.Append(true)
	idb.Append(4)
	nb.Append("w")
	return b.NewRecord()
}

func TestNested(t *testing.T) {
	ctx, mem := checkedCtx(t)
	full := nestedBatch(t, mem)
	defer full.Release()
	arr := Column(0, "arr", Array(Int))
	m := Column(1, "m", Map(String, BigInt))
	s := Column(2, "s", full.Schema().Field(2).Type)
	sub := func(base Expr, idx Expr) Expr {
		e, err := Subscript(base, idx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	fld := func(name string) Expr {
		e, err := Field(s, name)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cases := []struct {
		e    Expr
		want []string
	}{
		{sub(arr, lit(t, 1, Int)), []string{"1", "NULL", "NULL", "NULL"}},
		{sub(arr, lit(t, int64(3), BigInt)), []string{"3", "NULL", "NULL", "NULL"}},
		{sub(arr, lit(t, -1, Int)), []string{"3", "NULL", "NULL", "5"}},
		{sub(arr, lit(t, -2, Int)), []string{"2", "NULL", "NULL", "NULL"}},
		{sub(arr, lit(t, 0, Int)), []string{"NULL", "NULL", "NULL", "NULL"}},
		{sub(arr, lit(t, 4, Int)), []string{"NULL", "NULL", "NULL", "NULL"}},
		{sub(m, lit(t, "b", String)), []string{"20", "NULL", "NULL", "7"}},
		{sub(m, lit(t, "zz", String)), []string{"NULL", "NULL", "NULL", "NULL"}},
		{fld("ID"), []string{"1", "NULL", "3", "4"}},
		{fld("name"), []string{"x", "NULL", "NULL", "w"}},
		{mustCallT(t, "ARRAY_LENGTH", arr), []string{"3", "0", "NULL", "2"}},
		{mustCallT(t, "ARRAY_CONTAINS", arr, lit(t, 5, Int)), []string{"false", "false", "NULL", "true"}},
		{mustCallT(t, "ARRAY_CONTAINS", arr, lit(t, nil, Int)), []string{"false", "false", "NULL", "true"}},
		{mustCallT(t, "MAP_KEYS", m), []string{"[a, b]", "[]", "NULL", "[b]"}},
		{mustCallT(t, "MAP_VALUES", m), []string{"[10, 20]", "[]", "NULL", "[7]"}},
		{mustCallT(t, "IS NULL", s), []string{"false", "true", "false", "false"}},
		{mustCallT(t, "COALESCE", sub(arr, lit(t, 2, Int)), fld("ID")), []string{"2", "NULL", "3", "5"}},
	}
	for _, slice := range []bool{false, true} {
		rec, lo := full, 0
		if slice {
			rec, lo = full.NewSlice(1, 4), 1
		}
		for _, c := range cases {
			out, err := c.e.Eval(ctx, rec)
			if err != nil {
				t.Fatalf("%s: %v", c.e, err)
			}
			for i := 0; i < out.Len(); i++ {
				if got := show(out, i); got != c.want[lo+i] {
					t.Errorf("%s (slice=%v) row %d: got %s, want %s", c.e, slice, lo+i, got, c.want[lo+i])
				}
			}
			out.Release()
		}
		if slice {
			rec.Release()
		}
	}
	if got := sub(arr, lit(t, 1, Int)).String(); got != "arr[1]" {
		t.Errorf("String() = %s", got)
	}
	if got := fld("ID").String(); got != "s->ID" {
		t.Errorf("String() = %s", got)
	}
	if _, err := Field(s, "nope"); err == nil {
		t.Error("missing field accepted")
	}
}

func TestCaseAndString(t *testing.T) {
	ctx, mem := checkedCtx(t)
	rec, cols := record(t, mem, 4, tv{v: 5, t: Int}, tv{v: "ACME", t: String})
	defer rec.Release()
	amount, merchant := cols[0], cols[1]
	gt := mustCallT(t, ">", amount, lit(t, 100, Int))
	e, err := Case([]When{
		{Cond: gt, Then: lit(t, "big", String)},
		{Cond: mustCallT(t, "=", merchant, lit(t, "ACME", String)), Then: mustCallT(t, "LCASE", merchant)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := evalShow(t, ctx, e, rec); got != "acme" {
		t.Errorf("CASE = %s", got)
	}
	want := "CASE WHEN (c0 > 100) THEN 'big' WHEN (c1 = 'ACME') THEN LCASE(c1) ELSE CAST(NULL AS VARCHAR) END"
	if e.String() != want {
		t.Errorf("String() = %s\nwant       %s", e, want)
	}
	for e, want := range map[Expr]string{
		mustCallT(t, "AND", gt, mustCallT(t, "NOT", mustCallT(t, "IS NULL", merchant))): "((c0 > 100) AND (NOT (c1 IS NULL)))",
		mustCallT(t, "-", amount): "(-c0)",
		mustCallT(t, "BETWEEN", amount, lit(t, 1, Int), lit(t, 9, Int)):            "(c0 BETWEEN 1 AND 9)",
		mustCallT(t, "IN", amount, lit(t, 1, Int), lit(t, 2, Int)):                 "(c0 IN (1, 2))",
		mustCallT(t, "LIKE", merchant, lit(t, "A!%", String), lit(t, "!", String)): "(c1 LIKE 'A!%' ESCAPE '!')",
		mustCallT(t, "+", amount, lit(t, 1.5, Double)):                             "(CAST(c0 AS DOUBLE) + 1.5)",
		mustCallT(t, "ucase", lit(t, "it's", String)):                              "'IT''S'",
	} {
		if e.String() != want {
			t.Errorf("String() = %s, want %s", e, want)
		}
	}
}

func TestFilterProject(t *testing.T) {
	ctx, mem := checkedCtx(t)
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "amount", Type: Double, Nullable: true}, {Name: "merchant", Type: String, Nullable: true},
	}, nil))
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{50, 150, 200, 0, 300}, []bool{true, true, true, false, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"ACME", "ACME", "other", "ACME", ""}, []bool{true, true, true, true, false})
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	amount, merchant := Column(0, "amount", Double), Column(1, "merchant", String)
	pred := mustCallT(t, "AND", mustCallT(t, ">", amount, lit(t, 100, Int)), mustCallT(t, "=", merchant, lit(t, "ACME", String)))
	out, err := Filter(ctx, rec, pred)
	if err != nil {
		t.Fatal(err)
	}
	if out.NumRows() != 1 || out.Column(0).(*array.Float64).Value(0) != 150 {
		t.Errorf("filtered %d rows", out.NumRows())
	}
	out.Release()
	for v, rows := range map[any]int64{true: 5, false: 0, nil: 0} {
		out, err := Filter(ctx, rec, lit(t, v, Boolean))
		if err != nil {
			t.Fatal(err)
		}
		if out.NumRows() != rows {
			t.Errorf("Filter(%v) kept %d rows", v, out.NumRows())
		}
		out.Release()
	}
	if _, err := Filter(ctx, rec, amount); err == nil {
		t.Error("non-boolean predicate accepted")
	}
	proj, err := Project(ctx, rec, []Expr{
		mustCallT(t, "+", mustCallT(t, "*", amount, lit(t, 1.1, Double)), lit(t, 2, Int)),
		mustCallT(t, "UCASE", merchant),
		lit(t, 7, Int),
	}, []string{"x", "m", "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer proj.Release()
	if proj.Schema().Field(0).Name != "x" || proj.NumCols() != 3 || proj.NumRows() != 5 {
		t.Fatalf("schema %s", proj.Schema())
	}
	x, y := 150.0, 1.1
	if got := show(proj.Column(0), 1); got != javaDouble(x*y+2) {
		t.Errorf("x[1] = %s", got)
	}
	if got := show(proj.Column(1), 2); got != "OTHER" {
		t.Errorf("m[2] = %s", got)
	}
	if got := show(proj.Column(2), 4); got != "7" {
		t.Errorf("k[4] = %s", got)
	}
	if _, err := Project(ctx, rec, []Expr{amount}, nil); err == nil {
		t.Error("name count mismatch accepted")
	}
}

// TestFilterNested covers arrow's take fallback (nested and BOOLEAN columns)
// and the gather loops on a sliced batch.
func TestFilterNested(t *testing.T) {
	ctx, mem := checkedCtx(t)
	full := nestedBatch(t, mem)
	defer full.Release()
	rec := full.NewSlice(1, 4)
	defer rec.Release()
	keep := mustCallT(t, "IS NOT NULL", Column(0, "arr", Array(Int))) // rows 1 and 3
	out, err := Filter(ctx, rec, keep)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if out.NumRows() != 2 {
		t.Fatalf("kept %d rows", out.NumRows())
	}
	for i, want := range []string{"[]", "[NULL, 5]"} {
		if got := show(out.Column(0), i); got != want {
			t.Errorf("arr[%d] = %s, want %s", i, got, want)
		}
	}
	id, err := Field(Column(2, "s", rec.Schema().Field(2).Type), "ID")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := Project(ctx, out, []Expr{id, mustCallT(t, "IS NULL", id)}, []string{"id", "flag"})
	if err != nil {
		t.Fatal(err)
	}
	defer flags.Release()
	again, err := Filter(ctx, flags, mustCallT(t, "NOT", Column(1, "flag", Boolean)))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Release()
	if again.NumRows() != 1 || show(again.Column(0), 0) != "4" || show(again.Column(1), 0) != "false" {
		t.Errorf("got %d rows", again.NumRows())
	}
}
