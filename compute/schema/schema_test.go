package schema

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestSchemaLayout(t *testing.T) {
	s := must(New(
		Column{Name: "V1", Type: Int},
		Column{Name: "K1", Type: String, Key: true},
		Column{Name: "V2", Type: Array(Double)},
		Column{Name: "K2", Type: BigInt, Key: true},
	))
	var names []string
	for _, c := range s.Columns() {
		names = append(names, c.Name)
	}
	if got := names; len(got) != 4 || got[0] != "K1" || got[1] != "K2" || got[2] != "V1" || got[3] != "V2" {
		t.Fatalf("columns %v, want keys first", got)
	}
	if s.Len() != 4 || s.NumKeys() != 2 || len(s.Keys()) != 2 || len(s.Values()) != 2 || s.Values()[0].Name != "V1" {
		t.Fatal("keys/values split")
	}
	as := s.Arrow()
	want := []string{RowTime, RowPartition, RowOffset, "K1", "K2", "V1", "V2"}
	if as.NumFields() != len(want) {
		t.Fatalf("arrow schema %s", as)
	}
	for i, n := range want {
		if as.Field(i).Name != n {
			t.Errorf("field %d = %s, want %s", i, as.Field(i).Name, n)
		}
		if i, ok := s.FieldIndex(n); !ok || as.Field(i).Name != n {
			t.Errorf("FieldIndex(%s) = %d, %v", n, i, ok)
		}
	}
	for i, c := range PseudoColumns() {
		f := as.Field(i)
		if f.Nullable || !arrow.TypeEqual(f.Type, c.Type.Arrow()) || !IsPseudoColumn(f.Name) {
			t.Errorf("pseudo field %v", f)
		}
	}
	if !as.Field(NumPseudoColumns + 3).Nullable {
		t.Error("columns are nullable")
	}
	if i, ok := s.Index("V1"); !ok || i != 2 || s.Column(i).Name != "V1" {
		t.Error("Index(V1)")
	}
	if _, ok := s.Index("v1"); ok {
		t.Error("Index is case-sensitive")
	}
	if _, ok := s.FieldIndex("nope"); ok {
		t.Error("FieldIndex(nope)")
	}
	if s.Arrow() != as {
		t.Error("Arrow() returns one schema")
	}
}

func TestSchemaRejects(t *testing.T) {
	for name, cols := range map[string][]Column{
		"empty name": {{Name: "", Type: Int}},
		"duplicate":  {{Name: "A", Type: Int}, {Name: "A", Type: String, Key: true}},
		"pseudo":     {{Name: RowOffset, Type: BigInt}},
		"zero type":  {{Name: "A"}},
	} {
		if _, err := New(cols...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(Column{Name: "rowtime", Type: Int}); err != nil {
		t.Errorf("quoted lower-case rowtime: %v", err)
	}
}

func TestFormatCheck(t *testing.T) {
	k := []Column{{Name: "K", Type: String}}
	two := []Column{{Name: "A", Type: Int}, {Name: "B", Type: Int}}
	nested := []Column{{Name: "A", Type: Array(Int)}}
	for _, tc := range []struct {
		f    Format
		cols []Column
		ok   bool
	}{
		{Format{}, nil, true},
		{Format{}, k, false},
		{Format{Kind: Kafka}, k, true},
		{Format{Kind: Kafka}, nil, true},
		{Format{Kind: Kafka}, two, false},
		{Format{Kind: Kafka}, []Column{{Name: "B", Type: Boolean}}, false},
		{Format{Kind: JSON}, two, true},
		{Format{Kind: JSON, Unwrapped: true}, k, true},
		{Format{Kind: JSON, Unwrapped: true}, two, false},
		{Format{Kind: Delimited, Unwrapped: true}, k, false},
		{Format{Kind: JSON, Delimiter: ';'}, k, false},
		{Format{Kind: Delimited}, two, true},
		{Format{Kind: Delimited, Delimiter: '\t'}, two, true},
		{Format{Kind: Delimited, Delimiter: '"'}, two, false},
		{Format{Kind: Delimited, Delimiter: '\n'}, two, false},
		{Format{Kind: Delimited}, nested, false},
		{Format{Kind: 9}, k, false},
	} {
		err := tc.f.check(tc.cols)
		if (err == nil) != tc.ok {
			t.Errorf("%+v with %d columns: %v", tc.f, len(tc.cols), err)
		}
		if _, err2 := NewEncoder(tc.cols, tc.f); (err2 == nil) != tc.ok {
			t.Errorf("NewEncoder(%+v): %v", tc.f, err2)
		}
	}
	if (Format{Kind: Delimited}).String() != "DELIMITED" || FormatKind(9).String() != "FormatKind(9)" {
		t.Error("format names")
	}
}
