package postgres

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// eventColumns are the columns scanEvent reads: an event of room_events e
// and its message's current row in messages m, all NULL when the event names
// no message.
const eventColumns = `e.room_id, e.seq, e.type, e.at, e.actor_id, e.message_id, e.member_id, e.role,
	m.id, m.room_id, m.author_id, m.text, m.client_message_id, m.seq, m.created_at, m.edited_at, m.deleted_at`

const (
	selectEvents = "SELECT " + eventColumns + `
		FROM room_events e
		LEFT JOIN messages m ON m.id = e.message_id
		WHERE e.room_id = $1 AND e.seq > $2
		ORDER BY e.seq
		LIMIT $3`
	// appendEventRow advances the room's seq, stores the event under it and
	// records the event as unpublished, in one round trip. The UPDATE takes
	// the room's row lock (Tx.Room has taken it already), so the appends to
	// one room are numbered in commit order. No row back: no such room.
	appendEventRow = `
		WITH advanced AS (
			UPDATE rooms SET seq = seq + 1, updated_at = $2 WHERE id = $1 RETURNING id, seq
		), logged AS (
			INSERT INTO room_events (room_id, seq, type, at, actor_id, message_id, member_id, role)
			SELECT id, seq, $3::text, $2, $4::text, $5::text, $6::text, $7::text FROM advanced
			RETURNING room_id, seq
		)
		INSERT INTO outbox (room_id, seq) SELECT room_id, seq FROM logged RETURNING seq`
)

// Events returns up to limit events of a room with Seq > afterSeq, in Seq
// order. Each event that names a message carries the message as it is now:
// a message deleted since is its tombstone. Other events carry no message.
func (s *Store) Events(ctx context.Context, roomID string, afterSeq int64, limit int) ([]domain.Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return collect(ctx, s.pool, "load events of room "+roomID, selectEvents, []any{roomID, afterSeq, limit}, scanEvent)
}

// appendEvent numbers e after its room's latest event, stores it and puts it
// in the outbox.
func appendEvent(ctx context.Context, q querier, e domain.Event) (domain.Event, error) {
	e.At = toDB(e.At)
	err := q.QueryRow(ctx, appendEventRow, e.RoomID, e.At, string(e.Type), e.ActorID, e.MessageID, e.MemberID, string(e.Role)).Scan(&e.Seq)
	if err != nil {
		return domain.Event{}, getError("append event to room "+e.RoomID, err, roomNotFound(e.RoomID))
	}
	// At is returned as a later read returns it, so that the event published
	// live and the one a catching-up subscriber reads are the same.
	return e, nil
}

func scanEvent(row scanner) (domain.Event, error) {
	var (
		e  domain.Event
		at time.Time
		// The message columns are NULL when the event names no message.
		mID, mRoomID, mAuthorID, mText, mClientID *string
		mSeq                                      *int64
		mCreated, mEdited, mDeleted               *time.Time
	)
	err := row.Scan(&e.RoomID, &e.Seq, &e.Type, &at, &e.ActorID, &e.MessageID, &e.MemberID, &e.Role,
		&mID, &mRoomID, &mAuthorID, &mText, &mClientID, &mSeq, &mCreated, &mEdited, &mDeleted)
	if err != nil {
		return domain.Event{}, err
	}
	e.At = fromDB(at)
	if mID != nil {
		e.Message = &domain.Message{
			ID:              *mID,
			RoomID:          *mRoomID,
			AuthorID:        *mAuthorID,
			Text:            *mText,
			ClientMessageID: deref(mClientID),
			Seq:             *mSeq,
			CreatedAt:       fromDB(*mCreated),
			EditedAt:        fromDBPtr(mEdited),
			DeletedAt:       fromDBPtr(mDeleted),
		}
	}
	return e, nil
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
