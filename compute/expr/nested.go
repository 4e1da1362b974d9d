package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

func init() {
	register(&function{minArgs: 2, maxArgs: 2, bind: bindSubscript, render: func(_ string, a []string) string {
		return a[0] + "[" + a[1] + "]"
	}, noFold: true}, "SUBSCRIPT")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindArrayLength}, "ARRAY_LENGTH")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindArrayContains}, "ARRAY_CONTAINS")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindMapPart(true), noFold: true}, "MAP_KEYS")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindMapPart(false), noFold: true}, "MAP_VALUES")
}

// Subscript is base[index]: ARRAY elements are 1-based, a negative index
// counts from the end and an out-of-range index gives NULL; MAP looks up a key
// (NULL when absent).
func Subscript(base, index Expr) (Expr, error) { return Call("SUBSCRIPT", base, index) }

func bindSubscript(name string, args []Expr) (*call, error) {
	base, idx := args[0], args[1]
	switch t := base.Type().(type) {
	case *arrow.ListType:
		args, err := checkArgs(name, args, t, BigInt)
		if err != nil {
			return nil, err
		}
		return &call{args: args, typ: t.Elem(), kern: takeFrom(func(a []arg, i int) int64 {
			l := a[0].arr.(*array.List)
			k, ok := intGetter(a[1])(i)
			if !ok || l.IsNull(i) {
				return -1
			}
			start, end := l.ValueOffsets(i)
			switch {
			case k > 0 && start+k-1 < end:
				return start + k - 1
			case k < 0 && end+k >= start:
				return end + k
			}
			return -1
		}, func(a arrow.Array) arrow.Array { return a.(*array.List).ListValues() })}, nil
	case *arrow.MapType:
		if !isNull(idx.Type()) && !arrow.TypeEqual(idx.Type(), t.KeyType()) {
			var err error
			if idx, err = coerce(idx, t.KeyType()); err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
		}
		args, err := checkArgs(name, []Expr{base, idx}, t, t.KeyType())
		if err != nil {
			return nil, err
		}
		kt := t.KeyType().ID()
		if kt != arrow.STRING && kt != arrow.INT32 && kt != arrow.INT64 {
			return nil, fmt.Errorf("subscript on MAP with %s keys is not supported", SQLType(t.KeyType()))
		}
		return &call{args: args, typ: t.ItemType(), kern: takeFrom(func(a []arg, i int) int64 {
			m := a[0].arr.(*array.Map)
			if m.IsNull(i) {
				return -1
			}
			start, end := m.ValueOffsets(i)
			return findKey(m.Keys(), a[1], i, start, end)
		}, func(a arrow.Array) arrow.Array { return a.(*array.Map).Items() })}, nil
	}
	return nil, fmt.Errorf("cannot subscript a value of type %s", SQLType(base.Type()))
}

// findKey returns the position of row i's key among keys[start:end], or -1.
func findKey(keys arrow.Array, key arg, i int, start, end int64) int64 {
	if keys.DataType().ID() == arrow.STRING {
		k, ok := strGetter(key)(i)
		ks := keys.(*array.String)
		for j := start; ok && j < end; j++ {
			if ks.IsValid(int(j)) && ks.Value(int(j)) == k {
				return j
			}
		}
		return -1
	}
	k, ok := intGetter(key)(i)
	kv := intGetter(arg{arr: keys})
	for j := start; ok && j < end; j++ {
		if v, valid := kv(int(j)); valid && v == k {
			return j
		}
	}
	return -1
}

// takeFrom gathers from a child array (of the first argument) at the
// position pick returns per row, -1 meaning NULL.
func takeFrom(pick func(a []arg, i int) int64, child func(arrow.Array) arrow.Array) kernel {
	return func(ctx context.Context, ds []compute.Datum, n int) (compute.Datum, error) {
		mem := compute.GetAllocator(ctx)
		base, err := materialize(ctx, ds[0], n)
		if err != nil {
			return nil, err
		}
		defer base.Release()
		a := []arg{{arr: base}, {}}
		switch d := ds[1].(type) {
		case *compute.ScalarDatum:
			a[1].sc = d.Value
		case *compute.ArrayDatum:
			a[1].arr = d.MakeArray()
			defer a[1].arr.Release()
		}
		idx := numResult(mem, BigInt, n, func(i int) (int64, bool) {
			p := pick(a, i)
			return p, p >= 0
		})
		defer idx.Release()
		out, err := take(ctx, child(base), idx)
		if err != nil {
			return nil, err
		}
		return datumOf(out), nil
	}
}

func listArg(name string, e Expr) (*arrow.ListType, error) {
	t, ok := e.Type().(*arrow.ListType)
	if !ok {
		return nil, typeErr(name, 1, e, "ARRAY")
	}
	return t, nil
}

func bindArrayLength(name string, args []Expr) (*call, error) {
	if _, err := listArg(name, args[0]); err != nil {
		return nil, err
	}
	return &call{args: args, typ: Int, kern: unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
		l := a.(*array.List)
		return numResult(mem, Int, l.Len(), func(i int) (int32, bool) {
			s, e := l.ValueOffsets(i)
			return int32(e - s), l.IsValid(i)
		})
	})}, nil
}

