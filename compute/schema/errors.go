package schema

import "fmt"

// DecodeError reports a Kafka record that could not be decoded; the record
// was not appended.
type DecodeError struct {
	Partition int32
	Offset    int64
	// Column is the top-level column whose value is bad, or "" when the key
	// or value as a whole is (malformed JSON, wrong field count, …).
	Column string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("schema: partition %d offset %d: %v", e.Partition, e.Offset, e.Err)
	}
	return fmt.Sprintf("schema: partition %d offset %d: column %q: %v", e.Partition, e.Offset, e.Column, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// fieldError attributes a decoding error to a column or STRUCT field.
type fieldError struct {
	name string
	err  error
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %v", e.name, e.err) }

func (e *fieldError) Unwrap() error { return e.err }
