package sqlite

import (
	"context"
	"database/sql"
	"math"
	"slices"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const messageColumns = "id, room_id, author_id, text, COALESCE(client_message_id, ''), seq, created_at, edited_at, deleted_at"

var (
	// historyQueries holds the history page statement in ascending and, for
	// the newest messages, descending order.
	historyQueries    = [2]string{statement(historyQuery(false)), statement(historyQuery(true))}
	selectLastMessage = statement("SELECT " + messageColumns + ` FROM messages
		WHERE room_id = ? AND deleted_at IS NULL
		ORDER BY seq DESC LIMIT 1`)
	countUnread = statement(`
		SELECT count(*) FROM messages
		WHERE room_id = ? AND seq > ? AND deleted_at IS NULL AND author_id <> ?`)
	selectMessage           = statement("SELECT " + messageColumns + " FROM messages WHERE id = ?")
	selectMessageByClientID = statement("SELECT " + messageColumns + ` FROM messages
		WHERE room_id = ? AND author_id = ? AND client_message_id = ?`)
	insertMessageRow = statement(`
		INSERT INTO messages (id, room_id, author_id, text, client_message_id, seq, created_at, edited_at, deleted_at)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?)`)
	updateMessageRow = statement("UPDATE messages SET text = ?, edited_at = ?, deleted_at = ? WHERE id = ?")
)

// Message returns one message, a tombstone included.
func (s *Store) Message(ctx context.Context, id string) (domain.Message, error) {
	return getMessage(ctx, s.read, id)
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
	ms := []domain.Message{}
	newest := 0
	if page.Newest {
		newest = 1
	}
	err := queryEach(ctx, s.read, "load history of room "+roomID, historyQueries[newest],
		[]any{roomID, page.AfterSeq, before, page.Limit},
		func(rows *sql.Rows) error {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			ms = append(ms, m)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if page.Newest {
		slices.Reverse(ms)
	}
	return ms, nil
}

// historyQuery selects a page of messages with AfterSeq < seq < BeforeSeq:
// the first ones in ascending order, or with newest the last ones in
// descending order.
func historyQuery(newest bool) string {
	order := "ASC"
	if newest {
		order = "DESC"
	}
	return "SELECT " + messageColumns + ` FROM messages
		WHERE room_id = ? AND seq > ? AND seq < ?
		ORDER BY seq ` + order + " LIMIT ?"
}

// LastMessage returns the room's newest message that is not deleted.
func (s *Store) LastMessage(ctx context.Context, roomID string) (domain.Message, error) {
	row := s.read.QueryRowContext(ctx, selectLastMessage, roomID)
	m, err := scanMessage(row)
	if err != nil {
		return domain.Message{}, getError("load last message of room "+roomID, err, domain.Errorf(domain.ErrNotFound, "room %s has no message", roomID))
	}
	return m, nil
}

// UnreadCount counts the room's messages with Seq > afterSeq that are not
// deleted and not written by memberID.
func (s *Store) UnreadCount(ctx context.Context, roomID, memberID string, afterSeq int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, countUnread, roomID, afterSeq, memberID).Scan(&n)
	if err != nil {
		return 0, dbError("count unread messages of room "+roomID, err)
	}
	return n, nil
}

func getMessage(ctx context.Context, q querier, id string) (domain.Message, error) {
	row := q.QueryRowContext(ctx, selectMessage, id)
	m, err := scanMessage(row)
	if err != nil {
		return domain.Message{}, getError("load message "+id, err, domain.Errorf(domain.ErrNotFound, "message %s not found", id))
	}
	return m, nil
}

func getMessageByClientID(ctx context.Context, q querier, roomID, authorID, clientMessageID string) (domain.Message, error) {
	row := q.QueryRowContext(ctx, selectMessageByClientID, roomID, authorID, clientMessageID)
	m, err := scanMessage(row)
	if err != nil {
		return domain.Message{}, getError("load message by client id in room "+roomID, err,
			domain.Errorf(domain.ErrNotFound, "message with client id %q not found", clientMessageID))
	}
	return m, nil
}

func insertMessage(ctx context.Context, q querier, m domain.Message) error {
	_, err := q.ExecContext(ctx, insertMessageRow, m.ID, m.RoomID, m.AuthorID, m.Text, m.ClientMessageID, m.Seq,
		toMicros(m.CreatedAt), toNullMicros(m.EditedAt), toNullMicros(m.DeletedAt))
	switch constraint(err) {
	case 0:
	case violatesPrimaryKey:
		return domain.Errorf(domain.ErrConflict, "message %s exists already", m.ID)
	case violatesUnique:
		return domain.Errorf(domain.ErrConflict, "room %s has a message with seq %d or client message id %q already", m.RoomID, m.Seq, m.ClientMessageID)
	case violatesForeignKey:
		return domain.Errorf(domain.ErrNotFound, "room %s not found", m.RoomID)
	}
	if err != nil {
		return dbError("insert message "+m.ID, err)
	}
	return nil
}

func updateMessage(ctx context.Context, q querier, m domain.Message) error {
	res, err := q.ExecContext(ctx, updateMessageRow, m.Text, toNullMicros(m.EditedAt), toNullMicros(m.DeletedAt), m.ID)
	if err != nil {
		return dbError("update message "+m.ID, err)
	}
	return mustAffect(res, "update message "+m.ID, domain.Errorf(domain.ErrNotFound, "message %s not found", m.ID))
}

func scanMessage(row scanner) (domain.Message, error) {
	var (
		m               domain.Message
		created         int64
		edited, deleted sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.RoomID, &m.AuthorID, &m.Text, &m.ClientMessageID, &m.Seq, &created, &edited, &deleted)
	if err != nil {
		return domain.Message{}, err
	}
	m.CreatedAt = fromMicros(created)
	m.EditedAt = fromNullMicros(edited)
	m.DeletedAt = fromNullMicros(deleted)
	return m, nil
}
