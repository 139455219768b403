package searchtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Fake is a cluster that follows OpenSearch's documented _bulk semantics
// where the real server that runs here (ZincSearch) does not: items are
// answered one by one, in order; a document whose field has another JSON
// type than the index's first document gave it is refused with 400
// mapper_parsing_exception, and so is a document that is not an object;
// an index action with an _id replaces the document. Set RejectNext (the
// next n items answer 429) and Types (an index's field types, as fmt's %T
// of encoding/json's values, e.g. float64) before traffic starts.
type Fake struct {
	mu         sync.Mutex
	docs       map[string]map[string]json.RawMessage // index -> id -> doc
	Types      map[string]map[string]string          // index -> field -> JSON type
	nextID     int
	RejectNext int
	Requests   int
}

// NewFake returns an empty cluster; serve it with httptest.NewServer.
func NewFake() *Fake {
	return &Fake{docs: map[string]map[string]json.RawMessage{}, Types: map[string]map[string]string{}}
}

// ServeHTTP answers GET / and POST /_bulk.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		_, _ = w.Write([]byte(`{"name":"fake","version":{"distribution":"opensearch","number":"2.17.0"}}`))
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		f.bulk(w, r)
	default:
		http.Error(w, `{"error":"no route"}`, http.StatusNotFound)
	}
}

func (f *Fake) bulk(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Requests++
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

func (f *Fake) index(index, id string, doc json.RawMessage) (int, string) {
	if f.RejectNext > 0 {
		f.RejectNext--
		return http.StatusTooManyRequests, `{"type":"es_rejected_execution_exception","reason":"queue full"}`
	}
	var fields map[string]any
	if err := json.Unmarshal(doc, &fields); err != nil {
		return http.StatusBadRequest, `{"type":"mapper_parsing_exception","reason":"failed to parse: not an object"}`
	}
	types := f.Types[index]
	if types == nil {
		types = map[string]string{}
		f.Types[index] = types
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

// All returns every stored document by "index/id".
func (f *Fake) All() map[string]json.RawMessage {
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
