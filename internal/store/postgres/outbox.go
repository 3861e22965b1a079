package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const (
	// claimUnpublished locks up to $2 outbox rows at least $1 microseconds
	// old, skipping rows another relay has locked rather than waiting for
	// them, and returns their events joined with their messages as they are
	// now. MATERIALIZED keeps the locking subquery from being folded into
	// the join.
	claimUnpublished = `
		WITH claimed AS MATERIALIZED (
			SELECT room_id, seq FROM outbox
			WHERE created_at <= now() - $1::bigint * interval '1 microsecond'
			ORDER BY room_id, seq
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		SELECT ` + eventColumns + `
		FROM claimed c
		JOIN room_events e ON e.room_id = c.room_id AND e.seq = c.seq
		LEFT JOIN messages m ON m.id = e.message_id
		ORDER BY e.room_id, e.seq`
	// deletePublished deletes a batch of outbox rows in one statement.
	deletePublished = `
		DELETE FROM outbox o
		USING unnest($1::text[], $2::bigint[]) AS k (room_id, seq)
		WHERE o.room_id = k.room_id AND o.seq = k.seq`
)

// MarkPublished records that these events reached the broker by deleting
// their outbox rows. Keys that are not pending are ignored. A key whose row
// a relay has claimed waits for that relay to finish.
func (s *Store) MarkPublished(ctx context.Context, keys []app.EventKey) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, deletePublished, keyColumns(keys)...); err != nil {
		return dbError(fmt.Sprintf("mark %d events published", len(keys)), err)
	}
	return nil
}

// RelayUnpublished claims up to limit events appended at least minAge ago
// and still unpublished, calls publish with them in (RoomID, Seq) order,
// and marks them published when publish returns nil. The claim is a row
// lock held by a transaction for as long as publish runs: relays running at
// the same time skip each other's rows, and a relay whose node dies loses
// its connection, which rolls the transaction back and frees its rows for
// the next relay. When publish fails, nothing is marked and its error is
// returned. Each event carries its message as it is now, as Events returns
// it. When nothing is due, publish is not called.
func (s *Store) RelayUnpublished(ctx context.Context, minAge time.Duration, limit int, publish func(ctx context.Context, events []domain.Event) error) (int, error) {
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	var published int
	err := s.inTx(ctx, func(q pgx.Tx) error {
		events, err := collect(ctx, q, "claim unpublished events", claimUnpublished, []any{max(minAge, 0).Microseconds(), limit}, scanEvent)
		if err != nil || len(events) == 0 {
			return err
		}
		if err := publish(ctx, events); err != nil {
			return fmt.Errorf("relay %d unpublished events: %w", len(events), err)
		}
		keys := make([]app.EventKey, len(events))
		for i, e := range events {
			keys[i] = app.EventKey{RoomID: e.RoomID, Seq: e.Seq}
		}
		if _, err := q.Exec(ctx, deletePublished, keyColumns(keys)...); err != nil {
			return dbError(fmt.Sprintf("mark %d relayed events published", len(keys)), err)
		}
		published = len(events)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return published, nil
}

// keyColumns turns keys into the two array arguments of deletePublished.
func keyColumns(keys []app.EventKey) []any {
	rooms := make([]string, len(keys))
	seqs := make([]int64, len(keys))
	for i, k := range keys {
		rooms[i], seqs[i] = k.RoomID, k.Seq
	}
	return []any{rooms, seqs}
}
