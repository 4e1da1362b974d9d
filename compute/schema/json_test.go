package schema

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

var jsonValue = Format{Kind: JSON}

// decodeOne decodes value as the JSON value of a one-column schema of type
// typ and returns the column's value.
func decodeOne(t *testing.T, typ Type, value string) (any, error) {
	t.Helper()
	s := must(New(Column{Name: "C", Type: typ}))
	d := newDecoder(t, s, Format{}, jsonValue)
	if err := d.Append(Record{Offset: 7, Value: []byte(value)}); err != nil {
		if d.Len() != 0 {
			t.Fatalf("%s: failed Append left %d rows", value, d.Len())
		}
		return nil, err
	}
	rec := flush(t, d)
	checkConsistent(t, rec, 1)
	return rowOf(rec, 0)[0], nil
}

func TestJSONScalars(t *testing.T) {
	dec := must(Decimal(6, 2))
	for _, tc := range []struct {
		typ  Type
		json string
		want any    // when err is ""
		err  string // substring of the error
	}{
		{Boolean, `true`, true, ""},
		{Boolean, `false`, false, ""},
		{Boolean, `"TRUE"`, true, ""},
		{Boolean, `"False"`, false, ""},
		{Boolean, `"yes"`, nil, `cannot convert "yes" to BOOLEAN`},
		{Boolean, `1`, nil, "cannot convert a JSON number to BOOLEAN"},
		{Int, `42`, int32(42), ""},
		{Int, `-2147483648`, int32(math.MinInt32), ""},
		{Int, `"17"`, int32(17), ""},
		{Int, `1.0`, int32(1), ""},
		{Int, `1e2`, int32(100), ""},
		{Int, `1.5`, nil, "not an integer"},
		{Int, `2147483648`, nil, "out of range"},
		{Int, `"12abc"`, nil, "invalid syntax"},
		{Int, `true`, nil, "cannot convert a JSON true to INT"},
		{Int, `[1]`, nil, "cannot convert a JSON array to INT"},
		{BigInt, `9223372036854775807`, int64(math.MaxInt64), ""},
		{BigInt, `"-9223372036854775808"`, int64(math.MinInt64), ""},
		{BigInt, `9223372036854775808`, nil, "out of range"},
		{Double, `123.45`, 123.45, ""},
		{Double, `-1e-300`, -1e-300, ""},
		{Double, `"2.5"`, 2.5, ""},
		{Double, `"Infinity"`, math.Inf(1), ""},
		{Double, `1e400`, nil, "cannot convert"},
		{Double, `"abc"`, nil, "cannot convert"},
		{Double, `NaN`, nil, "malformed JSON at byte 0: unexpected 'N'"},
		{Double, `-01`, nil, `malformed JSON at byte 0: invalid number "-01"`},
		{dec, `1234.5`, "1234.50", ""},
		{dec, `1234.565`, "1234.57", ""},
		{dec, `-0.125`, "-0.13", ""},
		{dec, `"12.3"`, "12.30", ""},
		{dec, `0.1000000000000000055511151231257827`, "0.10", ""},
		{dec, `9999.995`, nil, "out of range"},
		{dec, `12345`, nil, "out of range"},
		{String, `"héllo\n\"x\""`, "héllo\n\"x\"", ""},
		{String, `12.50`, "12.50", ""},
		{String, `true`, "true", ""},
		{String, `[1, "a\u0001", {"k" : null}]`, `[1,"a\u0001",{"k":null}]`, ""},
		{String, "[ \"x y\" ,\n\t{ } ]", `["x y",{}]`, ""},
		{String, `"\u00e9\/\b\f\n\r\t\\"`, "é/\b\f\n\r\t\\", ""},
		{String, `"\ud800x"`, "\ufffdx", ""},
		{String, `"\ud800\u0041"`, "\ufffdA", ""},
		{String, `"\udc00\ud800"`, "\ufffd\ufffd", ""},
		{String, `{"b":[],"a":{}}`, `{"b":[],"a":{}}`, ""},
		{String, `"\ud83d\ude00"`, "😀", ""},
		{String, "\"\xff\"", nil, "invalid UTF-8"},
		{Timestamp, `1700000000000`, int64(1700000000000), ""},
		{Timestamp, `-5`, int64(-5), ""},
		{Timestamp, `"2023-11-14T22:13:20.000Z"`, int64(1700000000000), ""},
		{Timestamp, `"1700000000000"`, int64(1700000000000), ""},
		{Timestamp, `"yesterday"`, nil, "invalid syntax"},
		{Timestamp, `1.5`, nil, "not an integer"},
		{Date, `19675`, int32(19675), ""},
		{Date, `"2023-11-14"`, int32(19675), ""},
		{Date, `"2023-02-30"`, nil, "invalid syntax"},
		{Date, `3000000000`, nil, "out of range"},
		{Time, `45000000`, int32(45000000), ""},
		{Time, `"12:30:00.250"`, int32(45000250), ""},
		{Time, `86400000`, nil, "out of range"},
		{Time, `-1`, nil, "out of range"},
		{Bytes, `"AQID"`, []byte{1, 2, 3}, ""},
		{Bytes, `""`, []byte{}, ""},
		{Bytes, `"AQI"`, nil, "illegal base64"},
		{Bytes, `123`, nil, "cannot convert a JSON number to BYTES"},
		{Int, `null`, nil, ""},
		{Bytes, `null`, nil, ""},
	} {
		got, err := decodeOne(t, tc.typ, tc.json)
		if strings.HasPrefix(tc.json, "{") { // an object is not a wrapped single value
			got, err = nil, nil
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s: got %v, %v; want error %q", tc.typ, tc.json, got, err, tc.err)
			}
			continue
		}
		if (err != nil || !reflect.DeepEqual(got, tc.want)) && !strings.HasPrefix(tc.json, "{") {
			t.Errorf("%s %s = %#v, %v; want %#v", tc.typ, tc.json, got, err, tc.want)
		}
		// The same value wrapped in an object, under a key in another case.
		got, err = decodeOne(t, tc.typ, `{"c": `+tc.json+`}`)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s {\"c\": %s} = %#v, %v; want %#v", tc.typ, tc.json, got, err, tc.want)
		}
	}
}

