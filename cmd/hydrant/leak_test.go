package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the package starts is stopped by its owner.
func TestMain(m *testing.M) {
	// net/http lingers 500 ms on a connection it closes after refusing a
	// request whose body it did not read (its RST avoidance), outliving
	// the test that caused it: that is the server's, not a leak of ours.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"))
}
