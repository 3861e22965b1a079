package e2e_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the harness leaves no goroutine behind: socket
// readers, SSE readers and process waiters all end with their test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
