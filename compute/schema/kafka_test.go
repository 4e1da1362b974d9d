package schema

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestKafkaFormat(t *testing.T) {
	kafka := Format{Kind: Kafka}
	for _, tc := range []struct {
		typ   Type
		bytes []byte
		want  any
		err   string
	}{
		{Int, []byte{0xff, 0xff, 0xff, 0xfe}, int32(-2), ""},
		{Int, []byte{0, 0, 1}, nil, "KAFKA INT takes 4 bytes, not 3"},
		{BigInt, []byte{0, 0, 0, 0, 0, 0, 1, 0}, int64(256), ""},
		{BigInt, []byte{1, 2, 3, 4}, nil, "KAFKA BIGINT takes 8 bytes, not 4"},
		{Double, []byte{0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}, math.Pi, ""},
		{Double, []byte{}, nil, "KAFKA DOUBLE takes 8 bytes, not 0"},
		{String, []byte("héllo"), "héllo", ""},
		{String, []byte{}, "", ""},
		{String, []byte{0xc3}, nil, "invalid UTF-8"},
		{Bytes, []byte{0, 0xff}, []byte{0, 0xff}, ""},
		{Bytes, []byte{}, []byte{}, ""},
		{Int, nil, nil, ""},
		{String, nil, nil, ""},
	} {
		s := must(New(Column{Name: "K", Type: tc.typ, Key: true}))
		d := newDecoder(t, s, kafka, Format{})
		err := d.Append(Record{Key: tc.bytes, Value: []byte("ignored")})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || err.(*DecodeError).Column != "K" {
				t.Errorf("%s %x: %v, want error %q", tc.typ, tc.bytes, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %x: %v", tc.typ, tc.bytes, err)
			continue
		}
		rec := flush(t, d)
		if got := rowOf(rec, 0)[0]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %x = %#v, want %#v", tc.typ, tc.bytes, got, tc.want)
		}
		enc := must(NewEncoder(s.Keys(), kafka))
		out, err := enc.Encode(rec, 0, nil)
		if err != nil || !bytes.Equal(out, tc.bytes) || (out == nil) != (tc.bytes == nil) {
			t.Errorf("%s: Encode = %x (nil %v), %v; want %x", tc.typ, out, out == nil, err, tc.bytes)
		}
	}
}

func TestNoneFormat(t *testing.T) {
	s := must(New(Column{Name: "V", Type: Int}))
	d := newDecoder(t, s, Format{}, jsonValue)
	if err := d.Append(Record{Key: []byte("whatever"), Value: []byte(`{"V":1}`)}); err != nil {
		t.Fatal(err)
	}
	rec := flush(t, d)
	out, err := must(NewEncoder(nil, Format{})).Encode(rec, 0, []byte("x"))
	if out != nil || err != nil {
		t.Errorf("NONE encodes %q, %v", out, err)
	}
	out, err = must(NewEncoder(nil, Format{Kind: Kafka})).Encode(rec, 0, nil)
	if out != nil || err != nil {
		t.Errorf("KAFKA without columns encodes %q, %v", out, err)
	}
}
