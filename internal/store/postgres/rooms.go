package postgres

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// roomColumns are the columns scanRoom reads. chat_key is bytea, since a
// chat key holds a NUL byte, which text cannot.
const roomColumns = "r.id, r.kind, r.name, r.chat_key, r.created_at, r.updated_at, r.seq"

const (
	selectRoom = "SELECT " + roomColumns + " FROM rooms r WHERE r.id = $1"
	// lockRoom takes the lock that UPDATE takes to change the room's seq: it
	// queues the appends to one room, and unlike FOR UPDATE it does not wait
	// for, nor block, transactions that only reference the room by foreign
	// key (a membership or a message inserted elsewhere).
	lockRoom          = selectRoom + " FOR NO KEY UPDATE"
	selectChatByKey   = "SELECT " + roomColumns + " FROM rooms r WHERE r.chat_key = $1 AND r.kind = '" + string(domain.KindChat) + "'"
	selectChatPartner = `
		SELECT other.member_id
		FROM rooms r
		JOIN memberships self ON self.room_id = r.id AND self.member_id = $1
		JOIN memberships other ON other.room_id = r.id AND other.member_id <> self.member_id
		WHERE r.id = $2 AND r.kind = '` + string(domain.KindChat) + `'
		ORDER BY other.member_id
		LIMIT 1`
	// insertRoomRow does nothing on a taken id or chat key rather than fail:
	// a failed statement would abort the whole transaction, and the caller
	// may go on after the conflict.
	insertRoomRow = `
		INSERT INTO rooms (id, kind, name, chat_key, created_at, updated_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`
	roomExists    = "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)"
	renameRoomRow = "UPDATE rooms SET name = $1 WHERE id = $2"
)

// Room returns one room.
func (s *Store) Room(ctx context.Context, id string) (domain.Room, error) {
	return getRoom(ctx, s.pool, selectRoom, id)
}

// ChatPartner returns the member id of the other member of a CHAT room that
// memberID is in.
func (s *Store) ChatPartner(ctx context.Context, roomID, memberID string) (string, error) {
	var partner string
	err := s.pool.QueryRow(ctx, selectChatPartner, memberID, roomID).Scan(&partner)
	if err != nil {
		return "", getError("load chat partner in room "+roomID, err, domain.Errorf(domain.ErrNotFound, "chat %s not found", roomID))
	}
	return partner, nil
}

// getRoom reads a room with query, selectRoom or lockRoom.
func getRoom(ctx context.Context, q querier, query, id string) (domain.Room, error) {
	r, err := scanRoom(q.QueryRow(ctx, query, id))
	if err != nil {
		return domain.Room{}, getError("load room "+id, err, roomNotFound(id))
	}
	return r, nil
}

func getChatByKey(ctx context.Context, q querier, key string) (domain.Room, error) {
	r, err := scanRoom(q.QueryRow(ctx, selectChatByKey, []byte(key)))
	if err != nil {
		return domain.Room{}, getError("load chat by key", err, domain.Errorf(domain.ErrNotFound, "chat not found"))
	}
	return r, nil
}

func insertRoom(ctx context.Context, q querier, r domain.Room) error {
	what := "insert room " + r.ID
	var chatKey []byte // NULL for a room that is no CHAT
	if r.ChatKey != "" {
		chatKey = []byte(r.ChatKey)
	}
	tag, err := q.Exec(ctx, insertRoomRow, r.ID, string(r.Kind), r.Name, chatKey, toDB(r.CreatedAt), toDB(r.UpdatedAt), r.Seq)
	if err != nil {
		return dbError(what, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing inserted: the id or the chat key is taken. Say which.
	var idTaken bool
	if err := q.QueryRow(ctx, roomExists, r.ID).Scan(&idTaken); err != nil {
		return dbError(what, err)
	}
	if idTaken {
		return domain.Errorf(domain.ErrConflict, "room %s exists already", r.ID)
	}
	return domain.Errorf(domain.ErrConflict, "a chat between these members exists already")
}

func renameRoom(ctx context.Context, q querier, roomID, name string) error {
	tag, err := q.Exec(ctx, renameRoomRow, name, roomID)
	if err != nil {
		return dbError("rename room "+roomID, err)
	}
	return mustAffect(tag, roomNotFound(roomID))
}

func roomNotFound(id string) error { return domain.Errorf(domain.ErrNotFound, "room %s not found", id) }

func scanRoom(row scanner) (domain.Room, error) {
	var (
		r                  domain.Room
		chatKey            []byte
		created, updatedAt time.Time
	)
	if err := row.Scan(&r.ID, &r.Kind, &r.Name, &chatKey, &created, &updatedAt, &r.Seq); err != nil {
		return domain.Room{}, err
	}
	r.ChatKey = string(chatKey)
	r.CreatedAt = fromDB(created)
	r.UpdatedAt = fromDB(updatedAt)
	return r, nil
}
