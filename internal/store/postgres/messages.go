package postgres

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const messageColumns = "id, room_id, author_id, text, COALESCE(client_message_id, ''), seq, created_at, edited_at, deleted_at"

const (
	selectLastMessage = "SELECT " + messageColumns + ` FROM messages
		WHERE room_id = $1 AND deleted_at IS NULL
		ORDER BY seq DESC LIMIT 1`
	countUnread = `
		SELECT count(*) FROM messages
		WHERE room_id = $1 AND seq > $2 AND deleted_at IS NULL AND author_id <> $3`
	selectMessage           = "SELECT " + messageColumns + " FROM messages WHERE id = $1"
	selectMessageByClientID = "SELECT " + messageColumns + ` FROM messages
		WHERE room_id = $1 AND author_id = $2 AND client_message_id = $3`
	// insertMessageRow inserts nothing, rather than fail and abort the
	// transaction, when the room is missing or a unique key is taken.
	insertMessageRow = `
		INSERT INTO messages (id, room_id, author_id, text, client_message_id, seq, created_at, edited_at, deleted_at)
		SELECT $1::text, $2::text, $3::text, $4::text, NULLIF($5::text, ''), $6::bigint, $7::timestamptz, $8::timestamptz, $9::timestamptz
		WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $2)
		ON CONFLICT DO NOTHING`
	messageExists    = "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)"
	updateMessageRow = "UPDATE messages SET text = $1, edited_at = $2, deleted_at = $3 WHERE id = $4"
)

// historyQueries holds the history page statement in ascending and, for the
// newest messages, descending order.
var historyQueries = [2]string{historyQuery(false), historyQuery(true)}

// historyQuery selects a page of messages with AfterSeq < seq < BeforeSeq:
// the first ones in ascending order, or with newest the last ones in
// descending order. Either is a range scan of messages_room_seq.
func historyQuery(newest bool) string {
	order := "ASC"
	if newest {
		order = "DESC"
	}
	return "SELECT " + messageColumns + ` FROM messages
		WHERE room_id = $1 AND seq > $2 AND seq < $3
		ORDER BY seq ` + order + " LIMIT $4"
}

// Message returns one message, a tombstone included.
func (s *Store) Message(ctx context.Context, id string) (domain.Message, error) {
	return getMessage(ctx, s.pool, id)
}

// Messages pages a room's history by Seq; see app.MessagePage. Tombstones are
// part of the history. Either direction is a range scan of the (room_id, seq)
// index, whatever the size of the room.
func (s *Store) Messages(ctx context.Context, roomID string, page app.MessagePage) ([]domain.Message, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	before := page.BeforeSeq
	if before == 0 {
		before = math.MaxInt64
	}
	newest := 0
	if page.Newest {
		newest = 1
	}
	ms, err := collect(ctx, s.pool, "load history of room "+roomID, historyQueries[newest],
		[]any{roomID, page.AfterSeq, before, page.Limit}, scanMessage)
	if err != nil {
		return nil, err
	}
	if page.Newest {
		slices.Reverse(ms)
	}
	return ms, nil
}

// LastMessage returns the room's newest message that is not deleted.
func (s *Store) LastMessage(ctx context.Context, roomID string) (domain.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, selectLastMessage, roomID))
	if err != nil {
		return domain.Message{}, getError("load last message of room "+roomID, err, domain.Errorf(domain.ErrNotFound, "room %s has no message", roomID))
	}
	return m, nil
}

// UnreadCount counts the room's messages with Seq > afterSeq that are not
// deleted and not written by memberID.
func (s *Store) UnreadCount(ctx context.Context, roomID, memberID string, afterSeq int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, countUnread, roomID, afterSeq, memberID).Scan(&n); err != nil {
		return 0, dbError("count unread messages of room "+roomID, err)
	}
	return n, nil
}

func getMessage(ctx context.Context, q querier, id string) (domain.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, selectMessage, id))
	if err != nil {
		return domain.Message{}, getError("load message "+id, err, domain.Errorf(domain.ErrNotFound, "message %s not found", id))
	}
	return m, nil
}

func getMessageByClientID(ctx context.Context, q querier, roomID, authorID, clientMessageID string) (domain.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, selectMessageByClientID, roomID, authorID, clientMessageID))
	if err != nil {
		return domain.Message{}, getError("load message by client id in room "+roomID, err,
			domain.Errorf(domain.ErrNotFound, "message with client id %q not found", clientMessageID))
	}
	return m, nil
}

func insertMessage(ctx context.Context, q querier, m domain.Message) error {
	what := "insert message " + m.ID
	tag, err := q.Exec(ctx, insertMessageRow, m.ID, m.RoomID, m.AuthorID, m.Text, m.ClientMessageID, m.Seq,
		toDB(m.CreatedAt), toDBPtr(m.EditedAt), toDBPtr(m.DeletedAt))
	if err != nil {
		return dbError(what, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing inserted: say why, in the order SQLite's constraints would.
	var idTaken, roomFound bool
	if err := q.QueryRow(ctx, messageExists, m.ID).Scan(&idTaken); err != nil {
		return dbError(what, err)
	}
	if idTaken {
		return domain.Errorf(domain.ErrConflict, "message %s exists already", m.ID)
	}
	if err := q.QueryRow(ctx, roomExists, m.RoomID).Scan(&roomFound); err != nil {
		return dbError(what, err)
	}
	if !roomFound {
		return roomNotFound(m.RoomID)
	}
	return domain.Errorf(domain.ErrConflict, "room %s has a message with seq %d or client message id %q already", m.RoomID, m.Seq, m.ClientMessageID)
}

func updateMessage(ctx context.Context, q querier, m domain.Message) error {
	tag, err := q.Exec(ctx, updateMessageRow, m.Text, toDBPtr(m.EditedAt), toDBPtr(m.DeletedAt), m.ID)
	if err != nil {
		return dbError("update message "+m.ID, err)
	}
	return mustAffect(tag, domain.Errorf(domain.ErrNotFound, "message %s not found", m.ID))
}

func scanMessage(row scanner) (domain.Message, error) {
	var (
		m               domain.Message
		created         time.Time
		edited, deleted *time.Time
	)
	err := row.Scan(&m.ID, &m.RoomID, &m.AuthorID, &m.Text, &m.ClientMessageID, &m.Seq, &created, &edited, &deleted)
	if err != nil {
		return domain.Message{}, err
	}
	m.CreatedAt = fromDB(created)
	m.EditedAt = fromDBPtr(edited)
	m.DeletedAt = fromDBPtr(deleted)
	return m, nil
}
