package opensearch_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The client runs health checks in the background: every test closes it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
