package postgres

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const membershipColumns = "room_id, member_id, role, joined_at, last_read_seq, last_read_message_id"

const (
	selectMembership  = "SELECT " + membershipColumns + " FROM memberships WHERE room_id = $1 AND member_id = $2"
	selectMemberships = "SELECT " + membershipColumns + " FROM memberships WHERE room_id = $1 ORDER BY joined_at, member_id"
	// The zero AfterJoinedAt is before every stored time, so the key needs
	// no variant for "from the start".
	selectRoomMembers = "SELECT " + membershipColumns + ` FROM memberships
		WHERE room_id = $1 AND (joined_at, member_id) > ($2, $3)
		ORDER BY joined_at, member_id
		LIMIT $4`
	selectMemberRoomIDs = "SELECT room_id FROM memberships WHERE member_id = $1 ORDER BY room_id"
	// upsertMembership inserts nothing into a missing room rather than fail
	// on the foreign key, which would abort the whole transaction.
	upsertMembership = `
		INSERT INTO memberships (room_id, member_id, role, joined_at, last_read_seq, last_read_message_id)
		SELECT $1::text, $2::text, $3::text, $4::timestamptz, $5::bigint, $6::text
		WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $1)
		ON CONFLICT (room_id, member_id) DO UPDATE SET role = excluded.role`
	deleteMembershipRow = "DELETE FROM memberships WHERE room_id = $1 AND member_id = $2"
	moveReadPointerRow  = `
		UPDATE memberships SET last_read_seq = $1, last_read_message_id = $2
		WHERE room_id = $3 AND member_id = $4 AND last_read_seq < $1`
)

// Membership returns one member's membership of one room.
func (s *Store) Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error) {
	return getMembership(ctx, s.pool, roomID, memberID)
}

// RoomMembers pages a room's memberships ordered by (JoinedAt, MemberID),
// after the key in page.
func (s *Store) RoomMembers(ctx context.Context, roomID string, page app.MemberPage) ([]domain.Membership, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	return collect(ctx, s.pool, "list members of room "+roomID, selectRoomMembers,
		[]any{roomID, toDB(page.AfterJoinedAt), page.AfterMemberID, page.Limit}, scanMembership)
}

// MemberRoomIDs returns the ids of every room the member is in, in id order.
func (s *Store) MemberRoomIDs(ctx context.Context, memberID string) ([]string, error) {
	return collect(ctx, s.pool, "list rooms of member "+memberID, selectMemberRoomIDs, []any{memberID},
		func(row scanner) (string, error) {
			var id string
			err := row.Scan(&id)
			return id, err
		})
}

func getMembership(ctx context.Context, q querier, roomID, memberID string) (domain.Membership, error) {
	m, err := scanMembership(q.QueryRow(ctx, selectMembership, roomID, memberID))
	if err != nil {
		return domain.Membership{}, getError("load membership of "+memberID+" in room "+roomID, err, membershipNotFound(roomID, memberID))
	}
	return m, nil
}

func listMemberships(ctx context.Context, q querier, roomID string) ([]domain.Membership, error) {
	return collect(ctx, q, "list members of room "+roomID, selectMemberships, []any{roomID}, scanMembership)
}

func putMembership(ctx context.Context, q querier, m domain.Membership) error {
	tag, err := q.Exec(ctx, upsertMembership, m.RoomID, m.MemberID, string(m.Role), toDB(m.JoinedAt), m.LastReadSeq, m.LastReadMessageID)
	if err != nil {
		return dbError("put membership of "+m.MemberID+" in room "+m.RoomID, err)
	}
	return mustAffect(tag, roomNotFound(m.RoomID))
}

func deleteMembership(ctx context.Context, q querier, roomID, memberID string) error {
	tag, err := q.Exec(ctx, deleteMembershipRow, roomID, memberID)
	if err != nil {
		return dbError("delete membership of "+memberID+" in room "+roomID, err)
	}
	return mustAffect(tag, membershipNotFound(roomID, memberID))
}

func moveReadPointer(ctx context.Context, q querier, roomID, memberID string, seq int64, messageID string) (bool, error) {
	tag, err := q.Exec(ctx, moveReadPointerRow, seq, messageID, roomID, memberID)
	if err != nil {
		return false, dbError("move read pointer of "+memberID+" in room "+roomID, err)
	}
	if tag.RowsAffected() > 0 {
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

func scanMembership(row scanner) (domain.Membership, error) {
	var (
		m      domain.Membership
		joined time.Time
	)
	if err := row.Scan(&m.RoomID, &m.MemberID, &m.Role, &joined, &m.LastReadSeq, &m.LastReadMessageID); err != nil {
		return domain.Membership{}, err
	}
	m.JoinedAt = fromDB(joined)
	return m, nil
}
