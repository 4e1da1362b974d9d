package sql

import "math"

var simpleTypes = map[string]TypeKind{
	"BOOLEAN": TypeBoolean, "INT": TypeInt, "INTEGER": TypeInt, "BIGINT": TypeBigInt,
	"DOUBLE": TypeDouble, "STRING": TypeString, "VARCHAR": TypeString,
	"TIMESTAMP": TypeTimestamp, "DATE": TypeDate, "TIME": TypeTime, "BYTES": TypeBytes,
}

const validTypes = "BOOLEAN, INT, INTEGER, BIGINT, DOUBLE, DECIMAL(p, s), STRING, VARCHAR, " +
	"TIMESTAMP, DATE, TIME, BYTES, ARRAY<T>, MAP<K, V> and STRUCT<name T, …>"

func (p *parser) typ() Type {
	p.enter()
	defer p.leave()
	t := p.tok()
	if t.kind != tokIdent {
		panic(p.unexpected("a type (" + validTypes + ")"))
	}
	p.next()
	typ := Type{Pos: t.pos}
	if kind, ok := simpleTypes[t.text]; ok {
		typ.Kind = kind
		return typ
	}
	switch t.text {
	case "DECIMAL":
		typ.Kind = TypeDecimal
		p.expectOp("(", "after DECIMAL: write DECIMAL(precision, scale)")
		prec := int(p.integer("for the DECIMAL precision", math.MaxInt32))
		p.expectOp(",", "and a scale after the DECIMAL precision")
		scalePos := p.tok().pos
		scale := int(p.integer("for the DECIMAL scale", math.MaxInt32))
		p.expectOp(")", "after the DECIMAL scale")
		if prec < 1 {
			panic(errorAt(t.pos, "DECIMAL precision must be at least 1"))
		}
		if scale > prec {
			panic(errorAt(scalePos, "DECIMAL scale %d exceeds the precision %d", scale, prec))
		}
		typ.Params = []int{prec, scale}
	case "ARRAY":
		typ.Kind = TypeArray
		p.expectOp("<", "after ARRAY")
		typ.Children = []Type{p.typ()}
		p.expectOp(">", "to close ARRAY<")
	case "MAP":
		typ.Kind = TypeMap
		p.expectOp("<", "after MAP")
		key := p.typ()
		p.expectOp(",", "between the key and value types of MAP")
		typ.Children = []Type{key, p.typ()}
		p.expectOp(">", "to close MAP<")
	case "STRUCT":
		typ.Kind = TypeStruct
		if p.acceptOp("<>") { // STRUCT<> lexes as STRUCT followed by the <> operator
			return typ
		}
		p.expectOp("<", "after STRUCT")
		p.commaList(">", true, "in STRUCT<…>", func() {
			name, _ := p.ident("a field name")
			typ.Names = append(typ.Names, name)
			typ.Children = append(typ.Children, p.typ())
		})
	default:
		panic(errorAt(t.pos, "unknown type '%s': valid types are %s", t.raw, validTypes))
	}
	return typ
}
