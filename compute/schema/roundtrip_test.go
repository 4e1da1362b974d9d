package schema

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestRoundTrip builds random rows of random schemas with Arrow builders,
// encodes their keys and values in random formats, decodes the bytes and
// checks that the batch equals the original.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	iterations := 500
	if testing.Short() {
		iterations = 30
	}
	for it := range iterations {
		g := generator{rng: rng}
		s, keyFormat, valueFormat := g.source()
		t.Run(fmt.Sprintf("%d", it), func(t *testing.T) {
			roundTrip(t, rng, s, keyFormat, valueFormat)
		})
	}
}

func roundTrip(t *testing.T, rng *rand.Rand, s *Schema, keyFormat, valueFormat Format) {
	mem := checkedAlloc(t)
	want := randomBatch(rng, mem, s, 1+rng.IntN(20))
	defer want.Release()

	keyEnc := must(NewEncoder(s.Keys(), keyFormat))
	valueEnc := must(NewEncoder(s.Values(), valueFormat))
	d := must(NewDecoder(s, keyFormat, valueFormat, mem))
	defer d.Release()
	var key, value []byte
	for i := range int(want.NumRows()) {
		var err error
		if key, err = keyEnc.Encode(want, i, key[:0]); err != nil {
			t.Fatal(err)
		}
		if value, err = valueEnc.Encode(want, i, value[:0]); err != nil {
			t.Fatal(err)
		}
		rec := Record{
			Partition: want.Column(RowPartitionIndex).(*array.Int32).Value(i),
			Offset:    want.Column(RowOffsetIndex).(*array.Int64).Value(i),
			Timestamp: int64(want.Column(RowTimeIndex).(*array.Timestamp).Value(i)),
			Key:       key,
			Value:     value,
		}
		if err := d.Append(rec); err != nil {
			t.Fatalf("schema %v, key %s, value %s\nrow %v\nkey %q\nvalue %q\n%v", s.Columns(), keyFormat, valueFormat, rowOf(want, i), key, value, err)
		}
	}
	got := d.Flush()
	defer got.Release()
	checkConsistent(t, got, int(want.NumRows()))
	for c := range int(want.NumCols()) {
		if !array.ApproxEqual(want.Column(c), got.Column(c), array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
			for i := range int(want.NumRows()) {
				w, g := valueOf(want.Column(c), i), valueOf(got.Column(c), i)
				if fmt.Sprint(w) != fmt.Sprint(g) {
					t.Errorf("column %s row %d: got %v, want %v", want.ColumnName(c), i, g, w)
				}
			}
			t.Fatalf("schema %v, key %s, value %s: column %s differs", s.Columns(), keyFormat, valueFormat, want.ColumnName(c))
		}
	}
}

type generator struct {
	rng   *rand.Rand
	names int
}

// source returns a random schema with formats able to hold it.
func (g *generator) source() (*Schema, Format, Format) {
	var cols []Column
	keyFormat := Format{Kind: FormatKind(g.rng.IntN(4))}
	switch keyFormat.Kind {
	case Kafka:
		kinds := []Type{Int, BigInt, Double, String, Bytes}
		cols = append(cols, Column{Name: g.name(), Type: kinds[g.rng.IntN(len(kinds))], Key: true})
	case JSON:
		n := 1 + g.rng.IntN(2)
		keyFormat.Unwrapped = n == 1 && g.rng.IntN(2) == 0
		for range n {
			cols = append(cols, Column{Name: g.name(), Type: g.typ(2), Key: true})
		}
	case Delimited:
		keyFormat.Delimiter = g.delimiter()
		for range 1 + g.rng.IntN(2) {
			cols = append(cols, Column{Name: g.name(), Type: g.typ(0), Key: true})
		}
	}
	valueFormat := Format{Kind: JSON}
	if g.rng.IntN(3) == 0 {
		valueFormat = Format{Kind: Delimited, Delimiter: g.delimiter()}
	}
	n := 1 + g.rng.IntN(6)
	if valueFormat.Kind == JSON && n == 1 {
		valueFormat.Unwrapped = g.rng.IntN(2) == 0
	}
	for range n {
		depth := 3
		if valueFormat.Kind == Delimited {
			depth = 0
		}
		cols = append(cols, Column{Name: g.name(), Type: g.typ(depth)})
	}
	return must(New(cols...)), keyFormat, valueFormat
}

func (g *generator) delimiter() rune {
	return []rune{0, ',', '|', '\t', ';', 'é', '-', 'A'}[g.rng.IntN(8)]
}

