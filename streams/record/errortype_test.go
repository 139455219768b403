package record

import "testing"

func TestErrorCode(t *testing.T) {
	for in, want := range map[string]string{
		S3Failed: "S3.Failed", HTTPEndpointFailed: "Http.Endpoint.Failed",
		ProcessingFailed: "Processing.Failed", PartitionKeyFailed: "Partition.Key.Failed",
	} {
		if got := ErrorCode(in); got != want {
			t.Errorf("ErrorCode(%q) = %q, want %q", in, got, want)
		}
	}
}