// bindArrayContains is ARRAY_CONTAINS(array, value); a NULL value matches a
// NULL element.
func bindArrayContains(name string, args []Expr) (*call, error) {
	t, err := listArg(name, args[0])
	if err != nil {
		return nil, err
	}
	et := t.Elem()
	if et.ID() != arrow.STRING && !isIntegral(et) && et.ID() != arrow.FLOAT64 && et.ID() != arrow.BOOL {
		return nil, fmt.Errorf("function %s: elements of type %s are not supported", name, SQLType(et))
	}
	v, err := coerce(args[1], et)
	if err != nil {
		return nil, err
	}
	return &call{args: []Expr{args[0], v}, typ: Boolean, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		l := a[0].arr.(*array.List)
		vals := l.ListValues()
		eq := elemEquals(vals, a[1])
		return boolResult(mem, n, func(i int) (bool, bool) {
			if l.IsNull(i) {
				return false, false
			}
			s, e := l.ValueOffsets(i)
			for j := s; j < e; j++ {
				if eq(int(j), i) {
					return true, true
				}
			}
			return false, true
		})
	})}, nil
}

// elemEquals compares element j of vals with row i of v (NULL equals NULL).
func elemEquals(vals arrow.Array, v arg) func(j, i int) bool {
	same := func(vj, vi bool) (bool, bool) { return vj == vi, vj && vi }
	switch vals.DataType().ID() {
	case arrow.STRING:
		g, es := strGetter(v), vals.(*array.String)
		return func(j, i int) bool {
			x, ok := g(i)
			if eq, both := same(es.IsValid(j), ok); !both {
				return eq
			}
			return es.Value(j) == x
		}
	case arrow.FLOAT64:
		g, es := floatOf(v), vals.(*array.Float64)
		return func(j, i int) bool {
			x, ok := g(i)
			if eq, both := same(es.IsValid(j), ok); !both {
				return eq
			}
			return es.Value(j) == x
		}
	case arrow.BOOL:
		g, es := boolOf(v), vals.(*array.Boolean)
		return func(j, i int) bool {
			x, ok := g(i)
			if eq, both := same(es.IsValid(j), ok); !both {
				return eq
			}
			return es.Value(j) == x
		}
	}
	g, es := intGetter(v), intGetter(arg{arr: vals})
	return func(j, i int) bool {
		x, ok := g(i)
		y, okj := es(j)
		if eq, both := same(okj, ok); !both {
			return eq
		}
		return x == y
	}
}

func floatOf(v arg) getter[float64] {
	if v.sc != nil {
		f, ok := 0.0, v.sc.IsValid()
		if ok {
			f = v.sc.(*scalar.Float64).Value
		}
		return func(int) (float64, bool) { return f, ok }
	}
	a := v.arr.(*array.Float64)
	return func(i int) (float64, bool) { return a.Value(i), a.IsValid(i) }
}

func boolOf(v arg) getter[bool] {
	if v.sc != nil {
		b, ok := false, v.sc.IsValid()
		if ok {
			b = v.sc.(*scalar.Boolean).Value
		}
		return func(int) (bool, bool) { return b, ok }
	}
	a := v.arr.(*array.Boolean)
	return func(i int) (bool, bool) { return a.Value(i), a.IsValid(i) }
}

// bindMapPart is MAP_KEYS / MAP_VALUES, sharing the map's buffers.
func bindMapPart(keys bool) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		t, ok := args[0].Type().(*arrow.MapType)
		if !ok {
			return nil, typeErr(name, 1, args[0], "MAP")
		}
		elem := t.ItemType()
		if keys {
			elem = t.KeyType()
		}
		out := Array(elem)
		return &call{args: args, typ: out, kern: unaryKernel(func(_ memory.Allocator, a arrow.Array) arrow.Array {
			m := a.(*array.Map)
			child := m.Items()
			if keys {
				child = m.Keys()
			}
			d := m.Data()
			// Map entries share the list layout; swap the entries struct for one of its fields.
			data := array.NewData(out, d.Len(), d.Buffers()[:2], []arrow.ArrayData{child.Data()}, d.NullN(), d.Offset())
			defer data.Release()
			return array.MakeFromData(data)
		})}, nil
	}
}

// field reads a STRUCT field.
type field struct {
	base  Expr
	index int
	name  string
	typ   arrow.DataType
}

// Field accesses a STRUCT field (base->name in ksqlDB); the name matches
// exactly, or else case-insensitively. A NULL struct gives NULL.
func Field(base Expr, name string) (Expr, error) {
	st, ok := base.Type().(*arrow.StructType)
	if !ok {
		return nil, fmt.Errorf("cannot access field %s of %s: not a STRUCT", name, SQLType(base.Type()))
	}
	idx, ok := st.FieldIdx(name)
	if !ok {
		idx = -1
		for i, f := range st.Fields() {
			if strings.EqualFold(f.Name, name) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("STRUCT %s has no field %s", SQLType(st), name)
		}
	}
	return &field{base: base, index: idx, name: st.Field(idx).Name, typ: st.Field(idx).Type}, nil
}

func (f *field) Type() arrow.DataType { return f.typ }
func (f *field) String() string       { return f.base.String() + "->" + f.name }

func (f *field) Eval(ctx context.Context, batch arrow.Record) (arrow.Array, error) {
	a, err := evalArray(ctx, f.base, batch)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	s := a.(*array.Struct)
	child := s.Field(f.index)
	if s.NullN() == 0 {
		child.Retain()
		return child, nil
	}
	mem := compute.GetAllocator(ctx)
	valid, _ := validity(mem, s.Len(), s)
	defer valid.Release()
	return maskNulls(mem, child, valid.Bytes()), nil
}
