package schema

import (
	"fmt"
	"unicode/utf8"
)

// FormatKind is a ksqlDB serialization format.
type FormatKind uint8

// The supported formats. None is the zero FormatKind.
const (
	None FormatKind = iota
	Kafka
	JSON
	Delimited
)

var formatNames = [...]string{None: "NONE", Kafka: "KAFKA", JSON: "JSON", Delimited: "DELIMITED"}

// String returns the ksqlDB name of k.
func (k FormatKind) String() string {
	if int(k) < len(formatNames) {
		return formatNames[k]
	}
	return fmt.Sprintf("FormatKind(%d)", uint8(k))
}

// Format is the serialization of a record key or value. The zero Format is
// NONE.
type Format struct {
	Kind FormatKind
	// Delimiter separates DELIMITED fields; zero means ','. It must not be
	// '"', '\r' or '\n'.
	Delimiter rune
	// Unwrapped makes a JSON payload the bare value of its single column
	// rather than an object holding it (ksqlDB's WRAP_SINGLE_VALUE=false,
	// which ksqlDB always applies to single-column keys).
	Unwrapped bool
}

// String returns the ksqlDB name of the format.
func (f Format) String() string { return f.Kind.String() }

// delimiter returns the DELIMITED separator, ',' by default.
func (f Format) delimiter() rune {
	if f.Delimiter == 0 {
		return ','
	}
	return f.Delimiter
}

// check reports whether f can serialize cols.
func (f Format) check(cols []Column) error {
	if f.Delimiter != 0 && f.Kind != Delimited {
		return fmt.Errorf("schema: a delimiter needs the DELIMITED format, not %s", f)
	}
	if f.Unwrapped && (f.Kind != JSON || len(cols) != 1) {
		return fmt.Errorf("schema: unwrapped values need the JSON format and exactly one column, not %s with %d", f, len(cols))
	}
	switch f.Kind {
	case None:
		if len(cols) > 0 {
			return fmt.Errorf("schema: format NONE cannot hold column %q", cols[0].Name)
		}
	case Kafka:
		if len(cols) > 1 {
			return fmt.Errorf("schema: format KAFKA holds one column, not %d", len(cols))
		}
		for _, c := range cols {
			switch c.Type.kind {
			case KindInt, KindBigInt, KindDouble, KindString, KindBytes:
			default:
				return fmt.Errorf("schema: format KAFKA cannot hold column %q of type %s", c.Name, c.Type)
			}
		}
	case JSON:
	case Delimited:
		switch d := f.delimiter(); {
		case d == '"' || d == '\r' || d == '\n' || !utf8.ValidRune(d):
			return fmt.Errorf("schema: invalid DELIMITED delimiter %q", d)
		}
		for _, c := range cols {
			if !c.Type.primitive() {
				return fmt.Errorf("schema: format DELIMITED cannot hold column %q of type %s", c.Name, c.Type)
			}
		}
	default:
		return fmt.Errorf("schema: unknown format %s", f)
	}
	return nil
}
