package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a run leaves no goroutine behind (readers, senders,
// HTTP connections), and runs the child side of -procs when the smoke test
// re-executes this test binary as the tool does itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild(context.Background(), os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}
