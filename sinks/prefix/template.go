package prefix

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Limits on evaluated prefixes (Firehose: an evaluated prefix is at most 512
// characters).
const (
	// MaxValueLen is the largest partition key value accepted, in bytes
	// before escaping.
	MaxValueLen = 512
	// MaxPrefixLen is the largest evaluated prefix, in bytes.
	MaxPrefixLen = 512
)

// DefaultTimePrefix is what WithDefaultTime appends: Firehose's hourly layout.
const DefaultTimePrefix = "!{timestamp:yyyy/MM/dd/HH/}"

// Errors returned by Eval, so that sinks can classify a record as
// partition-key-failed.
var (
	// ErrMissingKey: a partition key the template uses is not set on the record.
	ErrMissingKey = errors.New("partition key missing")
	// ErrInvalidValue: a partition key value is empty or too long.
	ErrInvalidValue = errors.New("invalid partition key value")
	// ErrUnsafeKey: the evaluated prefix could escape its bucket or directory,
	// or is too long.
	ErrUnsafeKey = errors.New("unsafe evaluated prefix")
	// ErrNoErrorType: the template uses !{firehose:error-output-type} but
	// Values.ErrorType is empty.
	ErrNoErrorType = errors.New("error output type not set")
)

// Source says which processor family set a partition key.
type Source uint8

const (
	// FromQuery: !{partitionKeyFromQuery:K}, set by jq_metadata.
	FromQuery Source = iota + 1
	// FromLambda: !{partitionKeyFromLambda:K}, set by lambda, exec and wasm.
	FromLambda
)

// Key names a partition key used by a template.
type Key struct {
	From Source
	Name string
}

// MetaKey is the record.Record.Meta key holding this partition key's value.
func (k Key) MetaKey() string {
	if k.From == FromLambda {
		return record.LambdaKey(k.Name)
	}
	return record.QueryKey(k.Name)
}

// String renders the key as it appears in a template.
func (k Key) String() string {
	if k.From == FromLambda {
		return "partitionKeyFromLambda:" + k.Name
	}
	return "partitionKeyFromQuery:" + k.Name
}

type partKind uint8

const (
	pLiteral partKind = iota
	pTimestamp
	pKey
	pRandom
	pErrorType
)

type part struct {
	kind partKind
	lit  string
	ts   javaPattern
	key  int // index into Template.keys
}

// Template is a parsed prefix. It is immutable and safe for concurrent use.
type Template struct {
	src      string
	parts    []part
	keys     []Key
	hasTS    bool
	hasErr   bool
	needWeek bool
	size     int // literal bytes, for preallocation
}

// Parse parses a prefix template. allowErrorType selects an error output
// prefix: !{firehose:error-output-type} is allowed and partition keys are
// not (Firehose rules 3 and 6); otherwise the reverse.
//
// Timestamp patterns accept these Java DateTimeFormatter letters: y/u (year;
// yy two digits), Y (ISO week-based year), M (1-2 numeric, MMM Jan, MMMM
// January, MMMMM J), d, D (day of year; DD pads to 2, DDD to 3), H, h (1-12),
// K (0-11), k (1-24), a (AM/PM), m, s, S (fraction, truncated), w (ISO week),
// E (EEE Mon, EEEE Monday, EEEEE M); 'quoted text', ” for a quote;
// [ and ] are ignored; other non-letters are literal. Any other letter is an
// error.
func Parse(tmpl string, allowErrorType bool) (*Template, error) {
	t := &Template{src: tmpl}
	seen := map[Key]int{}
	rest := tmpl
	for rest != "" {
		i := strings.Index(rest, "!{")
		if i < 0 {
			t.addLiteral(rest)
			break
		}
		t.addLiteral(rest[:i])
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return nil, fmt.Errorf("prefix %q: unterminated expression", tmpl)
		}
		expr := rest[:j]
		rest = rest[j+1:]
		ns, val, ok := strings.Cut(expr, ":")
		if !ok {
			return nil, fmt.Errorf("prefix %q: expression !{%s} has no namespace", tmpl, expr)
		}
		switch ns {
		case "timestamp":
			jp, err := compileJava(val)
			if err != nil {
				return nil, fmt.Errorf("prefix %q: %w", tmpl, err)
			}
			t.parts = append(t.parts, part{kind: pTimestamp, ts: jp})
			t.hasTS = true
			t.needWeek = t.needWeek || jp.needsWeek()
			t.size += len(val)
		case "partitionKeyFromQuery", "partitionKeyFromLambda":
			if allowErrorType {
				return nil, fmt.Errorf("prefix %q: partition keys are not allowed in an error output prefix", tmpl)
			}
			if val == "" {
				return nil, fmt.Errorf("prefix %q: empty partition key name", tmpl)
			}
			k := Key{From: FromQuery, Name: val}
			if ns == "partitionKeyFromLambda" {
				k.From = FromLambda
			}
			idx, ok := seen[k]
			if !ok {
				idx = len(t.keys)
				seen[k] = idx
				t.keys = append(t.keys, k)
			}
			t.parts = append(t.parts, part{kind: pKey, key: idx})
			t.size += 16
		case "firehose":
			switch val {
			case "random-string":
				t.parts = append(t.parts, part{kind: pRandom})
				t.size += 11
			case "error-output-type":
				if !allowErrorType {
					return nil, fmt.Errorf("prefix %q: !{firehose:error-output-type} is only allowed in an error output prefix", tmpl)
				}
				t.parts = append(t.parts, part{kind: pErrorType})
				t.hasErr = true
				t.size += 24
			default:
				return nil, fmt.Errorf("prefix %q: unknown expression !{firehose:%s}", tmpl, val)
			}
		default:
			return nil, fmt.Errorf("prefix %q: unknown namespace %q", tmpl, ns)
		}
	}
	for _, p := range t.parts {
		if p.kind == pLiteral && (strings.ContainsAny(p.lit, "\\") || hasControl(p.lit)) {
			return nil, fmt.Errorf("prefix %q: backslashes and control characters are not allowed", tmpl)
		}
	}
	if strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("prefix %q: must not start with '/'", tmpl)
	}
	if hasDotDotSegment(tmpl) {
		return nil, fmt.Errorf("prefix %q: must not contain a '..' path segment", tmpl)
	}
	if t.size > MaxPrefixLen {
		return nil, fmt.Errorf("prefix %q: longer than %d bytes", tmpl, MaxPrefixLen)
	}
	return t, nil
}

