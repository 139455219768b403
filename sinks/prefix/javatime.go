package prefix

import (
	"fmt"
	"strconv"
	"time"
)

// field is one formatting directive of a compiled Java pattern.
type field uint8

const (
	fLiteral       field = iota
	fYear                // y, u
	fYear2               // yy, uu: reduced two-digit year
	fWeekYear            // Y
	fWeekYear2           // YY
	fMonth               // M (numeric)
	fMonthShort          // MMM
	fMonthLong           // MMMM
	fMonthNarrow         // MMMMM
	fDay                 // d
	fDayOfYear           // D
	fHour                // H
	fClockHourAmPm       // h: 1-12
	fHourAmPm            // K: 0-11
	fClockHour           // k: 1-24
	fAmPm                // a
	fMinute              // m
	fSecond              // s
	fFraction            // S
	fWeek                // w
	fDayShort            // E, EE, EEE
	fDayLong             // EEEE
	fDayNarrow           // EEEEE
)

// item is a field with its minimum width (numeric) or literal text.
type item struct {
	f     field
	width int
	lit   string
}

// javaPattern is a compiled DateTimeFormatter pattern.
type javaPattern []item

// letterField maps count repetitions of a pattern letter to its directive.
// ok is false for letters Hydrant does not support; err reports a count Java
// itself rejects ("Too many pattern letters").
func letterField(c byte, n int) (f field, ok bool, tooMany bool) {
	limit := func(max int, f field) (field, bool, bool) { return f, true, n > max }
	switch c {
	case 'y', 'u':
		return limit(19, pick2(n, fYear, fYear2))
	case 'Y':
		return limit(19, pick2(n, fWeekYear, fWeekYear2))
	case 'M':
		switch n {
		case 1, 2:
			return fMonth, true, false
		case 3:
			return fMonthShort, true, false
		case 4:
			return fMonthLong, true, false
		default:
			return limit(5, fMonthNarrow)
		}
	case 'd':
		return limit(2, fDay)
	case 'D':
		return limit(3, fDayOfYear)
	case 'H':
		return limit(2, fHour)
	case 'h':
		return limit(2, fClockHourAmPm)
	case 'K':
		return limit(2, fHourAmPm)
	case 'k':
		return limit(2, fClockHour)
	case 'a':
		return limit(1, fAmPm)
	case 'm':
		return limit(2, fMinute)
	case 's':
		return limit(2, fSecond)
	case 'S':
		return limit(9, fFraction)
	case 'w':
		return limit(2, fWeek)
	case 'E':
		switch {
		case n <= 3:
			return fDayShort, true, false
		case n == 4:
			return fDayLong, true, false
		default:
			return limit(5, fDayNarrow)
		}
	}
	return 0, false, false
}

func pick2(n int, normal, reduced field) field {
	if n == 2 {
		return reduced
	}
	return normal
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// compileJava compiles a DateTimeFormatter pattern. Letters not in
// letterField are rejected, as are Java's reserved characters '{', '}', '#'.
// Optional sections '[' ']' are accepted and always printed, since an
// instant has every field.
func compileJava(p string) (javaPattern, error) {
	var out javaPattern
	lit := make([]byte, 0, len(p))
	flush := func() {
		if len(lit) > 0 {
			out = append(out, item{f: fLiteral, lit: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			// '' is a quote; 'text' is literal text in which '' is a quote.
			if i+1 < len(p) && p[i+1] == '\'' {
				lit = append(lit, '\'')
				i += 2
				continue
			}
			j := i + 1
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("timestamp pattern %q: unterminated quote", p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit = append(lit, '\'')
						j += 2
						continue
					}
					break
				}
				lit = append(lit, p[j])
				j++
			}
			i = j + 1
		case isLetter(c):
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			f, ok, tooMany := letterField(c, n)
			if !ok {
				return nil, fmt.Errorf("timestamp pattern %q: unsupported pattern letter %q", p, c)
			}
			if tooMany {
				return nil, fmt.Errorf("timestamp pattern %q: too many pattern letters %q", p, c)
			}
			flush()
			out = append(out, item{f: f, width: n})
			i += n
		case c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("timestamp pattern %q: reserved character %q", p, c)
		case c == '[' || c == ']':
			i++
		default:
			lit = append(lit, c)
			i++
		}
	}
	flush()
	return out, nil
}

// needsWeek reports whether the pattern uses ISO week fields, which cost a
// little more to compute.
func (jp javaPattern) needsWeek() bool {
	for _, it := range jp {
		switch it.f {
		case fWeekYear, fWeekYear2, fWeek:
			return true
		}
	}
	return false
}

// appendTo formats t (already in the wanted location) onto dst.
func (jp javaPattern) appendTo(dst []byte, t time.Time, weekYear, week int) []byte {
	for _, it := range jp {
		switch it.f {
		case fLiteral:
			dst = append(dst, it.lit...)
		case fYear:
			dst = appendPadded(dst, t.Year(), it.width)
		case fYear2:
			dst = appendPadded(dst, mod(t.Year(), 100), 2)
		case fWeekYear:
			dst = appendPadded(dst, weekYear, it.width)
		case fWeekYear2:
			dst = appendPadded(dst, mod(weekYear, 100), 2)
		case fMonth:
			dst = appendPadded(dst, int(t.Month()), it.width)
		case fMonthShort:
			dst = append(dst, t.Month().String()[:3]...)
		case fMonthLong:
			dst = append(dst, t.Month().String()...)
		case fMonthNarrow:
			dst = append(dst, t.Month().String()[0])
		case fDay:
			dst = appendPadded(dst, t.Day(), it.width)
		case fDayOfYear:
			dst = appendPadded(dst, t.YearDay(), it.width)
		case fHour:
			dst = appendPadded(dst, t.Hour(), it.width)
		case fClockHourAmPm:
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = appendPadded(dst, h, it.width)
		case fHourAmPm:
			dst = appendPadded(dst, t.Hour()%12, it.width)
		case fClockHour:
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = appendPadded(dst, h, it.width)
		case fAmPm:
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case fMinute:
			dst = appendPadded(dst, t.Minute(), it.width)
		case fSecond:
			dst = appendPadded(dst, t.Second(), it.width)
		case fFraction:
			// Java truncates the fraction to the requested digits.
			var buf [9]byte
			ns := t.Nanosecond()
			for k := 8; k >= 0; k-- {
				buf[k] = byte('0' + ns%10)
				ns /= 10
			}
			dst = append(dst, buf[:it.width]...)
		case fWeek:
			dst = appendPadded(dst, week, it.width)
		case fDayShort:
			dst = append(dst, t.Weekday().String()[:3]...)
		case fDayLong:
			dst = append(dst, t.Weekday().String()...)
		case fDayNarrow:
			dst = append(dst, t.Weekday().String()[0])
		}
	}
	return dst
}

func mod(a, m int) int {
	a %= m
	if a < 0 {
		a += m
	}
	return a
}

// appendPadded appends v in decimal, zero-padded to width digits. Negative
// years keep their sign in front of the padding, as in Java.
func appendPadded(dst []byte, v, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for k := len(s); k < width; k++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
