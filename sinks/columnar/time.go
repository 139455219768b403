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
