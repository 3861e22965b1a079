package sqlite

import (
	"context"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const roomColumns = "r.id, r.kind, r.name, COALESCE(r.chat_key, ''), r.created_at, r.updated_at, r.seq"

var (
	selectRoom        = statement("SELECT " + roomColumns + " FROM rooms r WHERE r.id = ?")
	selectChatByKey   = statement("SELECT " + roomColumns + " FROM rooms r WHERE r.chat_key = ? AND r.kind = ?")
	selectChatPartner = statement(`
		SELECT other.member_id
		FROM rooms r
		JOIN memberships self ON self.room_id = r.id AND self.member_id = ?
		JOIN memberships other ON other.room_id = r.id AND other.member_id <> self.member_id
		WHERE r.id = ? AND r.kind = ?
		ORDER BY other.member_id
		LIMIT 1`)
	insertRoomRow = statement(`
		INSERT INTO rooms (id, kind, name, chat_key, created_at, updated_at, seq)
		VALUES (?, ?, ?, NULLIF(?, ''), ?, ?, ?)`)
	renameRoomRow = statement("UPDATE rooms SET name = ? WHERE id = ?")
)

// Room returns one room.
func (s *Store) Room(ctx context.Context, id string) (domain.Room, error) {
	return getRoom(ctx, s.read, id)
}

// ChatPartner returns the member id of the other member of a CHAT room that
// memberID is in.
func (s *Store) ChatPartner(ctx context.Context, roomID, memberID string) (string, error) {
	var partner string
	err := s.read.QueryRowContext(ctx, selectChatPartner, memberID, roomID, string(domain.KindChat)).Scan(&partner)
	if err != nil {
		return "", getError("load chat partner in room "+roomID, err, domain.Errorf(domain.ErrNotFound, "chat %s not found", roomID))
	}
	return partner, nil
}

func getRoom(ctx context.Context, q querier, id string) (domain.Room, error) {
	row := q.QueryRowContext(ctx, selectRoom, id)
	r, err := scanRoom(row)
	if err != nil {
		return domain.Room{}, getError("load room "+id, err, domain.Errorf(domain.ErrNotFound, "room %s not found", id))
	}
	return r, nil
}

func getChatByKey(ctx context.Context, q querier, key string) (domain.Room, error) {
	row := q.QueryRowContext(ctx, selectChatByKey, key, string(domain.KindChat))
	r, err := scanRoom(row)
	if err != nil {
		return domain.Room{}, getError("load chat by key", err, domain.Errorf(domain.ErrNotFound, "chat not found"))
	}
	return r, nil
}

func insertRoom(ctx context.Context, q querier, r domain.Room) error {
	_, err := q.ExecContext(ctx, insertRoomRow, r.ID, string(r.Kind), r.Name, r.ChatKey, toMicros(r.CreatedAt), toMicros(r.UpdatedAt), r.Seq)
	switch constraint(err) {
	case 0:
	case violatesPrimaryKey:
		return domain.Errorf(domain.ErrConflict, "room %s exists already", r.ID)
	case violatesUnique:
		// chat_key is the only other unique column of rooms.
		return domain.Errorf(domain.ErrConflict, "a chat between these members exists already")
	}
	if err != nil {
		return dbError("insert room "+r.ID, err)
	}
	return nil
}

func renameRoom(ctx context.Context, q querier, roomID, name string) error {
	res, err := q.ExecContext(ctx, renameRoomRow, name, roomID)
	if err != nil {
		return dbError("rename room "+roomID, err)
	}
	return mustAffect(res, "rename room "+roomID, domain.Errorf(domain.ErrNotFound, "room %s not found", roomID))
}

func scanRoom(row scanner) (domain.Room, error) {
	var (
		r                  domain.Room
		created, updatedAt int64
	)
	if err := row.Scan(&r.ID, &r.Kind, &r.Name, &r.ChatKey, &created, &updatedAt, &r.Seq); err != nil {
		return domain.Room{}, err
	}
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(updatedAt)
	return r, nil
}
