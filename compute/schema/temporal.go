package schema

const msPerDay = 24 * 60 * 60 * 1000

// parseDate parses YYYY-MM-DD to days since 1970-01-01.
func parseDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// parseTimeOfDay parses HH:MM[:SS[.fraction]] to milliseconds since
// midnight; fraction digits past milliseconds are cut off.
func parseTimeOfDay(s string) (int64, bool) {
	if len(s) < 5 || s[2] != ':' {
		return 0, false
	}
	h, ok1 := atoi(s[0:2])
	m, ok2 := atoi(s[3:5])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	ms := (h*60 + m) * 60_000
	s = s[5:]
	if len(s) == 0 {
		return ms, true
	}
	if len(s) < 3 || s[0] != ':' {
		return 0, false
	}
	sec, ok := atoi(s[1:3])
	if !ok || sec > 59 {
		return 0, false
	}
	ms += sec * 1000
	s = s[3:]
	if len(s) == 0 {
		return ms, true
	}
	if s[0] != '.' || len(s) == 1 {
		return 0, false
	}
	scale := int64(100)
	for i := 1; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		ms += int64(s[i]-'0') * scale
		scale /= 10
	}
	return ms, true
}

// parseTimestamp parses an ISO-8601 timestamp to epoch milliseconds:
// YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]][Z|±HH[[:]MM]]]. A timestamp without
// zone is UTC.
func parseTimestamp(s string) (int64, bool) {
	if len(s) < 10 {
		return 0, false
	}
	days, ok := parseDate(s[:10])
	if !ok {
		return 0, false
	}
	ms := days * msPerDay
	s = s[10:]
	if len(s) == 0 {
		return ms, true
	}
	if s[0] != 'T' && s[0] != ' ' {
		return 0, false
	}
	s = s[1:]
	zone := len(s)
	for i := 5; i < len(s); i++ {
		if c := s[i]; c == 'Z' || c == '+' || c == '-' {
			zone = i
			break
		}
	}
	tod, ok := parseTimeOfDay(s[:zone])
	if !ok {
		return 0, false
	}
	offset, ok := parseZone(s[zone:])
	return ms + tod - offset, ok
}

// parseZone parses "" or Z (UTC) or ±HH[[:]MM] to an offset in milliseconds.
func parseZone(s string) (int64, bool) {
	switch {
	case s == "" || s == "Z":
		return 0, true
	case len(s) < 3 || s[0] != '+' && s[0] != '-':
		return 0, false
	}
	h, ok := atoi(s[1:3])
	var m int64
	switch rest := s[3:]; {
	case len(rest) == 0:
	case len(rest) == 2:
		m, ok = atoi(rest)
	case len(rest) == 3 && rest[0] == ':':
		m, ok = atoi(rest[1:])
	default:
		ok = false
	}
	if !ok || h > 23 || m > 59 {
		return 0, false
	}
	offset := (h*60 + m) * 60_000
	if s[0] == '-' {
		offset = -offset
	}
	return offset, true
}

// atoi parses a short run of decimal digits.
func atoi(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, len(s) > 0
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y ≥ -1 here, so truncation is floor except for -1
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