func TestJSONNested(t *testing.T) {
	inner := must(Struct(Field{"X", Int}, Field{"Y", Array(String)}))
	typ := must(Map(String, Array(inner)))
	got, err := decodeOne(t, typ, `{"C": {"a": [{"x": 1, "y": ["p", null]}, null, {}], "b": null, "c": [], "a": [{"X": 2}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]any{
		{"b", nil},
		{"c", []any{}},
		{"a", []any{map[string]any{"X": int32(2), "Y": nil}}}, // the last "a" wins
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}

	_, err = decodeOne(t, typ, `{"C": {"a": [{"x": 1}, {"y": [true, 7, {}]}], "b": [{"y": "z"}]}}`)
	if want := `key "b": element 0: field "Y": cannot convert a JSON string to ARRAY<STRING>`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("nested error: %v, want %q", err, want)
	}
}

func TestJSONNestedErrorPath(t *testing.T) {
	inner := must(Struct(Field{"X", Int}))
	_, err := decodeOne(t, Array(inner), `{"C": [{"X": 1}, {"X": "b"}]}`)
	var de *DecodeError
	if !errors.As(err, &de) || de.Column != "C" || de.Offset != 7 {
		t.Fatalf("error %#v", err)
	}
	if want := `element 1: field "X": cannot convert "b" to INT`; !strings.Contains(de.Err.Error(), want) {
		t.Errorf("error %q, want %q", de.Err, want)
	}
}

func TestJSONManyMapKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"C":{`)
	for i := range 100 {
		b.WriteString(`"k` + string(rune('a'+i%40)) + `":` + string(rune('0'+i%10)) + `,`)
	}
	b.WriteString(`"end":1}}`)
	got, err := decodeOne(t, must(Map(String, Int)), b.String())
	if err != nil {
		t.Fatal(err)
	}
	entries := got.([][2]any)
	if len(entries) != 41 {
		t.Fatalf("%d entries, want 41 distinct keys", len(entries))
	}
	for _, e := range entries {
		if e[0] == "ka" && e[1] != int32(0) { // keys ka at i = 0, 40, 80: the last has 80%10 = 0
			t.Errorf("ka = %v", e[1])
		}
		if e[0] == "kb" && e[1] != int32(1) {
			t.Errorf("kb = %v", e[1])
		}
	}
}

