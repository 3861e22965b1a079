package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The streams run a goroutine each, and the store runs database/sql's; every
// one of them must have stopped once its test has cleaned up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
