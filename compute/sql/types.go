package sql

// TypeKind is the kind of a Type.
type TypeKind int

const (
	TypeBoolean TypeKind = iota
	TypeInt              // INT, INTEGER: 32 bits
	TypeBigInt           // BIGINT: 64 bits
	TypeDouble
	TypeDecimal // DECIMAL(precision, scale)
	TypeString  // STRING, VARCHAR
	TypeTimestamp
	TypeDate
	TypeTime
	TypeBytes
	TypeArray  // ARRAY<T>
	TypeMap    // MAP<K, V>
	TypeStruct // STRUCT<name T, …>
)

var typeNames = [...]string{
	TypeBoolean:   "BOOLEAN",
	TypeInt:       "INTEGER",
	TypeBigInt:    "BIGINT",
	TypeDouble:    "DOUBLE",
	TypeDecimal:   "DECIMAL",
	TypeString:    "STRING",
	TypeTimestamp: "TIMESTAMP",
	TypeDate:      "DATE",
	TypeTime:      "TIME",
	TypeBytes:     "BYTES",
	TypeArray:     "ARRAY",
	TypeMap:       "MAP",
	TypeStruct:    "STRUCT",
}

// String returns the canonical SQL name of the kind.
func (k TypeKind) String() string { return typeNames[k] }

// Type is a SQL type.
//
//   - DECIMAL: Params is [precision, scale].
//   - ARRAY: Children is [element].
//   - MAP: Children is [key, value].
//   - STRUCT: Children are the field types and Names the field names.
//
// The other kinds use none of Params, Children and Names.
type Type struct {
	Pos
	Kind     TypeKind
	Params   []int
	Children []Type
	Names    []string
}