// name returns a unique name, sometimes differing from another only in case.
func (g *generator) name() string {
	g.names++
	base := []string{"a", "A", "Col", "COL", "x y", `q"uote`, "ünï"}[g.rng.IntN(7)]
	return fmt.Sprintf("%s%d", base, g.names)
}

func (g *generator) typ(depth int) Type {
	prims := []Type{Boolean, Int, BigInt, Double, String, Timestamp, Date, Time, Bytes}
	switch k := g.rng.IntN(len(prims) + 1 + 3*min(depth, 1)); {
	case k < len(prims):
		return prims[k]
	case k == len(prims):
		p := 1 + g.rng.IntN(MaxDecimalPrecision)
		return must(Decimal(p, g.rng.IntN(p+1)))
	case k == len(prims)+1:
		return Array(g.typ(depth - 1))
	case k == len(prims)+2:
		return must(Map(String, g.typ(depth-1)))
	default:
		fields := make([]Field, g.rng.IntN(4))
		for i := range fields {
			fields[i] = Field{Name: g.name(), Type: g.typ(depth - 1)}
		}
		return must(Struct(fields...))
	}
}

// randomBatch returns n random rows of s.
func randomBatch(rng *rand.Rand, mem memory.Allocator, s *Schema, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, s.Arrow())
	defer b.Release()
	for range n {
		b.Field(RowTimeIndex).(*array.TimestampBuilder).Append(arrow.Timestamp(rng.Int64() - math.MaxInt64/2))
		b.Field(RowPartitionIndex).(*array.Int32Builder).Append(rng.Int32())
		b.Field(RowOffsetIndex).(*array.Int64Builder).Append(rng.Int64())
		for i, c := range s.Columns() {
			appendRandom(rng, b.Field(NumPseudoColumns+i), c.Type)
		}
	}
	return b.NewRecord()
}

func appendRandom(rng *rand.Rand, b array.Builder, t Type) {
	if rng.IntN(6) == 0 {
		b.AppendNull()
		return
	}
	switch t.Kind() {
	case KindBoolean:
		b.(*array.BooleanBuilder).Append(rng.IntN(2) == 0)
	case KindInt:
		b.(*array.Int32Builder).Append(int32(randomInt(rng)))
	case KindBigInt:
		b.(*array.Int64Builder).Append(randomInt(rng))
	case KindDouble:
		b.(*array.Float64Builder).Append(randomFloat(rng))
	case KindDecimal:
		b.(*array.Decimal128Builder).Append(randomDecimal(rng, t.Precision()))
	case KindString:
		b.(*array.StringBuilder).Append(randomString(rng))
	case KindTimestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(randomInt(rng)))
	case KindDate:
		b.(*array.Date32Builder).Append(arrow.Date32(randomInt(rng)))
	case KindTime:
		b.(*array.Time32Builder).Append(arrow.Time32(rng.IntN(msPerDay)))
	case KindBytes:
		p := make([]byte, rng.IntN(6))
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		b.(*array.BinaryBuilder).Append(p)
	case KindArray:
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		for range rng.IntN(4) {
			appendRandom(rng, lb.ValueBuilder(), t.Elem())
		}
	case KindMap:
		mb := b.(*array.MapBuilder)
		mb.Append(true)
		seen := map[string]bool{}
		for range rng.IntN(4) {
			k := randomString(rng)
			if seen[k] {
				continue
			}
			seen[k] = true
			mb.KeyBuilder().(*array.StringBuilder).Append(k)
			appendRandom(rng, mb.ItemBuilder(), t.Elem())
		}
	case KindStruct:
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for i := range t.NumFields() {
			appendRandom(rng, sb.FieldBuilder(i), t.Field(i).Type)
		}
	}
}

func randomInt(rng *rand.Rand) int64 {
	switch rng.IntN(4) {
	case 0:
		return []int64{0, -1, math.MinInt64, math.MaxInt64, math.MinInt32, math.MaxInt32}[rng.IntN(6)]
	case 1:
		return rng.Int64() - math.MaxInt64/2
	}
	return rng.Int64N(2000) - 1000
}

func randomFloat(rng *rand.Rand) float64 {
	switch rng.IntN(5) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64,
			math.SmallestNonzeroFloat64, 1e21, 1e-7, 0.1}[rng.IntN(10)]
	case 1:
		return math.Float64frombits(rng.Uint64())
	}
	return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(30)-15))
}

func randomString(rng *rand.Rand) string {
	parts := []string{"", "a", "Z", " ", ",", "|", "\t", "\n", "\r", `"`, `\`, "é", "😀", "\x00", "\x1f", "-", ";", "A", "null", "1", "\u2028"}
	var b strings.Builder
	for range rng.IntN(6) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}
