package httpendpoint_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/sinks/httpendpoint"
	"github.com/hydrant-io/hydrant/streams/record"
)

// FuzzCheckResponse: the answer parser never panics, accepts only a 200
// JSON answer naming the request id with a numeric timestamp, and
// classifies every refusal as an *httpendpoint.Error, permanent only for
// 413.
func FuzzCheckResponse(f *testing.F) {
	const id = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"
	f.Add(200, "application/json", []byte(`{"requestId":"`+id+`","timestamp":1578090903599}`), id)
	f.Add(200, "application/json", []byte(`{"requestId":"`+id+`","timestamp":1578090903599,"errorMessage":null}`), id)
	f.Add(500, "application/json", []byte(`{"requestId":"`+id+`","timestamp":1,"errorMessage":"x"}`), id)
	f.Add(413, "", []byte(`too large`), id)
	f.Add(200, "application/json", []byte(`{"requestId":"`+id+`","timestamp":"1"}`), id)
	f.Add(200, "application/json", []byte(`{"requestId":"`+id+`","timestamp":-1e3}`), id)
	f.Add(200, "application/json; charset=utf-8", []byte(`{"requestId":null,"timestamp":1}`), "")
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, reqID string) {
		err := httpendpoint.CheckResponse(status, contentType, body, reqID)
		if err == nil {
			if status != http.StatusOK {
				t.Fatalf("status %d accepted", status)
			}
			var r struct {
				RequestID *string     `json:"requestId"`
				Timestamp json.Number `json:"timestamp"`
			}
			if jerr := json.Unmarshal(body, &r); jerr != nil || r.RequestID == nil || *r.RequestID != reqID {
				t.Fatalf("accepted %q for request %q (%v)", body, reqID, jerr)
			}
			if _, ferr := r.Timestamp.Float64(); ferr != nil {
				t.Fatalf("accepted timestamp %q", r.Timestamp)
			}
			return
		}
		var e *httpendpoint.Error
		if !errors.As(err, &e) {
			t.Fatalf("not an *Error: %v", err)
		}
		if sinks.IsPermanent(err) != (status == http.StatusRequestEntityTooLarge) {
			t.Fatalf("status %d: permanent=%v", status, sinks.IsPermanent(err))
		}
		if record.ErrorType(err, "") != record.HTTPEndpointFailed {
			t.Fatalf("error type of %v", err)
		}
		_ = err.Error()
	})
}
