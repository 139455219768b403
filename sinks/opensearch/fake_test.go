package opensearch_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// fakeCluster follows OpenSearch's documented _bulk semantics, where the
// real server that runs here (ZincSearch) does not: items are answered one
// by one, in order; a document whose field has another JSON type than the
// index's first document gave it is refused with 400
// mapper_parsing_exception; a document that is not an object too; an
// index action with an _id replaces the document. rejectNext makes the
// next n items answer 429.
type fakeCluster struct {
	mu         sync.Mutex
	docs       map[string]map[string]json.RawMessage // index -> id -> doc
	types      map[string]map[string]string          // index -> field -> JSON type
	nextID     int
	rejectNext int
	requests   int
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{docs: map[string]map[string]json.RawMessage{}, types: map[string]map[string]string{}}
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		_, _ = w.Write([]byte(`{"name":"fake","version":{"distribution":"opensearch","number":"2.17.0"}}`))
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		f.bulk(w, r)
	default:
		http.Error(w, `{"error":"no route"}`, http.StatusNotFound)
	}
}

func (f *fakeCluster) bulk(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var items []string
	anyErr := false
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 || action["index"].Index == "" {
			http.Error(w, `{"error":{"type":"illegal_argument_exception","reason":"malformed action"},"status":400}`, http.StatusBadRequest)
			return
		}
		if !sc.Scan() {
			http.Error(w, `{"error":{"type":"illegal_argument_exception","reason":"action without a document"},"status":400}`, http.StatusBadRequest)
			return
		}
		doc := append(json.RawMessage(nil), sc.Bytes()...)
		a := action["index"]
		status, errText := f.index(a.Index, a.ID, doc)
		if status >= 300 {
			anyErr = true
			items = append(items, fmt.Sprintf(`{"index":{"_index":%q,"status":%d,"error":%s}}`, a.Index, status, errText))
		} else {
			items = append(items, fmt.Sprintf(`{"index":{"_index":%q,"status":%d,"result":"created"}}`, a.Index, status))
		}
	}
	fmt.Fprintf(w, `{"took":1,"errors":%t,"items":[%s]}`, anyErr, strings.Join(items, ","))
}

func (f *fakeCluster) index(index, id string, doc json.RawMessage) (int, string) {
	if f.rejectNext > 0 {
		f.rejectNext--
		return http.StatusTooManyRequests, `{"type":"es_rejected_execution_exception","reason":"queue full"}`
	}
	var fields map[string]any
	if err := json.Unmarshal(doc, &fields); err != nil {
		return http.StatusBadRequest, `{"type":"mapper_parsing_exception","reason":"failed to parse: not an object"}`
	}
	types := f.types[index]
	if types == nil {
		types = map[string]string{}
		f.types[index] = types
	}
	for k, v := range fields {
		t := fmt.Sprintf("%T", v)
		if have, ok := types[k]; ok && have != t && v != nil {
			return http.StatusBadRequest, fmt.Sprintf(`{"type":"mapper_parsing_exception","reason":"failed to parse field [%s] of type [%s]"}`, k, have)
		}
		if v != nil {
			types[k] = t
		}
	}
	if f.docs[index] == nil {
		f.docs[index] = map[string]json.RawMessage{}
	}
	if id == "" {
		f.nextID++
		id = fmt.Sprintf("auto-%d", f.nextID)
	}
	f.docs[index][id] = doc
	return http.StatusCreated, ""
}

// all returns every stored document with its index and id.
func (f *fakeCluster) all() map[string]json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]json.RawMessage{}
	for index, docs := range f.docs {
		for id, d := range docs {
			out[index+"/"+id] = d
		}
	}
	return out
}
