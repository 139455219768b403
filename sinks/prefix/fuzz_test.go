package prefix

import (
	"strings"
	"testing"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

func FuzzTemplate(f *testing.F) {
	f.Add("logs/!{timestamp:yyyy/MM/dd/HH/}", "a", "b", false)
	f.Add("c=!{partitionKeyFromQuery:k}/d=!{partitionKeyFromLambda:k}/", "..", "/etc", false)
	f.Add("!{partitionKeyFromQuery:k}!{partitionKeyFromLambda:k}", ".", ".", false)
	f.Add("e/!{firehose:error-output-type}/!{timestamp:YYYY-ww 'q''' hh a}", "", "", true)
	f.Add("!{firehose:random-string}/!{timestamp:EEEE MMMM DDD SSS}", "\\", "\x00", false)
	f.Add("!{timestamp:'unterminated}", "x", "y", false)
	f.Fuzz(func(t *testing.T, tmpl, q, l string, errType bool) {
		tp, err := Parse(tmpl, errType)
		if err != nil {
			return
		}
		_ = tp.WithDefaultTime()
		v := Values{
			Time:      time.Date(2021, 1, 1, 0, 30, 0, 0, time.UTC),
			Meta:      map[string]string{record.QueryKey("k"): q, record.LambdaKey("k"): l},
			ErrorType: "processing-failed",
		}
		got, err := tp.Eval(v)
		if err != nil {
			return
		}
		if strings.HasPrefix(got, "/") || strings.ContainsAny(got, "\\") || hasControl(got) || hasDotDotSegment(got) {
			t.Fatalf("unsafe key %q from template %q", got, tmpl)
		}
		if len(got) > MaxPrefixLen {
			t.Fatalf("key longer than %d bytes", MaxPrefixLen)
		}
	})
}
