package schema

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	ms := func(s string) int64 { return must(time.Parse(time.RFC3339Nano, s)).UnixMilli() }
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"2023-11-14T22:13:20.000Z", 1700000000000},
		{"2023-11-14T22:13:20Z", 1700000000000},
		{"2023-11-14T22:13:20", 1700000000000},
		{"2023-11-14 22:13:20.5", 1700000000500},
		{"2023-11-14T22:13:20.123456789Z", 1700000000123},
		{"2023-11-14T22:13", 1699999980000},
		{"2023-11-14", ms("2023-11-14T00:00:00Z")},
		{"2023-11-14T23:13:20+01:00", 1700000000000},
		{"2023-11-14T17:13:20-0500", 1700000000000},
		{"2023-11-15T03:13:20+05", 1700000000000},
		{"1969-12-31T23:59:59.999Z", -1},
		{"0001-01-01T00:00:00Z", ms("0001-01-01T00:00:00Z")},
		{"2000-02-29T12:00:00Z", ms("2000-02-29T12:00:00Z")},
	} {
		got, ok := parseTimestamp(tc.in)
		if !ok || got != tc.want {
			t.Errorf("parseTimestamp(%q) = %d, %v, want %d", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{
		"", "2023", "2023-11-14T", "2023-11-14X22:13:20", "2023-13-01", "2023-02-29", "1900-02-29",
		"2023-11-14T24:00:00", "2023-11-14T22:60", "2023-11-14T22:13:61", "2023-11-14T22:13:20.",
		"2023-11-14T22:13:20.12a", "2023-11-14T22:13:20+1", "2023-11-14T22:13:20+01:0",
		"2023-11-14T22:13:20+24:00", "2023-11-14T22:13:20ZZ", "2023-1-14", "+2023-11-14",
	} {
		if got, ok := parseTimestamp(in); ok {
			t.Errorf("parseTimestamp(%q) = %d, want failure", in, got)
		}
	}
}

func TestParseDateAndTime(t *testing.T) {
	if d, ok := parseDate("1970-01-02"); !ok || d != 1 {
		t.Errorf("1970-01-02 = %d", d)
	}
	if d, ok := parseDate("1969-12-31"); !ok || d != -1 {
		t.Errorf("1969-12-31 = %d", d)
	}
	for in, want := range map[string]int64{"00:00:00": 0, "23:59:59.999": 86399999, "12:30": 45000000, "01:02:03.4": 3723400} {
		if got, ok := parseTimeOfDay(in); !ok || got != want {
			t.Errorf("parseTimeOfDay(%q) = %d, want %d", in, got, want)
		}
	}
	for _, in := range []string{"24:00:00", "1:00:00", "12:00:0", "12-00-00", "12:00:00Z"} {
		if _, ok := parseTimeOfDay(in); ok {
			t.Errorf("parseTimeOfDay(%q) succeeded", in)
		}
	}
}

func TestDaysFromCivil(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		day := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(10000*366))
		if day.Year() > 9999 {
			continue
		}
		got, ok := parseDate(day.Format("2006-01-02"))
		if want := day.Unix() / 86400; !ok || got != want {
			t.Fatalf("parseDate(%s) = %d, want %d", day.Format("2006-01-02"), got, want)
		}
	}
}
