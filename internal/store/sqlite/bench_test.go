package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// benchRoom stores an empty public group.
func benchRoom(b *testing.B, s *Store) domain.Room {
	b.Helper()
	now := time.Now()
	room := domain.Room{ID: ulid.Make().String(), Kind: domain.KindPublicGroup, Name: "bench", CreatedAt: now, UpdatedAt: now}
	err := s.Update(b.Context(), func(ctx context.Context, tx app.Tx) error {
		return tx.InsertRoom(ctx, room)
	})
	if err != nil {
		b.Fatalf("InsertRoom: %v", err)
	}
	return room
}

// sendInTx does what sending a message does to the store: lock the room,
// insert the message at the next seq and append its event.
func sendInTx(ctx context.Context, tx app.Tx, roomID, text string, at time.Time) error {
	room, err := tx.Room(ctx, roomID)
	if err != nil {
		return err
	}
	m := domain.Message{ID: ulid.Make().String(), RoomID: roomID, AuthorID: "ann", Text: text, Seq: room.Seq + 1, CreatedAt: at}
	if err := tx.InsertMessage(ctx, m); err != nil {
		return err
	}
	_, err = tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventMessageSent, At: at, ActorID: "ann", MessageID: m.ID})
	return err
}

// BenchmarkAppendMessage measures one committed send: a transaction that
// inserts a message and appends its event, synced as the store syncs.
func BenchmarkAppendMessage(b *testing.B) {
	s := openTemp(b)
	room := benchRoom(b, s)
	text := "a message of ordinary length, about as long as people write in a chat"
	for i := 0; b.Loop(); i++ {
		err := s.Update(b.Context(), func(ctx context.Context, tx app.Tx) error {
			return sendInTx(ctx, tx, room.ID, text, time.Now())
		})
		if err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
	}
}

// BenchmarkHistoryPage measures the page a chat screen shows when scrolling
// back: the newest 50 messages before a seq, in rooms of 100,000 and of
// 1,000,000 messages. The cost must not grow with the size of the room.
func BenchmarkHistoryPage(b *testing.B) {
	for _, size := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("messages=%d", size), func(b *testing.B) {
			const pageSize = 50
			s := openTemp(b)
			room := benchRoom(b, s)
			start := time.Now()
			prefill(b, s, room.ID, size)
			prefilled := time.Since(start)

			for i := 0; b.Loop(); i++ {
				// Spread the pages over the room so that no single page stays cached.
				before := int64(pageSize + 1 + (i*7919)%(size-pageSize))
				page, err := s.Messages(b.Context(), room.ID, app.MessagePage{BeforeSeq: before, Limit: pageSize, Newest: true})
				if err != nil {
					b.Fatalf("Messages: %v", err)
				}
				if len(page) != pageSize || page[pageSize-1].Seq != before-1 {
					b.Fatalf("page before %d has %d messages", before, len(page))
				}
			}
			b.ReportMetric(prefilled.Seconds(), "prefill-s")
		})
	}
}

// prefill gives a room n messages, each with its MESSAGE_SENT event, in one
// transaction of three statements: a million sends through Update would take
// minutes, and only the shape of the data matters here.
func prefill(b *testing.B, s *Store, roomID string, n int) {
	b.Helper()
	ctx := b.Context()
	tx, err := s.write.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	const numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
	t0 := toMicros(time.Now())
	for _, step := range []struct {
		query string
		args  []any
	}{
		{numbers + `INSERT INTO messages (id, room_id, author_id, text, seq, created_at)
			SELECT printf('msg-%010d', i), ?, 'ann', 'message number ' || i || ' of a long history', i, ? + i * 1000 FROM n`,
			[]any{n, roomID, t0}},
		{numbers + `INSERT INTO room_events (room_id, seq, type, at, actor_id, message_id)
			SELECT ?, i, 'MESSAGE_SENT', ? + i * 1000, 'ann', printf('msg-%010d', i) FROM n`,
			[]any{n, roomID, t0}},
		{"UPDATE rooms SET seq = ? WHERE id = ?", []any{n, roomID}},
	} {
		if _, err := tx.ExecContext(ctx, step.query, step.args...); err != nil {
			b.Fatalf("prefill: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
