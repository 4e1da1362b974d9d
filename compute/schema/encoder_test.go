package schema

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

func TestJSONEncode(t *testing.T) {
	s := must(New(
		Column{Name: "ID", Type: BigInt, Key: true},
		Column{Name: "AMOUNT", Type: must(Decimal(10, 3))},
		Column{Name: "RATE", Type: Double},
		Column{Name: "NAME", Type: String},
		Column{Name: "BLOB", Type: Bytes},
		Column{Name: "TS", Type: Timestamp},
		Column{Name: "D", Type: Date},
		Column{Name: "T", Type: Time},
		Column{Name: "OK", Type: Boolean},
		Column{Name: "TAGS", Type: must(Map(String, Array(Int)))},
		Column{Name: "Mixed \"Case\"", Type: must(Struct(Field{"a", String}, Field{"B", Double}))},
	))
	d := newDecoder(t, s, Format{Kind: JSON, Unwrapped: true}, jsonValue)
	for _, v := range []string{
		`{"amount": 1.5, "rate": 0.1, "name": "tab\tquote\"back\\ctl\u0001é", "blob": "AAE=", "ts": 1700000000000,
		  "d": "2023-11-14", "t": "00:00:01", "ok": true, "tags": {"x": [1, null], "y": null, "z": []},
		  "MIXED \"CASE\"": {"A": "q", "b": 1e-7}}`,
		`{}`,
		`{"rate": "NaN", "amount": -0.0005, "Mixed \"Case\"": {}}`,
		`{"rate": "-Infinity", "amount": "123"}`,
	} {
		if err := d.Append(Record{Key: []byte("42"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	rec := flush(t, d)
	enc := must(NewEncoder(s.Values(), jsonValue))
	for i, want := range []string{
		`{"AMOUNT":1.500,"RATE":0.1,"NAME":"tab\tquote\"back\\ctl\u0001é","BLOB":"AAE=","TS":1700000000000,"D":19675,"T":1000,"OK":true,"TAGS":{"x":[1,null],"y":null,"z":[]},"Mixed \"Case\"":{"a":"q","B":1e-07}}`,
		`{"AMOUNT":null,"RATE":null,"NAME":null,"BLOB":null,"TS":null,"D":null,"T":null,"OK":null,"TAGS":null,"Mixed \"Case\"":null}`,
		`{"AMOUNT":-0.001,"RATE":"NaN","NAME":null,"BLOB":null,"TS":null,"D":null,"T":null,"OK":null,"TAGS":null,"Mixed \"Case\"":{"a":null,"B":null}}`,
		`{"AMOUNT":123.000,"RATE":"-Infinity","NAME":null,"BLOB":null,"TS":null,"D":null,"T":null,"OK":null,"TAGS":null,"Mixed \"Case\"":null}`,
	} {
		got, err := enc.Encode(rec, i, nil)
		if err != nil || string(got) != want {
			t.Errorf("row %d:\n got %s, %v\nwant %s", i, got, err, want)
		}
	}
	key, err := must(NewEncoder(s.Keys(), Format{Kind: JSON, Unwrapped: true})).Encode(rec, 0, nil)
	if err != nil || string(key) != "42" {
		t.Errorf("unwrapped key %q, %v", key, err)
	}
	key, err = must(NewEncoder(s.Keys(), jsonValue)).Encode(rec, 0, nil)
	if err != nil || string(key) != `{"ID":42}` {
		t.Errorf("wrapped key %q, %v", key, err)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"":                `""`,
		"plain":           `"plain"`,
		"\x00\x1f\r\n\t":  `"\u0000\u001f\r\n\t"`,
		"bad\xffutf8\xc3": `"bad\ufffdutf8\ufffd"`,
		"</script>\u2028": "\"</script>\u2028\"",
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEncoderBinding(t *testing.T) {
	mem := checkedAlloc(t)
	as := arrow.NewSchema([]arrow.Field{
		{Name: "X", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "Y", Type: arrow.BinaryTypes.String},
		{Name: "Y", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).Append(5)
	b.Field(1).(*array.StringBuilder).Append("a")
	b.Field(2).(*array.StringBuilder).Append("b")
	rec := b.NewRecord()
	defer rec.Release()

	got, err := must(NewEncoder([]Column{{Name: "X", Type: Int}}, jsonValue)).Encode(rec, 0, nil)
	if err != nil || string(got) != `{"X":5}` {
		t.Errorf("X: %s, %v", got, err)
	}
	for _, tc := range []struct {
		col Column
		row int
		err string
	}{
		{Column{Name: "X", Type: BigInt}, 0, `record field "X" is Arrow int32, not BIGINT`},
		{Column{Name: "Z", Type: Int}, 0, `record has 0 fields named "Z"`},
		{Column{Name: "Y", Type: String}, 0, `record has 2 fields named "Y"`},
		{Column{Name: "X", Type: Int}, 1, "row 1 out of range [0, 1)"},
		{Column{Name: "X", Type: Int}, -1, "row -1 out of range"},
	} {
		_, err := must(NewEncoder([]Column{tc.col}, jsonValue)).Encode(rec, tc.row, nil)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v row %d: %v, want %q", tc.col, tc.row, err, tc.err)
		}
	}
}
