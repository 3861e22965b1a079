package features

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cucumber/godog"
)

// scenarioTB lets the e2e harness, written against testing.TB, run inside a
// godog step. godog runs each scenario as a subtest but does not hand its
// *testing.T to steps, only a godog.TestingT, whose FailNow stops the step
// (godog recovers it) rather than a test goroutine. So failures go to the
// scenario's godog.TestingT, and cleanups run when the scenario ends rather
// than when TestFeatures does, which closes each scenario's sockets and stops
// their reader goroutines before the next scenario starts.
//
// The embedded TB is the TestFeatures test itself; it is there for the
// interface's unexported method and for the methods the harness does not call
// from steps (TempDir, Context). Every method the harness calls from a step is
// overridden below.
type scenarioTB struct {
	testing.TB
	gt godog.TestingT

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

func newScenarioTB(outer testing.TB, gt godog.TestingT) *scenarioTB {
	return &scenarioTB{TB: outer, gt: gt}
}

// Helper does nothing: godog reports the step that failed, not a line.
func (s *scenarioTB) Helper() {}

// Name returns the scenario's name.
func (s *scenarioTB) Name() string { return s.gt.Name() }

// Log logs to the scenario.
func (s *scenarioTB) Log(args ...any) { s.gt.Log(args...) }

// Logf logs to the scenario.
func (s *scenarioTB) Logf(format string, args ...any) { s.gt.Logf(format, args...) }

// Error fails the scenario and goes on.
func (s *scenarioTB) Error(args ...any) { s.markFailed(); s.gt.Error(args...) }

// Errorf fails the scenario and goes on.
func (s *scenarioTB) Errorf(format string, args ...any) { s.markFailed(); s.gt.Errorf(format, args...) }

// Fail fails the scenario and goes on.
func (s *scenarioTB) Fail() { s.markFailed(); s.gt.Fail() }

// FailNow fails the scenario and stops the step.
func (s *scenarioTB) FailNow() { s.markFailed(); s.gt.FailNow() }

// Fatal fails the scenario and stops the step. It goes through Error so that
// godog's own report of the step carries the message too.
func (s *scenarioTB) Fatal(args ...any) { s.markFailed(); s.gt.Error(args...); s.gt.FailNow() }

// Fatalf fails the scenario and stops the step, like Fatal.
func (s *scenarioTB) Fatalf(format string, args ...any) {
	s.markFailed()
	s.gt.Errorf(format, args...)
	s.gt.FailNow()
}

// Skip marks the scenario skipped.
func (s *scenarioTB) Skip(args ...any) { s.gt.Skip(args...) }

// Skipf marks the scenario skipped.
func (s *scenarioTB) Skipf(format string, args ...any) { s.gt.Skipf(format, args...) }

// SkipNow marks the scenario skipped and stops the step.
func (s *scenarioTB) SkipNow() { s.gt.SkipNow() }

// Skipped reports whether the scenario was skipped.
func (s *scenarioTB) Skipped() bool { return s.gt.Skipped() }

// Failed reports whether the scenario failed through this TB.
func (s *scenarioTB) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *scenarioTB) markFailed() {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
}

// Cleanup registers fn to run when the scenario ends.
func (s *scenarioTB) Cleanup(fn func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, fn)
	s.mu.Unlock()
}

// runCleanups runs the registered cleanups, last registered first, once. A
// cleanup that calls FailNow (godog panics to stop a step) ends only itself,
// and is reported in the returned error.
func (s *scenarioTB) runCleanups() error {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		if err := runCleanup(fns[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runCleanup(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scenario cleanup stopped: %v", r)
		}
	}()
	fn()
	return nil
}
