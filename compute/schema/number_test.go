package schema

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

func TestParseNumeral(t *testing.T) {
	for _, tc := range []struct {
		s             string
		strict, loose bool
	}{
		{"0", true, true},
		{"-12.5e-3", true, true},
		{"1E+9", true, true},
		{"+1", false, true},
		{"007", false, true},
		{".5", false, true},
		{"5.", false, true},
		{"-0.0", true, true},
		{"", false, false},
		{"-", false, false},
		{".", false, false},
		{"1e", false, false},
		{"1e+", false, false},
		{"e5", false, false},
		{"1-2", false, false},
		{"1.2.3", false, false},
		{"NaN", false, false},
		{"0x10", false, false},
		{" 1", false, false},
		{"1 ", false, false},
	} {
		if _, ok := parseNumeral(tc.s, true); ok != tc.strict {
			t.Errorf("strict %q: %v", tc.s, ok)
		}
		if _, ok := parseNumeral(tc.s, false); ok != tc.loose {
			t.Errorf("loose %q: %v", tc.s, ok)
		}
	}
}

func TestNumeralToInt(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"-0", 0, ""},
		{"2147483647", math.MaxInt32, ""},
		{"-2147483648", math.MinInt32, ""},
		{"2147483648", 0, "out of range"},
		{"-2147483649", 0, "out of range"},
		{"1.0", 1, ""},
		{"1e3", 1000, ""},
		{"12300e-2", 123, ""},
		{"1.5", 0, "not an integer"},
		{"1e-1", 0, "not an integer"},
		{"1e1000000000000", 0, "out of range"},
		{"0e1000000000000", 0, ""},
		{"0.0000e-99999999999", 0, ""},
		{"99999999999999999999999999999999999999999", 0, "out of range"},
	} {
		n, ok := parseNumeral(tc.s, false)
		if !ok {
			t.Fatalf("parseNumeral(%q)", tc.s)
		}
		got, err := n.toInt(math.MinInt32, math.MaxInt32)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %d, %v, want error %q", tc.s, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %d, %v, want %d", tc.s, got, err, tc.want)
		}
	}
	for _, s := range []string{"9223372036854775807", "-9223372036854775808"} {
		n, _ := parseNumeral(s, true)
		got, err := n.toInt(math.MinInt64, math.MaxInt64)
		if err != nil || big.NewInt(got).String() != s {
			t.Errorf("%s: %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"9223372036854775808", "-9223372036854775809", "18446744073709551616"} {
		n, _ := parseNumeral(s, true)
		if got, err := n.toInt(math.MinInt64, math.MaxInt64); !errors.Is(err, errOverflow) {
			t.Errorf("%s: %d, %v", s, got, err)
		}
	}
}

func TestNumeralToDecimal(t *testing.T) {
	for _, tc := range []struct {
		s       string
		p, sc   int
		want    string
		wantErr bool
	}{
		{"123.45", 10, 2, "123.45", false},
		{"123.4", 10, 2, "123.40", false},
		{"123.455", 10, 2, "123.46", false},
		{"123.454999", 10, 2, "123.45", false},
		{"-123.455", 10, 2, "-123.46", false},
		{"0.005", 3, 2, "0.01", false},
		{"-0.004", 3, 2, "0.00", false},
		{"0.0000001", 5, 5, "0.00000", false},
		{"1.2345e2", 6, 2, "123.45", false},
		{"12345e-4", 6, 4, "1.2345", false},
		{"1e2", 5, 2, "100.00", false},
		{"999.995", 5, 2, "", true},
		{"999.994", 5, 2, "999.99", false},
		{"1000", 5, 2, "", true},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999", false},
		{"-99999999999999999999999999999999999999", 38, 0, "-99999999999999999999999999999999999999", false},
		{"99999999999999999999999999999999999999.5", 38, 0, "", true},
		{"0.12345678901234567890123456789012345678", 38, 38, "0.12345678901234567890123456789012345678", false},
		{"1e40", 38, 0, "", true},
		{"1e-1000000000000", 10, 2, "0.00", false},
		{"0.1", 1, 1, "0.1", false},
		{"00000000000000000000000000000000000000000000012.5", 3, 1, "12.5", false},
	} {
		n, ok := parseNumeral(tc.s, false)
		if !ok {
			t.Fatalf("parseNumeral(%q)", tc.s)
		}
		d, err := n.toDecimal(tc.p, tc.sc)
		if tc.wantErr {
			if !errors.Is(err, errOverflow) {
				t.Errorf("%q as (%d,%d): %v, want overflow", tc.s, tc.p, tc.sc, err)
			}
			continue
		}
		if got := string(appendDecimal(nil, d, tc.sc)); err != nil || got != tc.want {
			t.Errorf("%q as (%d,%d) = %s, %v, want %s", tc.s, tc.p, tc.sc, got, err, tc.want)
		}
	}
}

// TestDecimalTextRoundTrip checks appendDecimal and toDecimal against
// math/big on random 128-bit values.
func TestDecimalTextRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		p := 1 + rng.IntN(MaxDecimalPrecision)
		s := rng.IntN(p + 1)
		d := randomDecimal(rng, p)
		text := string(appendDecimal(nil, d, s))
		want := new(big.Rat).SetFrac(d.BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)).FloatString(s)
		if text != want {
			t.Fatalf("appendDecimal(%s, %d) = %s, want %s", d.BigInt(), s, text, want)
		}
		n, ok := parseNumeral(text, true)
		if !ok {
			t.Fatalf("%s is not a JSON number", text)
		}
		back, err := n.toDecimal(p, s)
		if err != nil || back != d {
			t.Fatalf("toDecimal(%s) = %s, %v", text, back.BigInt(), err)
		}
	}
}

// randomDecimal returns a random unscaled value of at most p digits.
func randomDecimal(rng *rand.Rand, p int) decimal128.Num {
	digits := make([]byte, 1+rng.IntN(p))
	for i := range digits {
		digits[i] = byte('0' + rng.IntN(10))
	}
	v, _ := new(big.Int).SetString(string(digits), 10)
	if rng.IntN(2) == 0 {
		v.Neg(v)
	}
	return decimal128.FromBigInt(v)
}

func TestAppendFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0", 123.45: "123.45", -1.5e-7: "-1.5e-07", 1e21: "1e+21", 1e20: "100000000000000000000",
		math.NaN(): "NaN", math.Inf(1): "Infinity", math.Inf(-1): "-Infinity",
	} {
		if got := string(appendFloat(nil, f)); got != want {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(appendFloat(nil, math.Copysign(0, -1))); got != "-0" {
		t.Errorf("-0 = %s", got)
	}
}