func (t *Template) addLiteral(s string) {
	if s == "" {
		return
	}
	if n := len(t.parts); n > 0 && t.parts[n-1].kind == pLiteral {
		t.parts[n-1].lit += s
	} else {
		t.parts = append(t.parts, part{kind: pLiteral, lit: s})
	}
	t.size += len(s)
}

// WithDefaultTime applies Firehose's auto-append rule: when the template has
// no timestamp and no partition key expression, DefaultTimePrefix is
// appended by plain concatenation ("logs" gives "logs2024/01/31/23/", so
// prefixes should end with '/'). Otherwise t itself is returned.
func (t *Template) WithDefaultTime() *Template {
	if t.hasTS || len(t.keys) > 0 {
		return t
	}
	jp, err := compileJava("yyyy/MM/dd/HH/")
	if err != nil {
		panic(err) // constant pattern
	}
	c := *t
	c.src = t.src + DefaultTimePrefix
	c.parts = append(append([]part(nil), t.parts...), part{kind: pTimestamp, ts: jp})
	c.hasTS = true
	c.size += 14
	return &c
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// HasTimestamp reports whether the template has a !{timestamp:...} expression.
func (t *Template) HasTimestamp() bool { return t.hasTS }

// HasPartitionKeys reports whether the template uses partition keys.
func (t *Template) HasPartitionKeys() bool { return len(t.keys) > 0 }

// HasErrorType reports whether the template has !{firehose:error-output-type}.
func (t *Template) HasErrorType() bool { return t.hasErr }

// Keys returns the partition keys the template uses, in order of first use.
func (t *Template) Keys() []Key { return append([]Key(nil), t.keys...) }

// Values is the input of an evaluation.
type Values struct {
	// Time is the instant for timestamp expressions: the arrival time of the
	// oldest record in the object.
	Time time.Time
	// Location for timestamps; nil means UTC.
	Location *time.Location
	// Meta holds partition keys under QueryKey/LambdaKey names (a record's Meta).
	Meta map[string]string
	// ErrorType fills !{firehose:error-output-type}.
	ErrorType string
	// Rand supplies randomness for !{firehose:random-string}; nil means
	// crypto/rand. Object sinks pass a reader seeded from the batch range so
	// that a retried flush evaluates to the same key.
	Rand io.Reader
}

// Eval evaluates the template. Errors wrap ErrMissingKey, ErrInvalidValue,
// ErrUnsafeKey or ErrNoErrorType.
func (t *Template) Eval(v Values) (string, error) {
	b, err := t.AppendEval(make([]byte, 0, t.size+8), v)
	return string(b), err
}

// AppendEval is Eval appending to dst.
func (t *Template) AppendEval(dst []byte, v Values) ([]byte, error) {
	start := len(dst)
	loc := v.Location
	if loc == nil {
		loc = time.UTC
	}
	tm := v.Time.In(loc)
	var wy, wk int
	if t.needWeek {
		wy, wk = tm.ISOWeek()
	}
	for _, p := range t.parts {
		switch p.kind {
		case pLiteral:
			dst = append(dst, p.lit...)
		case pTimestamp:
			dst = p.ts.appendTo(dst, tm, wy, wk)
		case pKey:
			k := t.keys[p.key]
			val, ok := v.Meta[k.MetaKey()]
			if !ok {
				return dst, fmt.Errorf("%w: %s", ErrMissingKey, k)
			}
			var err error
			if dst, err = appendEscaped(dst, val); err != nil {
				return dst, fmt.Errorf("%s: %w", k, err)
			}
		case pRandom:
			r := v.Rand
			if r == nil {
				r = rand.Reader
			}
			id, err := uuid.NewRandomFromReader(r)
			if err != nil {
				return dst, fmt.Errorf("random string: %w", err)
			}
			// Firehose's form: the first 11 characters of a UUID.
			dst = appendUUID(dst, id)[:len(dst)+11]
		case pErrorType:
			if v.ErrorType == "" {
				return dst, ErrNoErrorType
			}
			dst = append(dst, v.ErrorType...)
		}
	}
	if err := checkSafe(dst[start:]); err != nil {
		return dst, err
	}
	return dst, nil
}

// Escape returns a partition key value as Eval places it in a key (see the
// package doc), or an error wrapping ErrInvalidValue.
func Escape(val string) (string, error) {
	b, err := appendEscaped(nil, val)
	return string(b), err
}

const hexDigits = "0123456789ABCDEF"

func appendEscaped(dst []byte, val string) ([]byte, error) {
	if val == "" {
		return dst, fmt.Errorf("%w: empty", ErrInvalidValue)
	}
	if len(val) > MaxValueLen {
		return dst, fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxValueLen)
	}
	if strings.Trim(val, ".") == "" {
		for range len(val) {
			dst = append(dst, "%2E"...)
		}
		return dst, nil
	}
	for i := 0; i < len(val); {
		c := val[i]
		if c < utf8.RuneSelf {
			if c == '%' || c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
				dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(val[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			dst = append(dst, val[i:i+n]...)
		}
		i += n
	}
	return dst, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func hasDotDotSegment(s string) bool {
	for seg := range strings.SplitSeq(s, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func checkSafe(b []byte) error {
	switch {
	case len(b) > MaxPrefixLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrUnsafeKey, MaxPrefixLen)
	case len(b) > 0 && b[0] == '/':
		return fmt.Errorf("%w: starts with '/'", ErrUnsafeKey)
	}
	segStart := 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '/' {
			if i-segStart == 2 && b[segStart] == '.' && b[segStart+1] == '.' {
				return fmt.Errorf("%w: '..' path segment", ErrUnsafeKey)
			}
			segStart = i + 1
			continue
		}
		if c := b[i]; c == '\\' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: backslash or control character", ErrUnsafeKey)
		}
	}
	return nil
}

// Partition returns the identity of a record's partition: its escaped
// partition key values in Keys order, joined by '/' (escaped values never
// contain '/', so the join is unambiguous). Records with equal Partition go
// to the same object. It is "" for a template without partition keys.
// Errors wrap ErrMissingKey or ErrInvalidValue.
func (t *Template) Partition(meta map[string]string) (string, error) {
	if len(t.keys) == 0 {
		return "", nil
	}
	var buf []byte
	for i, k := range t.keys {
		val, ok := meta[k.MetaKey()]
		if !ok {
			return "", fmt.Errorf("%w: %s", ErrMissingKey, k)
		}
		if i > 0 {
			buf = append(buf, '/')
		}
		var err error
		if buf, err = appendEscaped(buf, val); err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
	}
	return string(buf), nil
}
