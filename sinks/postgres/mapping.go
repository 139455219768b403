package postgres

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hydrant-io/hydrant/internal/jsonq"
)

// mapping computes each column's value from a JSON record: the first
// result of its jq expression, nil when it has none.
type mapping struct {
	names []string
	qs    []*jsonq.Query
	// plain: every expression is a field chain, answered by scanning
	// the record's bytes instead of decoding it.
	plain bool
}

func newMapping(cols []Column) (*mapping, error) {
	m := &mapping{plain: true}
	for _, c := range cols {
		q, err := jsonq.Compile(c.Query)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		m.names = append(m.names, c.Name)
		m.qs = append(m.qs, q)
		m.plain = m.plain && q.Plain()
	}
	return m, nil
}

// values fills out (one slot per column) from data.
func (m *mapping) values(data []byte, out []any) error {
	if m.plain {
		if !jsonq.Valid(data) {
			return fmt.Errorf("record is not a JSON document")
		}
		return jsonq.ScanAll(data, m.qs, out)
	}
	doc, err := jsonq.Decode(data)
	if err != nil {
		return fmt.Errorf("record is not a JSON document: %w", err)
	}
	for i, q := range m.qs {
		v, _, err := q.First(doc)
		if err != nil {
			return fmt.Errorf("column %s: %w", m.names[i], err)
		}
		out[i] = v
	}
	return nil
}

// parallelFrom is the batch size from which conversion is spread over the
// cores: below it, starting goroutines costs more than it saves.
const parallelFrom = 2048

// eachChunk calls f on contiguous chunks [lo, hi) of n items, on up to
// GOMAXPROCS goroutines when n is large, and returns the chunks' results
// in order.
func eachChunk[T any](n int, f func(lo, hi int) T) []T {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/(parallelFrom/2)))
	if n < parallelFrom || workers < 2 {
		return []T{f(0, n)}
	}
	out := make([]T, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { out[w] = f(lo, hi) })
	}
	wg.Wait()
	return out
}
