package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

func init() {
	register(&function{minArgs: 2, maxArgs: -1, bind: bindLogic, render: infixN}, "AND", "OR")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindNot, render: prefix}, "NOT")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindIsNull, render: postfix}, "IS NULL", "IS NOT NULL")
	register(&function{minArgs: 1, maxArgs: -1, bind: bindCoalesce}, "COALESCE")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindCoalesce}, "IFNULL")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindNullIf}, "NULLIF")
}

func infixN(name string, a []string) string { return "(" + strings.Join(a, " "+name+" ") + ")" }

func booleans(name string, args []Expr) ([]Expr, error) {
	for i, a := range args {
		if t := a.Type(); t.ID() != arrow.BOOL && !isNull(t) {
			return nil, typeErr(name, i+1, a, "BOOLEAN")
		}
	}
	return coerceAll(args, Boolean)
}

// bindLogic is AND / OR with SQL three-valued (Kleene) logic.
func bindLogic(name string, args []Expr) (*call, error) {
	args, err := booleans(name, args)
	if err != nil {
		return nil, err
	}
	fn := strings.ToLower(name) + "_kleene"
	return &call{args: args, typ: Boolean, kern: func(ctx context.Context, a []compute.Datum, _ int) (compute.Datum, error) {
		acc, err := compute.CallFunction(ctx, fn, nil, a[0], a[1])
		for _, d := range a[2:] {
			if err != nil {
				return nil, err
			}
			next, e := compute.CallFunction(ctx, fn, nil, acc, d)
			acc.Release()
			acc, err = next, e
		}
		return acc, err
	}}, nil
}

func bindNot(name string, args []Expr) (*call, error) {
	args, err := booleans(name, args)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Boolean, kern: arrays(func(ctx context.Context, a []arrow.Array, n int) (arrow.Array, error) {
		mem := compute.GetAllocator(ctx)
		valid, nulls := validity(mem, n, a[0])
		out := newBitmap(mem, n)
		bitutil.InvertBitmap(a[0].Data().Buffers()[1].Bytes(), a[0].Data().Offset(), n, out.Bytes(), 0)
		return build(Boolean, n, valid, nulls, out), nil
	})}, nil
}

func newBitmap(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(int(bitutil.BytesForBits(int64(n))))
	return b
}

// bindIsNull never yields NULL; scalars stay scalars.
func bindIsNull(name string, args []Expr) (*call, error) {
	want := name == "IS NULL"
	return &call{args: args, typ: Boolean, kern: func(ctx context.Context, a []compute.Datum, n int) (compute.Datum, error) {
		if s, ok := a[0].(*compute.ScalarDatum); ok {
			return compute.NewDatum(scalar.NewBooleanScalar(s.Value.IsValid() != want)), nil
		}
		arr := a[0].(*compute.ArrayDatum).MakeArray()
		defer arr.Release()
		mem := compute.GetAllocator(ctx)
		out := newBitmap(mem, n)
		switch {
		case arr.DataType().ID() == arrow.NULL:
			bitutil.SetBitsTo(out.Bytes(), 0, int64(n), want)
		case arr.NullN() == 0:
			bitutil.SetBitsTo(out.Bytes(), 0, int64(n), !want)
		case want:
			bitutil.InvertBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, out.Bytes(), 0)
		default:
			bitutil.CopyBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, out.Bytes(), 0)
		}
		return datumOf(build(Boolean, n, nil, 0, out)), nil
	}}, nil
}

// bindCoalesce returns, per row, the first non-NULL argument.
func bindCoalesce(name string, args []Expr) (*call, error) {
	t, err := commonTypeOf(name, args)
	if err != nil {
		return nil, err
	}
	if args, err = coerceAll(args, t); err != nil {
		return nil, err
	}
	return &call{args: args, typ: t, kern: arrays(func(ctx context.Context, a []arrow.Array, n int) (arrow.Array, error) {
		last := int32(len(a) - 1)
		choice := make([]int32, n)
		for i := range choice {
			choice[i] = last
			for j, arr := range a[:last] {
				if arr.IsValid(i) {
					choice[i] = int32(j)
					break
				}
			}
		}
		return choose(ctx, t, a, choice)
	})}, nil
}

// bindNullIf returns NULL where the arguments are equal, else the first.
func bindNullIf(name string, args []Expr) (*call, error) {
	args, err := comparands(name, args)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: args[0].Type(), kern: arrays(func(ctx context.Context, a []arrow.Array, n int) (arrow.Array, error) {
		eq, err := compareDatums(ctx, "equal", compute.NewDatumWithoutOwning(a[0]), compute.NewDatumWithoutOwning(a[1]), n)
		if err != nil {
			return nil, err
		}
		defer eq.Release()
		eqArr := eq.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
		defer eqArr.Release()
		mem := compute.GetAllocator(ctx)
		keep := allValid(mem, n)
		defer keep.Release()
		for i := range n {
			if eqArr.IsValid(i) && eqArr.Value(i) {
				bitutil.ClearBit(keep.Bytes(), i)
			}
		}
		return maskNulls(mem, a[0], keep.Bytes()), nil
	})}, nil
}

