package sqlite

import (
	"testing"

	"go.uber.org/goleak"
)

// The driver and database/sql start goroutines per pool and per query; Close
// must stop them all.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
