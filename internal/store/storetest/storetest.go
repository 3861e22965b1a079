// Package storetest is the contract test suite of app.Store and app.Tx, and
// that of app.Outbox. Every Store adapter runs Run against its real database,
// so that the use cases can rely on the port's doc comments whichever adapter
// is wired in; the adapters that implement app.Outbox run RunOutbox as well:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) app.Store { return openFresh(t) })
//	}
//
// The suite asserts only what the port promises. It also pins down two
// things every adapter must agree on: times keep microsecond precision (a
// time is truncated to the microsecond on write, as PostgreSQL's timestamptz
// keeps it) and come back in UTC; result slices may be nil or empty alike.
package storetest

import (
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
)

// test is one case of the suite, run on a store of its own.
type test struct {
	name string
	run  func(t *testing.T, s app.Store)
}

// Run runs the contract suite. open must return a new, empty, migrated store
// each time it is called, and close it with t.Cleanup. Every case runs in
// parallel with the others on a store of its own.
func Run(t *testing.T, open func(t *testing.T) app.Store) {
	var tests []test
	for _, group := range [][]test{
		memberTests(),
		roomTests(),
		membershipTests(),
		roomListTests(),
		messageTests(),
		eventTests(),
		transactionTests(),
		concurrencyTests(),
		taskTests(),
	} {
		tests = append(tests, group...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}
