package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind identifies a SQL type.
type Kind uint8

// The SQL type kinds. KindInvalid is the kind of the zero Type.
const (
	KindInvalid Kind = iota
	KindBoolean
	KindInt
	KindBigInt
	KindDouble
	KindDecimal
	KindString
	KindTimestamp
	KindDate
	KindTime
	KindBytes
	KindArray
	KindMap
	KindStruct
)

var kindNames = [...]string{
	KindInvalid:   "INVALID",
	KindBoolean:   "BOOLEAN",
	KindInt:       "INT",
	KindBigInt:    "BIGINT",
	KindDouble:    "DOUBLE",
	KindDecimal:   "DECIMAL",
	KindString:    "STRING",
	KindTimestamp: "TIMESTAMP",
	KindDate:      "DATE",
	KindTime:      "TIME",
	KindBytes:     "BYTES",
	KindArray:     "ARRAY",
	KindMap:       "MAP",
	KindStruct:    "STRUCT",
}

// String returns the SQL keyword of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Type is an immutable SQL column type. The zero Type is invalid; build types
// with the package variables (Boolean, Int, …) and constructors (Decimal,
// Array, Map, Struct). Compare types with Equal.
type Type struct {
	kind      Kind
	precision uint8
	scale     uint8
	elem      *Type       // ARRAY element, MAP value
	st        *structInfo // STRUCT fields
}

// Field is one field of a STRUCT type.
type Field struct {
	Name string
	Type Type
}

type structInfo struct {
	fields []Field
	names  nameIndex
}

// The primitive types. VARCHAR is an alias of String.
var (
	Boolean   = Type{kind: KindBoolean}
	Int       = Type{kind: KindInt}
	BigInt    = Type{kind: KindBigInt}
	Double    = Type{kind: KindDouble}
	String    = Type{kind: KindString}
	Timestamp = Type{kind: KindTimestamp}
	Date      = Type{kind: KindDate}
	Time      = Type{kind: KindTime}
	Bytes     = Type{kind: KindBytes}
)

// MaxDecimalPrecision is the largest DECIMAL precision (Arrow decimal128).
const MaxDecimalPrecision = 38

// ErrInvalidType reports a type constructor called with arguments that do
// not make a valid SQL type.
var ErrInvalidType = errors.New("invalid type")

// Decimal returns DECIMAL(precision, scale); 1 ≤ precision ≤ 38 and
// 0 ≤ scale ≤ precision.
func Decimal(precision, scale int) (Type, error) {
	if precision < 1 || precision > MaxDecimalPrecision {
		return Type{}, fmt.Errorf("%w: DECIMAL precision %d is not in [1, %d]", ErrInvalidType, precision, MaxDecimalPrecision)
	}
	if scale < 0 || scale > precision {
		return Type{}, fmt.Errorf("%w: DECIMAL scale %d is not in [0, %d]", ErrInvalidType, scale, precision)
	}
	return Type{kind: KindDecimal, precision: uint8(precision), scale: uint8(scale)}, nil
}

// Array returns ARRAY<elem>. It panics if elem is the zero Type.
func Array(elem Type) Type {
	if !elem.Valid() {
		panic("schema: ARRAY of an invalid element type")
	}
	return Type{kind: KindArray, elem: &elem}
}

// Map returns MAP<key, value>. Like ksqlDB, keys must be STRING.
func Map(key, value Type) (Type, error) {
	if key.kind != KindString {
		return Type{}, fmt.Errorf("%w: MAP keys must be STRING, not %s", ErrInvalidType, key)
	}
	if !value.Valid() {
		return Type{}, fmt.Errorf("%w: MAP of an invalid value type", ErrInvalidType)
	}
	return Type{kind: KindMap, elem: &value}, nil
}

