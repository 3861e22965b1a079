package sqlite

import (
	"context"
	"database/sql"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const membershipColumns = "room_id, member_id, role, joined_at, last_read_seq, last_read_message_id"

var (
	selectMembership  = statement("SELECT " + membershipColumns + " FROM memberships WHERE room_id = ? AND member_id = ?")
	selectMemberships = statement("SELECT " + membershipColumns + " FROM memberships WHERE room_id = ? ORDER BY joined_at, member_id")
	// The zero AfterJoinedAt is before every stored time, so the key needs
	// no variant for "from the start".
	selectRoomMembers = statement("SELECT " + membershipColumns + ` FROM memberships
		WHERE room_id = ? AND (joined_at, member_id) > (?, ?)
		ORDER BY joined_at, member_id
		LIMIT ?`)
	selectMemberRoomIDs = statement("SELECT room_id FROM memberships WHERE member_id = ? ORDER BY room_id")
	upsertMembership    = statement(`
		INSERT INTO memberships (room_id, member_id, role, joined_at, last_read_seq, last_read_message_id)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (room_id, member_id) DO UPDATE SET role = excluded.role`)
	deleteMembershipRow = statement("DELETE FROM memberships WHERE room_id = ? AND member_id = ?")
	moveReadPointerRow  = statement(`
		UPDATE memberships SET last_read_seq = ?, last_read_message_id = ?
		WHERE room_id = ? AND member_id = ? AND last_read_seq < ?`)
)

// Membership returns one member's membership of one room.
func (s *Store) Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error) {
	return getMembership(ctx, s.read, roomID, memberID)
}

// RoomMembers pages a room's memberships ordered by (JoinedAt, MemberID),
// after the key in page.
func (s *Store) RoomMembers(ctx context.Context, roomID string, page app.MemberPage) ([]domain.Membership, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	return queryMemberships(ctx, s.read, "list members of room "+roomID, selectRoomMembers,
		[]any{roomID, toMicros(page.AfterJoinedAt), page.AfterMemberID, page.Limit})
}

// MemberRoomIDs returns the ids of every room the member is in, in id order.
func (s *Store) MemberRoomIDs(ctx context.Context, memberID string) ([]string, error) {
	ids := []string{}
	err := queryEach(ctx, s.read, "list rooms of member "+memberID,
		selectMemberRoomIDs, []any{memberID},
		func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func getMembership(ctx context.Context, q querier, roomID, memberID string) (domain.Membership, error) {
	row := q.QueryRowContext(ctx, selectMembership, roomID, memberID)
	m, err := scanMembership(row)
	if err != nil {
		return domain.Membership{}, getError("load membership of "+memberID+" in room "+roomID, err, membershipNotFound(roomID, memberID))
	}
	return m, nil
}

func listMemberships(ctx context.Context, q querier, roomID string) ([]domain.Membership, error) {
	return queryMemberships(ctx, q, "list members of room "+roomID, selectMemberships, []any{roomID})
}

func putMembership(ctx context.Context, q querier, m domain.Membership) error {
	_, err := q.ExecContext(ctx, upsertMembership, m.RoomID, m.MemberID, string(m.Role), toMicros(m.JoinedAt), m.LastReadSeq, m.LastReadMessageID)
	if constraint(err) == violatesForeignKey {
		return domain.Errorf(domain.ErrNotFound, "room %s not found", m.RoomID)
	}
	if err != nil {
		return dbError("put membership of "+m.MemberID+" in room "+m.RoomID, err)
	}
	return nil
}

func deleteMembership(ctx context.Context, q querier, roomID, memberID string) error {
	what := "delete membership of " + memberID + " in room " + roomID
	res, err := q.ExecContext(ctx, deleteMembershipRow, roomID, memberID)
	if err != nil {
		return dbError(what, err)
	}
	return mustAffect(res, what, membershipNotFound(roomID, memberID))
}

func moveReadPointer(ctx context.Context, q querier, roomID, memberID string, seq int64, messageID string) (bool, error) {
	what := "move read pointer of " + memberID + " in room " + roomID
	res, err := q.ExecContext(ctx, moveReadPointerRow, seq, messageID, roomID, memberID, seq)
	if err != nil {
		return false, dbError(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbError(what, err)
	}
	if n > 0 {
		return true, nil
	}
	// Nothing moved: tell a pointer already ahead from a missing membership.
	if _, err := getMembership(ctx, q, roomID, memberID); err != nil {
		return false, err
	}
	return false, nil
}

func membershipNotFound(roomID, memberID string) error {
	return domain.Errorf(domain.ErrNotFound, "member %s is not in room %s", memberID, roomID)
}

func queryMemberships(ctx context.Context, q querier, what, query string, args []any) ([]domain.Membership, error) {
	ms := []domain.Membership{}
	err := queryEach(ctx, q, what, query, args, func(rows *sql.Rows) error {
		m, err := scanMembership(rows)
		if err != nil {
			return err
		}
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ms, nil
}

func scanMembership(row scanner) (domain.Membership, error) {
	var (
		m      domain.Membership
		joined int64
	)
	if err := row.Scan(&m.RoomID, &m.MemberID, &m.Role, &joined, &m.LastReadSeq, &m.LastReadMessageID); err != nil {
		return domain.Membership{}, err
	}
	m.JoinedAt = fromMicros(joined)
	return m, nil
}
