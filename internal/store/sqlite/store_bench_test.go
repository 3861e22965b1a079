package sqlite

import (
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/store/storetest"
)

// BenchmarkStoreSend measures SendMessage's transaction on a file store
// opened as production opens it (WAL, synchronous=FULL), one sender and
// many; see storetest.BenchSend.
func BenchmarkStoreSend(b *testing.B) {
	storetest.BenchSend(b, func(b *testing.B) app.Store { return openTemp(b) })
}

// BenchmarkStoreHistory measures history pages in a room of 100,000
// messages; see storetest.BenchHistory.
func BenchmarkStoreHistory(b *testing.B) {
	const size = 100_000
	s := openTemp(b)
	room := benchRoom(b, s)
	prefill(b, s, room.ID, size)
	storetest.BenchHistory(b, s, room.ID, size)
}
