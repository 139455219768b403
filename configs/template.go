package configs

import (
	"fmt"
	"strings"
)

// templateKind says which !{...} expressions a prefix may hold.
type templateKind int

const (
	prefixTemplate      templateKind = iota // destination prefix
	errorPrefixTemplate                     // error_output_prefix
	backupTemplate                          // backup.prefix: time and random only
	plainTemplate                           // staging.prefix: no expressions
)

// template checks the !{namespace:value} expressions of a prefix. keys are
// the partition keys jq_metadata processors define, for
// partitionKeyFromQuery.
func (v *validator) template(path, s string, kind templateKind, keys map[string]bool) {
	if len(s) > MaxPrefixLength {
		v.add(path, "longer than %d characters", MaxPrefixLength)
		return
	}
	sawErrorType := false
	rest := s
	for {
		i := strings.Index(rest, "!{")
		if i < 0 {
			break
		}
		rest = rest[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			v.add(path, "unterminated expression !{%s: missing '}'", truncate(rest, 40))
			return
		}
		expr := rest[:end]
		rest = rest[end+1:]
		if kind == plainTemplate {
			v.add(path, "expressions are not allowed here, got !{%s}", expr)
			continue
		}
		if msg := checkExpr(expr, kind, keys); msg != "" {
			v.add(path, "%s", msg)
		}
		if expr == "firehose:error-output-type" {
			sawErrorType = true
		}
	}
	if kind == errorPrefixTemplate && !sawErrorType {
		v.add(path, "must contain !{firehose:error-output-type}")
	}
}

// checkExpr returns a message when expr (the text inside !{...}) is not
// allowed in kind, or "".
func checkExpr(expr string, kind templateKind, keys map[string]bool) string {
	ns, val, ok := strings.Cut(expr, ":")
	if !ok {
		return fmt.Sprintf("invalid expression !{%s}: want !{namespace:value}", expr)
	}
	switch ns {
	case "timestamp":
		if val == "" {
			return "!{timestamp:PATTERN} needs a pattern such as yyyy/MM/dd/HH"
		}
		if strings.Count(val, "'")%2 != 0 {
			return fmt.Sprintf("unbalanced quote in timestamp pattern %q", val)
		}
	case "partitionKeyFromQuery", "partitionKeyFromLambda":
		if kind != prefixTemplate {
			return fmt.Sprintf("!{%s} is only allowed in a destination prefix", expr)
		}
		if val == "" {
			return fmt.Sprintf("!{%s:KEY} needs a key name", ns)
		}
		if ns == "partitionKeyFromQuery" && !keys[val] {
			return fmt.Sprintf("partition key %q is not defined by a jq_metadata processor of this pipeline or destination", val)
		}
	case "firehose":
		switch val {
		case "random-string":
		case "error-output-type":
			if kind != errorPrefixTemplate {
				return "!{firehose:error-output-type} is only allowed in error_output_prefix"
			}
		default:
			return fmt.Sprintf("unknown expression !{%s} (want firehose:random-string or firehose:error-output-type)", expr)
		}
	default:
		return fmt.Sprintf("unknown namespace %q in !{%s} (want timestamp, partitionKeyFromQuery, partitionKeyFromLambda or firehose)", ns, expr)
	}
	return ""
}
