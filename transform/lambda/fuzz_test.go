package lambda

import (
	"testing"

	"github.com/hydrant-io/hydrant/transform"
)

// FuzzDecode feeds arbitrary responses to the decoder: it must never panic,
// and when it accepts a response every record has a verdict and every Ok
// record exactly one output.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"records":[{"recordId":"id000","result":"Ok","data":"eA=="},{"recordId":"id001","result":"Dropped"}]}`))
	f.Add([]byte(`{"records":[{"recordId":"id000","result":"Ok","data":"eA==","metadata":{"partitionKeys":{"a":"b"}}},{"recordId":"id000","result":"Ok"}]}`))
	f.Add([]byte(`{"records":[{"recordId":"id001","result":"ProcessingFailed"},{"recordId":"id000","result":"Ok","data":""}]}`))
	f.Add([]byte(`{"errorMessage":"x","errorType":"y"}`))
	f.Add([]byte(`{"records":null}`))
	f.Add([]byte(`[]`))
	in := recs("a", "b")
	ids, _ := transform.RecordIDs(in)
	f.Fuzz(func(t *testing.T, body []byte) {
		res := make([]transform.Result, len(in))
		if err := Decode(body, in, ids, res); err != nil {
			return
		}
		for i, r := range res {
			switch r.Status {
			case transform.Ok:
				if len(r.Out) != 1 {
					t.Fatalf("record %d: Ok with %d outputs", i, len(r.Out))
				}
			case transform.Dropped:
			case transform.Failed:
				if r.Err == nil {
					t.Fatalf("record %d: Failed without an error", i)
				}
			default:
				t.Fatalf("record %d: status %d", i, r.Status)
			}
		}
	})
}