// maskNulls returns a, sharing its buffers, with the rows whose bit in keep
// (n bits from offset 0) is clear turned NULL.
func maskNulls(mem memory.Allocator, a arrow.Array, keep []byte) arrow.Array {
	if a.DataType().ID() == arrow.NULL {
		a.Retain()
		return a
	}
	d := a.Data()
	n, off := d.Len(), d.Offset()
	valid := newBitmap(mem, off+n)
	if a.NullN() > 0 {
		bitutil.BitmapAnd(a.NullBitmapBytes(), keep, int64(off), 0, valid.Bytes(), int64(off), int64(n))
	} else {
		bitutil.CopyBitmap(keep, 0, n, valid.Bytes(), off)
	}
	nulls := n - bitutil.CountSetBits(valid.Bytes(), off, n)
	bufs := append([]*memory.Buffer{valid}, d.Buffers()[1:]...)
	data := array.NewData(d.DataType(), n, bufs, d.Children(), nulls, off)
	valid.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

// choose gathers, per row i, row i of branches[choice[i]]. Branches that no
// row picks may be nil.
func choose(ctx context.Context, t arrow.DataType, branches []arrow.Array, choice []int32) (arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	n := len(choice)
	if n == 0 {
		return array.MakeArrayOfNull(mem, t, 0), nil
	}
	same := true
	for _, c := range choice[1:] {
		if c != choice[0] {
			same = false
			break
		}
	}
	if same {
		b := branches[choice[0]]
		b.Retain()
		return b, nil
	}
	offsets := make([]int64, len(branches))
	parts := make([]arrow.Array, 0, len(branches))
	for j, b := range branches {
		if b != nil {
			offsets[j] = int64(len(parts) * n)
			parts = append(parts, b)
		}
	}
	all, err := array.Concatenate(parts, mem)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	buf, idx := newValues[int64](mem, n)
	for i, c := range choice {
		idx[i] = offsets[c] + int64(i)
	}
	indices := build(BigInt, n, nil, 0, buf)
	defer indices.Release()
	return take(ctx, all, indices)
}

// When is one WHEN cond THEN value arm of a CASE.
type When struct {
	Cond, Then Expr
}

type caseExpr struct {
	whens []When
	els   Expr
	typ   arrow.DataType
}

// Case builds a searched CASE. Conditions must be BOOLEAN; a NULL condition
// does not match. The branches are coerced to their common type; a nil
// elseExpr means ELSE NULL. Only branches some row selects are evaluated.
func Case(whens []When, elseExpr Expr) (Expr, error) {
	if len(whens) == 0 {
		return nil, fmt.Errorf("CASE needs at least one WHEN")
	}
	vals := make([]Expr, 0, len(whens)+1)
	for i, w := range whens {
		if w.Cond == nil || w.Then == nil {
			return nil, fmt.Errorf("CASE: WHEN %d is incomplete", i+1)
		}
		if t := w.Cond.Type(); t.ID() != arrow.BOOL && !isNull(t) {
			return nil, fmt.Errorf("CASE: WHEN condition %s has type %s, expected BOOLEAN", w.Cond, SQLType(t))
		}
		vals = append(vals, w.Then)
	}
	if elseExpr != nil {
		vals = append(vals, elseExpr)
	}
	t, err := commonTypeOf("CASE", vals)
	if err != nil {
		return nil, err
	}
	if elseExpr == nil {
		elseExpr = &literal{sc: scalar.MakeNullScalar(t)}
	}
	c := &caseExpr{typ: t}
	for _, w := range whens {
		cond, err := coerce(w.Cond, Boolean)
		if err != nil {
			return nil, err
		}
		then, err := coerce(w.Then, t)
		if err != nil {
			return nil, err
		}
		c.whens = append(c.whens, When{cond, then})
	}
	if c.els, err = coerce(elseExpr, t); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *caseExpr) Type() arrow.DataType { return c.typ }

func (c *caseExpr) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range c.whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Then)
	}
	fmt.Fprintf(&b, " ELSE %s END", c.els)
	return b.String()
}

func (c *caseExpr) Eval(ctx context.Context, batch arrow.Record) (arrow.Array, error) {
	n := int(batch.NumRows())
	k := int32(len(c.whens))
	choice := make([]int32, n)
	for i := range choice {
		choice[i] = k
	}
	open := n
	for j, w := range c.whens {
		if open == 0 {
			break
		}
		cond, err := evalArray(ctx, w.Cond, batch)
		if err != nil {
			return nil, err
		}
		b := cond.(*array.Boolean)
		for i := range n {
			if choice[i] == k && b.IsValid(i) && b.Value(i) {
				choice[i] = int32(j)
				open--
			}
		}
		cond.Release()
	}
	used := make([]bool, k+1)
	for _, ch := range choice {
		used[ch] = true
	}
	branches := make([]arrow.Array, k+1)
	defer releaseAll(branches)
	for j := range branches {
		if !used[j] {
			continue
		}
		e := c.els
		if j < int(k) {
			e = c.whens[j].Then
		}
		a, err := evalArray(ctx, e, batch)
		if err != nil {
			return nil, err
		}
		branches[j] = a
	}
	return choose(ctx, c.typ, branches, choice)
}
