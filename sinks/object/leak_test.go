package object

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the package starts is stopped by its owner.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
