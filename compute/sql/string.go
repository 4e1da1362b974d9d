package sql

// String methods: each returns the node as canonical SQL.

func (s *CreateSource) String() string   { return toSQL(s) }
func (s *CreateAsSelect) String() string { return toSQL(s) }
func (s *InsertInto) String() string     { return toSQL(s) }
func (s *InsertValues) String() string   { return toSQL(s) }
func (s *Query) String() string          { return toSQL(s) }
func (s *Show) String() string           { return toSQL(s) }
func (s *Describe) String() string       { return toSQL(s) }
func (s *Drop) String() string           { return toSQL(s) }
func (s *Terminate) String() string      { return toSQL(s) }
func (s *Explain) String() string        { return toSQL(s) }
func (s *SetProperty) String() string    { return toSQL(s) }
func (s *UnsetProperty) String() string  { return toSQL(s) }
func (s *Print) String() string          { return toSQL(s) }

func (c ColumnDef) String() string  { return toSQL(c) }
func (p Property) String() string   { return toSQL(p) }
func (s SelectItem) String() string { return toSQL(s) }
func (r Relation) String() string   { return toSQL(r) }
func (j Join) String() string       { return toSQL(j) }
func (w Within) String() string     { return toSQL(w) }
func (w Window) String() string     { return toSQL(w) }
func (s TimeSpan) String() string   { return toSQL(s) }
func (t Type) String() string       { return toSQL(t) }

func (e *Literal) String() string     { return toSQL(e) }
func (e *ColumnRef) String() string   { return toSQL(e) }
func (e *BinaryExpr) String() string  { return toSQL(e) }
func (e *UnaryExpr) String() string   { return toSQL(e) }
func (e *Call) String() string        { return toSQL(e) }
func (e *Case) String() string        { return toSQL(e) }
func (e When) String() string         { return toSQL(e) }
func (e *Cast) String() string        { return toSQL(e) }
func (e *Subscript) String() string   { return toSQL(e) }
func (e *FieldAccess) String() string { return toSQL(e) }
func (e *Between) String() string     { return toSQL(e) }
func (e *InList) String() string      { return toSQL(e) }
func (e *Like) String() string        { return toSQL(e) }
func (e *IsNull) String() string      { return toSQL(e) }
func (e *ArrayCtor) String() string   { return toSQL(e) }
func (e *MapCtor) String() string     { return toSQL(e) }
func (e MapEntry) String() string     { return toSQL(e) }
func (e *StructCtor) String() string  { return toSQL(e) }
func (e FieldValue) String() string   { return toSQL(e) }
