package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nordkapp42/nordkapp42/internal/app"
)

// BenchmarkAppendMessage measures one committed send: a transaction that
// locks the room, inserts a message and appends its event (and outbox row),
// committed as the server commits (synchronous_commit as configured).
func BenchmarkAppendMessage(b *testing.B) {
	s := openTest(b)
	room := newGroup(b, s)
	text := "a message of ordinary length, about as long as people write in a chat"
	for i := 0; b.Loop(); i++ {
		err := s.Update(b.Context(), func(ctx context.Context, tx app.Tx) error {
			_, err := sendInTx(ctx, tx, room.ID, "ann", text, time.Now())
			return err
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
			if size > 100_000 && testing.Short() {
				b.Skip("the prefill of a million messages takes about a minute")
			}
			const pageSize = 50
			s := openTest(b)
			room := newGroup(b, s)
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
// transaction of three statements over generate_series, and analyzes the
// tables: n sends through Update would take minutes, and only the shape of
// the data matters here. The events skip the outbox, as if published.
func prefill(tb testing.TB, s *Store, roomID string, n int) {
	tb.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, step := range []struct {
			query string
			args  []any
		}{
			{`INSERT INTO messages (id, room_id, author_id, text, seq, created_at)
				SELECT 'msg-' || lpad(i::text, 10, '0'), $1, 'ann', 'message number ' || i || ' of a long history', i,
				       now() + i * interval '1 millisecond'
				FROM generate_series(1, $2::bigint) i`, []any{roomID, n}},
			{`INSERT INTO room_events (room_id, seq, type, at, actor_id, message_id)
				SELECT $1, i, 'MESSAGE_SENT', now() + i * interval '1 millisecond', 'ann', 'msg-' || lpad(i::text, 10, '0')
				FROM generate_series(1, $2::bigint) i`, []any{roomID, n}},
			{"UPDATE rooms SET seq = $2 WHERE id = $1", []any{roomID, n}},
		} {
			if _, err := tx.Exec(ctx, step.query, step.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("prefill: %v", err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE messages, room_events"); err != nil {
		tb.Fatalf("analyze: %v", err)
	}
}