func TestJSONFieldMatching(t *testing.T) {
	s := must(New(
		Column{Name: "ID", Type: Int},
		Column{Name: "name", Type: String},
		Column{Name: "Name", Type: String},
		Column{Name: "AMOUNT", Type: Double},
	))
	for _, tc := range []struct {
		json string
		want []any
	}{
		{`{"id": 1, "NAME": "x", "Amount": 2.5}`, []any{int32(1), "x", "x", 2.5}},
		{`{"Name": "exact", "NAME": "folded"}`, []any{nil, "folded", "exact", nil}},
		{`{"name": "a", "Name": "b"}`, []any{nil, "a", "b", nil}},
		{`{"NAME": "f", "name": "a"}`, []any{nil, "a", "a", nil}},
		{`{"NAME": "f", "Name": "b", "name": "a"}`, []any{nil, "a", "b", nil}},
		{`{"id": 1, "id": 2, "ID": 3, "id": 4}`, []any{int32(3), nil, nil, nil}},
		{`{"unknown": [1, {"deep": true}], "id": null}`, []any{nil, nil, nil, nil}},
		{`{}`, []any{nil, nil, nil, nil}},
		{`null`, []any{nil, nil, nil, nil}},
		{`{"\u0069d": 5}`, []any{int32(5), nil, nil, nil}},
	} {
		d := newDecoder(t, s, Format{}, jsonValue)
		if err := d.Append(Record{Value: []byte(tc.json)}); err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if got := rowOf(flush(t, d), 0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.json, got, tc.want)
		}
	}
}

func TestJSONWrapping(t *testing.T) {
	one := must(New(Column{Name: "S", Type: must(Struct(Field{"A", Int}))}))
	two := must(New(Column{Name: "A", Type: Int}, Column{Name: "B", Type: Int}))
	for _, tc := range []struct {
		s     *Schema
		f     Format
		json  string
		want  []any
		error string
	}{
		{one, jsonValue, `{"S": {"A": 1}}`, []any{map[string]any{"A": int32(1)}}, ""},
		{one, jsonValue, `{"A": 1}`, []any{nil}, ""}, // an object is never a wrapped single value
		{one, Format{Kind: JSON, Unwrapped: true}, `{"A": 1}`, []any{map[string]any{"A": int32(1)}}, ""},
		{one, Format{Kind: JSON, Unwrapped: true}, `null`, []any{nil}, ""},
		{one, jsonValue, `[1]`, nil, "cannot convert a JSON array to STRUCT"},
		{two, jsonValue, `5`, nil, "a JSON number is not an object of 2 columns"},
		{two, jsonValue, `{"a": 1`, nil, "malformed JSON"},
		{two, jsonValue, ``, nil, "malformed JSON"},
		{two, jsonValue, `{"a": 1} x`, nil, "malformed JSON"},
	} {
		d := newDecoder(t, tc.s, Format{}, tc.f)
		err := d.Append(Record{Value: []byte(tc.json)})
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%s: %v, want error %q", tc.json, err, tc.error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if got := rowOf(flush(t, d), 0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.json, got, tc.want)
		}
	}
}

