package schema

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
)

func fuzzSchema() *Schema {
	nested := must(Struct(
		Field{"x", Int},
		Field{"y", Array(must(Struct(Field{"z", Double})))},
	))
	return must(New(
		Column{Name: "K", Type: String, Key: true},
		Column{Name: "ID", Type: BigInt},
		Column{Name: "NAME", Type: String},
		Column{Name: "AMOUNT", Type: must(Decimal(10, 2))},
		Column{Name: "RATE", Type: Double},
		Column{Name: "OK", Type: Boolean},
		Column{Name: "TS", Type: Timestamp},
		Column{Name: "D", Type: Date},
		Column{Name: "T", Type: Time},
		Column{Name: "B", Type: Bytes},
		Column{Name: "TAGS", Type: Array(String)},
		Column{Name: "ATTRS", Type: must(Map(String, Int))},
		Column{Name: "NESTED", Type: nested},
	))
}

// FuzzDecodeJSON appends each line of the input as a record (KAFKA STRING
// key and JSON value both the line) and checks that the batch holds exactly
// the records Append accepted, with consistent columns, and that encoding
// them and decoding again gives the same batch.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"id": 1, "name": "a", "amount": 12.345, "rate": 0.5, "ok": true, "ts": "2023-11-14T22:13:20Z", "d": 19675, "t": "12:00:00", "b": "AQI=", "tags": ["x", null], "attrs": {"k": 1}, "nested": {"x": 1, "y": [{"z": 1e3}, null]}}`,
		`{"id": "7", "amount": "1e-2", "rate": "NaN"}` + "\n" + `{"id": 1.5}` + "\n" + `{"tags": [1, true, {}]}`,
		`{"nested": {"y": [{"z": "x"}]}}` + "\n" + `{"ID": 9}`,
		`[1, 2]` + "\n" + `null` + "\n" + `{"attrs": {"a": 1, "a": 2}}`,
		"{\"name\": \"\xff\"}\n{}",
		`{"d": "2023-02-29"}` + "\n" + `{"t": 86400000}` + "\n" + `{"b": "!!"}`,
		`{"amount": 99999999.995}` + "\n" + `{"id": 9223372036854775808}`,
		`{"a":` + "\n" + `{"id": 1} trailing`,
	} {
		f.Add([]byte(seed))
	}
	s := fuzzSchema()
	keyFormat, valueFormat := Format{Kind: Kafka}, Format{Kind: JSON}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := checkedAlloc(t)
		d := must(NewDecoder(s, keyFormat, valueFormat, mem))
		defer d.Release()
		appended := 0
		for i, line := range bytes.Split(data, []byte("\n")) {
			err := d.Append(Record{Offset: int64(i), Key: line, Value: line})
			if err == nil {
				appended++
			} else if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("line %d: %T is not a *DecodeError: %v", i, err, err)
			}
			if d.Len() != appended {
				t.Fatalf("line %d: Len() = %d after %d successful Appends", i, d.Len(), appended)
			}
		}
		rec := d.Flush()
		defer rec.Release()
		checkConsistent(t, rec, appended)

		keyEnc, valueEnc := must(NewEncoder(s.Keys(), keyFormat)), must(NewEncoder(s.Values(), valueFormat))
		again := must(NewDecoder(s, keyFormat, valueFormat, mem))
		defer again.Release()
		for i := range appended {
			key := must(keyEnc.Encode(rec, i, nil))
			value := must(valueEnc.Encode(rec, i, nil))
			if err := again.Append(Record{Offset: int64(i), Key: key, Value: value}); err != nil {
				t.Fatalf("row %d %v: re-encoded as %q: %v", i, rowOf(rec, i), value, err)
			}
		}
		rec2 := again.Flush()
		defer rec2.Release()
		for c := NumPseudoColumns; c < int(rec.NumCols()); c++ {
			if !array.ApproxEqual(rec.Column(c), rec2.Column(c), array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Fatalf("column %s differs after re-encoding", rec.ColumnName(c))
			}
		}
	})
}