// Struct returns STRUCT<fields…>. Field names must be non-empty and unique
// (case-sensitive); types must be valid. The fields are copied.
func Struct(fields ...Field) (Type, error) {
	names := make([]string, len(fields))
	seen := make(map[string]bool, len(fields))
	for i, f := range fields {
		switch {
		case f.Name == "":
			return Type{}, fmt.Errorf("%w: STRUCT field %d has no name", ErrInvalidType, i)
		case seen[f.Name]:
			return Type{}, fmt.Errorf("%w: duplicate STRUCT field %q", ErrInvalidType, f.Name)
		case !f.Type.Valid():
			return Type{}, fmt.Errorf("%w: STRUCT field %q has an invalid type", ErrInvalidType, f.Name)
		}
		seen[f.Name] = true
		names[i] = f.Name
	}
	st := &structInfo{fields: append([]Field(nil), fields...), names: newNameIndex(names)}
	return Type{kind: KindStruct, st: st}, nil
}

// Kind returns the kind of t.
func (t Type) Kind() Kind { return t.kind }

// Valid reports whether t is a type, not the zero Type.
func (t Type) Valid() bool { return t.kind != KindInvalid }

// Precision returns the precision of a DECIMAL, 0 for other types.
func (t Type) Precision() int { return int(t.precision) }

// Scale returns the scale of a DECIMAL, 0 for other types.
func (t Type) Scale() int { return int(t.scale) }

// Elem returns the element type of an ARRAY or the value type of a MAP (whose
// key type is always STRING), and the zero Type for other kinds.
func (t Type) Elem() Type {
	if t.elem == nil {
		return Type{}
	}
	return *t.elem
}

// NumFields returns the number of fields of a STRUCT, 0 for other types.
func (t Type) NumFields() int {
	if t.st == nil {
		return 0
	}
	return len(t.st.fields)
}

// Field returns field i of a STRUCT.
func (t Type) Field(i int) Field { return t.st.fields[i] }

// FieldIndex returns the index of the STRUCT field named exactly name.
func (t Type) FieldIndex(name string) (int, bool) {
	if t.st == nil {
		return 0, false
	}
	i, ok := t.st.names.exact[name]
	return i, ok
}

// primitive reports whether t is neither ARRAY, MAP nor STRUCT.
func (t Type) primitive() bool {
	return t.kind != KindArray && t.kind != KindMap && t.kind != KindStruct
}

// Equal reports whether t and u are the same type.
func (t Type) Equal(u Type) bool {
	if t.kind != u.kind || t.precision != u.precision || t.scale != u.scale {
		return false
	}
	switch t.kind {
	case KindArray, KindMap:
		return t.elem.Equal(*u.elem)
	case KindStruct:
		if len(t.st.fields) != len(u.st.fields) {
			return false
		}
		for i, f := range t.st.fields {
			g := u.st.fields[i]
			if f.Name != g.Name || !f.Type.Equal(g.Type) {
				return false
			}
		}
	}
	return true
}

// String returns t in ksqlDB syntax, e.g. DECIMAL(10, 2), ARRAY<STRING>,
// MAP<STRING, INT> or STRUCT<`a` INT, `b` STRING>.
func (t Type) String() string {
	var b strings.Builder
	t.writeTo(&b)
	return b.String()
}

func (t Type) writeTo(b *strings.Builder) {
	switch t.kind {
	case KindDecimal:
		fmt.Fprintf(b, "DECIMAL(%d, %d)", t.precision, t.scale)
	case KindArray:
		b.WriteString("ARRAY<")
		t.elem.writeTo(b)
		b.WriteByte('>')
	case KindMap:
		b.WriteString("MAP<STRING, ")
		t.elem.writeTo(b)
		b.WriteByte('>')
	case KindStruct:
		b.WriteString("STRUCT<")
		for i, f := range t.st.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdentifier(f.Name))
			b.WriteByte(' ')
			f.Type.writeTo(b)
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.kind.String())
	}
}

// QuoteIdentifier returns name between backquotes, doubling any backquote in
// it, as ksqlDB quotes identifiers.
func QuoteIdentifier(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