func TestJSONKeysAndTombstones(t *testing.T) {
	s := must(New(
		Column{Name: "K", Type: String, Key: true},
		Column{Name: "V", Type: BigInt},
		Column{Name: "W", Type: String},
	))
	d := newDecoder(t, s, Format{Kind: JSON, Unwrapped: true}, jsonValue)
	for _, r := range []Record{
		{Partition: 3, Offset: 10, Timestamp: 1700000000000, Key: []byte(`"k1"`), Value: []byte(`{"v": 1, "w": "x"}`)},
		{Partition: 3, Offset: 11, Timestamp: 1700000000001, Key: []byte(`"k2"`)},         // tombstone
		{Partition: 4, Offset: 12, Timestamp: 1700000000002, Value: []byte(`{"V": "2"}`)}, // no key
	} {
		if err := d.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	rec := flush(t, d)
	checkConsistent(t, rec, 3)
	want := [][]any{{"k1", int64(1), "x"}, {"k2", nil, nil}, {nil, int64(2), nil}}
	for i := range want {
		if got := rowOf(rec, i); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d = %#v, want %#v", i, got, want[i])
		}
	}
	if got := []any{valueOf(rec.Column(RowTimeIndex), 2), valueOf(rec.Column(RowPartitionIndex), 2), valueOf(rec.Column(RowOffsetIndex), 2)}; !reflect.DeepEqual(got, []any{int64(1700000000002), int32(4), int64(12)}) {
		t.Errorf("pseudo columns %v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	s := must(New(
		Column{Name: "K", Type: Int, Key: true},
		Column{Name: "A", Type: Int},
		Column{Name: "B", Type: Array(Int)},
	))
	d := newDecoder(t, s, Format{Kind: Kafka}, jsonValue)
	good := Record{Partition: 1, Offset: 1, Key: []byte{0, 0, 0, 9}, Value: []byte(`{"a": 1, "b": [1, 2]}`)}
	for _, tc := range []struct {
		rec    Record
		column string
		err    string
	}{
		{Record{Partition: 2, Offset: 100, Key: []byte{1}, Value: good.Value}, "K", "KAFKA INT takes 4 bytes, not 1"},
		{Record{Partition: 2, Offset: 101, Key: good.Key, Value: []byte(`{"a": 1, "b": [1, "x"]}`)}, "B", `element 1: cannot convert "x" to INT`},
		{Record{Partition: 2, Offset: 102, Key: good.Key, Value: []byte(`{"a": 1, "b": [1,`)}, "", "value: malformed JSON"},
		{Record{Partition: 2, Offset: 103, Key: good.Key, Value: []byte(`{"a": 1.5}`)}, "A", "not an integer"},
	} {
		if err := d.Append(good); err != nil {
			t.Fatal(err)
		}
		err := d.Append(tc.rec)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("offset %d: %v is not a *DecodeError", tc.rec.Offset, err)
		}
		if de.Partition != 2 || de.Offset != tc.rec.Offset || de.Column != tc.column || !strings.Contains(de.Error(), tc.err) {
			t.Errorf("offset %d: %#v (%v), want column %q, error %q", tc.rec.Offset, de, de, tc.column, tc.err)
		}
	}
	if err := d.Append(good); err != nil {
		t.Fatal(err)
	}
	rec := flush(t, d)
	checkConsistent(t, rec, 5)
	for i := range 5 {
		if got := rowOf(rec, i); !reflect.DeepEqual(got, []any{int32(9), int32(1), []any{int32(1), int32(2)}}) {
			t.Errorf("row %d = %v", i, got)
		}
	}
	if d.Len() != 0 {
		t.Errorf("Len after Flush = %d", d.Len())
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	e := &DecodeError{Partition: 1, Offset: 2, Column: "X", Err: errOverflow}
	if got := e.Error(); got != `schema: partition 1 offset 2: column "X": out of range` || !errors.Is(e, errOverflow) {
		t.Errorf("%s", got)
	}
	e.Column = ""
	if got := e.Error(); got != `schema: partition 1 offset 2: out of range` {
		t.Errorf("%s", got)
	}
}

