package prefix

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hydrant-io/hydrant/streams/record"
)

func BenchmarkPrefix_Eval(b *testing.B) {
	tmpl, err := Parse("logs/customer=!{partitionKeyFromQuery:c}/!{timestamp:yyyy/MM/dd/HH}/", false)
	if err != nil {
		b.Fatal(err)
	}
	v := Values{Time: time.Now(), Meta: map[string]string{record.QueryKey("c"): "customer-42"}}
	buf := make([]byte, 0, 128)
	for b.Loop() {
		buf, err = tmpl.AppendEval(buf[:0], v)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrefix_EvalString(b *testing.B) {
	tmpl, err := Parse("logs/", false)
	if err != nil {
		b.Fatal(err)
	}
	tmpl = tmpl.WithDefaultTime()
	v := Values{Time: time.Now()}
	for b.Loop() {
		if _, err := tmpl.Eval(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrefix_ObjectName(b *testing.B) {
	id := uuid.New()
	now := time.Now().UTC()
	for b.Loop() {
		_ = ObjectName("pipeline", 1, now, id, ".gz")
	}
}
