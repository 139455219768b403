package columnar

import (
	"strconv"
	"strings"
	"time"
)

// timeLayouts are the textual timestamps accepted besides RFC 3339: the
// OpenX SerDe's "yyyy-MM-dd HH:mm:ss[.S]" and zone-less ISO forms, read
// as UTC. A fraction is optional in each.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTimestamp accepts RFC 3339 (and the layouts above) or epoch
// seconds or milliseconds, as a number or a numeric string; a magnitude
// above 10^11 is milliseconds. The result is microseconds since the epoch
// (finer digits are dropped).
func parseTimestamp(v jv) (int64, *convErr) {
	switch v.kind() {
	case jNumber:
		return parseEpoch(string(v.raw()))
	case jString:
		return parseTimeText(strings.TrimSpace(v.text()))
	}
	return 0, failf("want an RFC 3339 string or epoch number, got %s", describe(v))
}

// parseTimeText parses a timestamp string, already trimmed.
func parseTimeText(text string) (int64, *convErr) {
	if looksNumeric(text) {
		return parseEpoch(text)
	}
	if us, ok := fastTime(text); ok {
		return checkMicros(us, text)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, text); err == nil {
			return checkMicros(t.UnixMicro(), text)
		}
	}
	return 0, failf("%q is not an RFC 3339 timestamp or epoch number", text)
}

func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '.') && !strings.ContainsAny(s, ":T ") && strings.Count(s, "-") <= 1
}

func checkMicros(us int64, text string) (int64, *convErr) {
	if us < minMicros || us > maxMicros {
		return 0, failf("timestamp %s out of range (years 0001 to 9999)", text)
	}
	return us, nil
}

// parseEpoch converts epoch seconds or milliseconds to microseconds.
func parseEpoch(text string) (int64, *convErr) {
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		if n > epochMillisAbove || n < -epochMillisAbove {
			if n > maxMicros/1000 || n < minMicros/1000 {
				return 0, failf("epoch %s out of range", text)
			}
			return checkMicros(n*1000, text)
		}
		return checkMicros(n*1_000_000, text)
	}
	num, ok := splitNumber(text)
	if !ok {
		return 0, failf("%q is not an epoch number", text)
	}
	us, err := num.scaled(6, false)
	if err != nil {
		return 0, failf("epoch %s out of range", text)
	}
	if lim := int64(epochMillisAbove * 1e6); !us.IsInt64() || us.Int64() > lim || us.Int64() < -lim {
		if us, err = num.scaled(3, false); err != nil || !us.IsInt64() {
			return 0, failf("epoch %s out of range", text)
		}
	}
	return checkMicros(us.Int64(), text)
}

// parseDate accepts "yyyy-MM-dd" or any accepted timestamp string (its
// UTC date); numbers are refused (days or seconds would be a guess).
func parseDate(v jv) (int32, *convErr) {
	if v.kind() != jString {
		return 0, failf("want a date string (yyyy-MM-dd), got %s", describe(v))
	}
	text := strings.TrimSpace(v.text())
	if len(text) == 10 {
		if days, ok := fastDate(text); ok {
			return int32(days), nil
		}
	}
	if t, err := time.Parse("2006-01-02", text); err == nil {
		return int32(t.Unix() / 86400), nil
	}
	if looksNumeric(text) {
		return 0, failf("%q is not a date (yyyy-MM-dd)", text)
	}
	us, err := parseTimeText(text)
	if err != nil {
		return 0, failf("%q is not a date (yyyy-MM-dd)", text)
	}
	days := us / 86_400_000_000
	if us%86_400_000_000 < 0 {
		days-- // floor for dates before 1970
	}
	return int32(days), nil
}

// fastTime parses the common shapes of the accepted layouts,
// yyyy-MM-dd(T| )HH:mm:ss(.fraction)?(Z|±hh:mm)? (no zone is UTC), with
// all fields in range, to microseconds since the epoch (finer digits
// dropped). Anything else, including what time.Parse would refuse,
// reports false and is left to time.Parse, which also agrees on all it
// accepts (FuzzOracle checks it).
func fastTime(s string) (int64, bool) {
	if len(s) < 19 || s[10] != 'T' && s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	days, ok := fastDate(s[:10])
	h, ok1 := twoDigits(s[11:], 23)
	m, ok2 := twoDigits(s[14:], 59)
	sec, ok3 := twoDigits(s[17:], 59)
	if !ok || !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	us := (days*86400 + int64(h*3600+m*60+sec)) * 1_000_000
	rest := s[19:]
	if len(rest) >= 2 && rest[0] == '.' && isDigit(rest[1]) {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		frac := 0
		for i := 1; i <= 6; i++ {
			frac *= 10
			if i < n {
				frac += int(rest[i] - '0')
			}
		}
		us += int64(frac)
		rest = rest[n:]
	}
	switch {
	case rest == "" || rest == "Z":
		return us, true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := twoDigits(rest[1:], 23)
		om, ok2 := twoDigits(rest[4:], 59)
		if !ok1 || !ok2 {
			return 0, false
		}
		off := int64(oh*3600+om*60) * 1_000_000
		if rest[0] == '+' {
			return us - off, true
		}
		return us + off, true
	}
	return 0, false
}

// fastDate parses yyyy-MM-dd, a valid date, to days since 1970-01-01.
func fastDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	hi, ok1 := twoDigits(s, 99)
	lo, ok2 := twoDigits(s[2:], 99)
	month, ok3 := twoDigits(s[5:], 12)
	day, ok4 := twoDigits(s[8:], 31)
	if !ok1 || !ok2 || !ok3 || !ok4 || month == 0 || day == 0 {
		return 0, false
	}
	year := hi*100 + lo
	if day > daysIn(month, year) {
		return 0, false
	}
	return daysFromCivil(year, month, day), true
}

// twoDigits parses two decimal digits at the start of s, at most max.
func twoDigits(s string, max int) (int, bool) {
	if len(s) < 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	n := int(s[0]-'0')*10 + int(s[1]-'0')
	return n, n <= max
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the proleptic Gregorian date's day number relative to
// 1970-01-01 (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era-- // floor; years here are 0..9999, so only y = -1 (January 0000)
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// EpochMicros reads epoch seconds, or milliseconds when above 10^11 in
// magnitude, exactly (no float rounding), as microseconds since the epoch:
// the rule every sink applies to numbers bound for a timestamp.
func EpochMicros(text string) (int64, error) {
	us, err := parseEpoch(text)
	if err != nil {
		return 0, err
	}
	return us, nil
}

// TimestampMicros reads a timestamp string as the columnar formats do:
// RFC 3339 (or the layouts above, without a zone meaning UTC) or an epoch
// number as text; microseconds since the epoch.
func TimestampMicros(text string) (int64, error) {
	us, err := parseTimeText(strings.TrimSpace(text))
	if err != nil {
		return 0, err
	}
	return us, nil
}
