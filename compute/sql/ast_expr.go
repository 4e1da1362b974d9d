package sql

// Expr is an expression.
type Expr interface {
	Node
	exprNode()
}

// LiteralKind is the kind of a Literal.
type LiteralKind int

const (
	StringLit  LiteralKind = iota
	IntegerLit             // 42
	DecimalLit             // 4.2, .5: digits with a '.' (ksqlDB's DECIMAL literal)
	DoubleLit              // 1e3, 1.5E-2: digits with an exponent
	BooleanLit
	NullLit
)

// String returns the SQL type name of the kind of literal, such as DECIMAL.
func (k LiteralKind) String() string {
	return [...]string{StringLit: "STRING", IntegerLit: "INTEGER", DecimalLit: "DECIMAL",
		DoubleLit: "DOUBLE", BooleanLit: "BOOLEAN", NullLit: "NULL"}[k]
}

// Literal is a constant. Text is the unescaped value of a string, the
// source text of a number (so DECIMAL precision is exact; range checks are
// the engine's), TRUE or FALSE, or NULL.
type Literal struct {
	Pos
	Kind LiteralKind
	Text string
}

// ColumnRef is a column, optionally qualified by its source or alias:
// col or src.col. Pseudo columns (ROWTIME, WINDOWSTART, …) are ordinary
// column references.
type ColumnRef struct {
	Pos
	Source string // "" when unqualified
	Name   string
}

// BinaryOp is the operator of a BinaryExpr.
type BinaryOp int

const (
	OpOr BinaryOp = iota
	OpAnd
	OpEq
	OpNe // != or <>
	OpLt
	OpLe
	OpGt
	OpGe
	OpIsDistinctFrom
	OpIsNotDistinctFrom
	OpConcat // ||
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
)

// Operator precedences, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCompare // comparisons, IS, BETWEEN, IN, LIKE
	precAdd     // + - ||
	precMul     // * / %
	precUnary   // unary - +
	precPostfix // a[i], s->f
	precPrimary
)

var binaryOps = [...]struct {
	text string
	prec int
}{
	OpOr:                {"OR", precOr},
	OpAnd:               {"AND", precAnd},
	OpEq:                {"=", precCompare},
	OpNe:                {"<>", precCompare},
	OpLt:                {"<", precCompare},
	OpLe:                {"<=", precCompare},
	OpGt:                {">", precCompare},
	OpGe:                {">=", precCompare},
	OpIsDistinctFrom:    {"IS DISTINCT FROM", precCompare},
	OpIsNotDistinctFrom: {"IS NOT DISTINCT FROM", precCompare},
	OpConcat:            {"||", precAdd},
	OpAdd:               {"+", precAdd},
	OpSub:               {"-", precAdd},
	OpMul:               {"*", precMul},
	OpDiv:               {"/", precMul},
	OpMod:               {"%", precMul},
}

// String returns the operator as written in SQL.
func (op BinaryOp) String() string { return binaryOps[op].text }

// BinaryExpr is Left Op Right; its Pos is the operator's.
type BinaryExpr struct {
	Pos
	Op          BinaryOp
	Left, Right Expr
}

// UnaryOp is the operator of a UnaryExpr.
type UnaryOp int

const (
	OpNot UnaryOp = iota
	OpNeg
	OpPlus
)

var unaryOps = [...]string{OpNot: "NOT", OpNeg: "-", OpPlus: "+"}

// String returns the operator as written in SQL.
func (op UnaryOp) String() string { return unaryOps[op] }

// UnaryExpr is NOT X, -X or +X.
type UnaryExpr struct {
	Pos
	Op UnaryOp
	X  Expr
}

// Call is a function call: name(args), name(*) or name(DISTINCT args).
type Call struct {
	Pos
	Name     string
	Args     []Expr
	Star     bool // COUNT(*): no Args
	Distinct bool
}

// Case is CASE [Operand] WHEN … THEN … [ELSE …] END. With an Operand
// (the simple form) each When.Cond is a value compared with it.
type Case struct {
	Pos
	Operand Expr // nil in the searched form
	Whens   []When
	Else    Expr // nil when absent
}

// When is a WHEN … THEN … branch of a Case.
type When struct {
	Pos
	Cond, Result Expr
}

// Cast is CAST(X AS Type).
type Cast struct {
	Pos
	X    Expr
	Type Type
}

// Subscript is X[Index], for arrays (1-based, as ksqlDB) and maps; its Pos
// is the '['.
type Subscript struct {
	Pos
	X, Index Expr
}

// FieldAccess is the struct dereference X->Field; its Pos is the '->'.
type FieldAccess struct {
	Pos
	X     Expr
	Field string
}

// Between is X [NOT] BETWEEN Low AND High; its Pos is the keyword's.
type Between struct {
	Pos
	X, Low, High Expr
	Not          bool
}

// InList is X [NOT] IN (List…); its Pos is the keyword's.
type InList struct {
	Pos
	X    Expr
	List []Expr
	Not  bool
}

// Like is X [NOT] LIKE Pattern [ESCAPE 'c']; its Pos is the keyword's.
type Like struct {
	Pos
	X, Pattern Expr
	Escape     string // one character, or "" when absent
	Not        bool
}

// IsNull is X IS [NOT] NULL; its Pos is the IS.
type IsNull struct {
	Pos
	X   Expr
	Not bool
}

// ArrayCtor is ARRAY[elems…].
type ArrayCtor struct {
	Pos
	Elems []Expr
}

// MapCtor is MAP(key := value, …).
type MapCtor struct {
	Pos
	Entries []MapEntry
}

// MapEntry is key := value in a MapCtor; its position is its Key's.
type MapEntry struct {
	Key, Value Expr
}

// StructCtor is STRUCT(name := value, …).
type StructCtor struct {
	Pos
	Fields []FieldValue
}

// FieldValue is name := value in a StructCtor.
type FieldValue struct {
	Pos
	Name  string
	Value Expr
}

func (*Literal) exprNode()     {}
func (*ColumnRef) exprNode()   {}
func (*BinaryExpr) exprNode()  {}
func (*UnaryExpr) exprNode()   {}
func (*Call) exprNode()        {}
func (*Case) exprNode()        {}
func (*Cast) exprNode()        {}
func (*Subscript) exprNode()   {}
func (*FieldAccess) exprNode() {}
func (*Between) exprNode()     {}
func (*InList) exprNode()      {}
func (*Like) exprNode()        {}
func (*IsNull) exprNode()      {}
func (*ArrayCtor) exprNode()   {}
func (*MapCtor) exprNode()     {}
func (*StructCtor) exprNode()  {}