func TestNewDecoderRejects(t *testing.T) {
	s := must(New(Column{Name: "K", Type: Array(Int), Key: true}, Column{Name: "V", Type: Int}))
	mem := checkedAlloc(t)
	if _, err := NewDecoder(s, Format{Kind: Kafka}, jsonValue, mem); err == nil || !strings.HasPrefix(err.Error(), "key:") {
		t.Errorf("KAFKA ARRAY key: %v", err)
	}
	if _, err := NewDecoder(s, jsonValue, Format{}, mem); err == nil || !strings.HasPrefix(err.Error(), "value:") {
		t.Errorf("NONE value: %v", err)
	}
}

func TestJSONSyntax(t *testing.T) {
	s := must(New(Column{Name: "A", Type: Int}, Column{Name: "B", Type: String}))
	deep := strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) // in an object
	for _, tc := range []struct {
		json string
		err  string // "" if it decodes
	}{
		{`{"a": 1, "b": "x"}`, ""},
		{` {"a" : 1 , "unknown": {"x": [1, 2.5e-3, true, false, null, "\"q\""]}} `, ""},
		{`{"unknown": ` + deep + `}`, ""},
		{`{"unknown": [` + deep + `]}`, "nested deeper than 1000"},
		{`{"unknown": 01}`, `invalid number "01"`},
		{`{"unknown": 1.}`, `invalid number "1."`},
		{`{"unknown": +1}`, `invalid number "+1"`},
		{"{\"unknown\": \"\x01\"}", "control character 0x1 in string"},
		{`{"unknown": "\q"}`, `invalid escape \q`},
		{`{"unknown": "\u12"}`, `invalid \u escape`},
		{`{"unknown": "abc`, "unterminated string"},
		{`{"unknown": "ab\"`, "unterminated string"},
		{`{"unknown": tru}`, "invalid literal"},
		{`{"unknown": nul`, "invalid literal"},
		{`{"a": 1,}`, "expected a string key"},
		{`{"a" 1}`, "expected ':'"},
		{`{"a": 1 "b": 2}`, "expected ',' or '}'"},
		{`{"unknown": [1 2]}`, "expected ',' or ']'"},
		{`{"unknown": [1,]}`, "unexpected ']'"},
		{`{"a": 1}}`, "data after the JSON value"},
		{`{"a": 1} {}`, "data after the JSON value"},
		{`{'a': 1}`, "expected a string key"},
		{`{"a": `, "unexpected end"},
		{`   `, "unexpected end"},
		{`x`, "unexpected 'x'"},
	} {
		d := newDecoder(t, s, Format{}, jsonValue)
		err := d.Append(Record{Value: []byte(tc.json)})
		var de *DecodeError
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%.60s: %v", tc.json, err)
		case tc.err == "":
		case !errors.As(err, &de) || !strings.Contains(err.Error(), tc.err):
			t.Errorf("%.60s: %v, want error %q", tc.json, err, tc.err)
		case de.Column != "" || !strings.Contains(err.Error(), "value: malformed JSON at byte"):
			t.Errorf("%.60s: a syntax error is not a column's: %v", tc.json, err)
		}
	}
}

func TestDecoderFlushes(t *testing.T) {
	s := must(New(Column{Name: "K", Type: String, Key: true}, Column{Name: "V", Type: Bytes}))
	d := newDecoder(t, s, Format{Kind: JSON, Unwrapped: true}, jsonValue)
	if err := d.Append(Record{Key: []byte(`"k`), Value: []byte(`{}`)}); err == nil || err.(*DecodeError).Column != "" || !strings.Contains(err.Error(), "key: malformed JSON") {
		t.Errorf("bad key: %v", err)
	}
	for batch := range 3 {
		for i := range 100 * batch {
			if err := d.Append(Record{Offset: int64(i), Key: fmt.Appendf(nil, `"k%d"`, i), Value: []byte(`{"v": "AAEC"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		rec := flush(t, d)
		checkConsistent(t, rec, 100*batch)
		for i := range 100 * batch {
			if got := rowOf(rec, i); !reflect.DeepEqual(got, []any{fmt.Sprintf("k%d", i), []byte{0, 1, 2}}) {
				t.Fatalf("batch %d row %d = %v", batch, i, got)
			}
		}
	}
}
