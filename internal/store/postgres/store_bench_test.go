package postgres

import (
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/store/storetest"
)

// BenchmarkStoreSend measures SendMessage's transaction (with its outbox
// row) in a fresh schema of the test server, with the pool of a test store
// (4 connections, what Open gives a 2-CPU machine), one sender and many;
// see storetest.BenchSend. It is skipped when PostgreSQL is unavailable.
func BenchmarkStoreSend(b *testing.B) {
	storetest.BenchSend(b, func(b *testing.B) app.Store { return openTest(b) })
}

// BenchmarkStoreHistory measures history pages in a room of 100,000
// messages; see storetest.BenchHistory.
func BenchmarkStoreHistory(b *testing.B) {
	const size = 100_000
	s := openTest(b)
	room := newGroup(b, s)
	prefill(b, s, room.ID, size)
	storetest.BenchHistory(b, s, room.ID, size)
}
