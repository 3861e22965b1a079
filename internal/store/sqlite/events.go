package sqlite

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var (
	// selectEvents joins each event with its message's current row; the
	// message columns are NULL when the event names no message.
	selectEvents = statement(`
		SELECT e.room_id, e.seq, e.type, e.at, e.actor_id, e.message_id, e.member_id, e.role,
		       m.id, m.room_id, m.author_id, m.text, m.client_message_id, m.seq, m.created_at, m.edited_at, m.deleted_at
		FROM room_events e
		LEFT JOIN messages m ON m.id = e.message_id
		WHERE e.room_id = ? AND e.seq > ?
		ORDER BY e.seq
		LIMIT ?`)
	// advanceRoom both reads and advances the room's seq.
	advanceRoom    = statement("UPDATE rooms SET seq = seq + 1, updated_at = ? WHERE id = ? RETURNING seq")
	insertEventRow = statement(`
		INSERT INTO room_events (room_id, seq, type, at, actor_id, message_id, member_id, role)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
)

// Events returns up to limit events of a room with Seq > afterSeq, in Seq
// order. Each event that names a message carries the message as it is now:
// a message deleted since is its tombstone. Other events carry no message.
func (s *Store) Events(ctx context.Context, roomID string, afterSeq int64, limit int) ([]domain.Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	events := []domain.Event{}
	err := queryEach(ctx, s.read, "load events of room "+roomID, selectEvents,
		[]any{roomID, afterSeq, limit},
		func(rows *sql.Rows) error {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			events = append(events, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// appendEvent numbers e after its room's latest event and stores it. The one
// UPDATE both reads and advances the room's seq, so it needs no lock of its
// own; the single writer already orders it after every earlier append.
func appendEvent(ctx context.Context, q querier, e domain.Event) (domain.Event, error) {
	what := "append event to room " + e.RoomID
	err := q.QueryRowContext(ctx, advanceRoom, toMicros(e.At), e.RoomID).Scan(&e.Seq)
	if err != nil {
		return domain.Event{}, getError(what, err, domain.Errorf(domain.ErrNotFound, "room %s not found", e.RoomID))
	}
	_, err = q.ExecContext(ctx, insertEventRow, e.RoomID, e.Seq, string(e.Type), toMicros(e.At), e.ActorID, e.MessageID, e.MemberID, string(e.Role))
	if err != nil {
		return domain.Event{}, dbError(what+" at seq "+strconv.FormatInt(e.Seq, 10), err)
	}
	// Return At as a later read returns it, so that the event published live
	// and the one a catching-up subscriber reads are the same.
	e.At = truncate(e.At)
	return e, nil
}

func scanEvent(rows *sql.Rows) (domain.Event, error) {
	var (
		e  domain.Event
		at int64
		// The message columns are NULL when the event names no message.
		mID, mRoomID, mAuthorID, mText, mClientID sql.NullString
		mSeq, mCreated, mEdited, mDeleted         sql.NullInt64
	)
	err := rows.Scan(&e.RoomID, &e.Seq, &e.Type, &at, &e.ActorID, &e.MessageID, &e.MemberID, &e.Role,
		&mID, &mRoomID, &mAuthorID, &mText, &mClientID, &mSeq, &mCreated, &mEdited, &mDeleted)
	if err != nil {
		return domain.Event{}, err
	}
	e.At = fromMicros(at)
	if mID.Valid {
		e.Message = &domain.Message{
			ID:              mID.String,
			RoomID:          mRoomID.String,
			AuthorID:        mAuthorID.String,
			Text:            mText.String,
			ClientMessageID: mClientID.String,
			Seq:             mSeq.Int64,
			CreatedAt:       fromMicros(mCreated.Int64),
			EditedAt:        fromNullMicros(mEdited),
			DeletedAt:       fromNullMicros(mDeleted),
		}
	}
	return e, nil
}
