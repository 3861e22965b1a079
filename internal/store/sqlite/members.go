package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const memberColumns = "id, name, created_at, last_seen_at"

var (
	selectMember = statement("SELECT " + memberColumns + " FROM members WHERE id = ?")
	// The ids come as one JSON array, so that one prepared statement serves
	// any number of them.
	selectMembers = statement("SELECT " + memberColumns + " FROM members WHERE id IN (SELECT value FROM json_each(?))")
	upsertMember  = statement(`
		INSERT INTO members (id, name, created_at, last_seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name
		WHERE excluded.name <> '' AND excluded.name <> members.name`)
	touchMember = statement("UPDATE members SET last_seen_at = ? WHERE id = ?")
)

// inChunk is how many ids one statement looks up: it bounds the work and the
// memory of one statement however many ids a caller passes.
const inChunk = 500

// Member returns one member.
func (s *Store) Member(ctx context.Context, id string) (domain.Member, error) {
	return getMember(ctx, s.read, id)
}

// Members returns the members with the given ids that exist, by id.
func (s *Store) Members(ctx context.Context, ids []string) (map[string]domain.Member, error) {
	return getMembers(ctx, s.read, ids)
}

// EnsureMember inserts m when no member has its id, and otherwise updates the
// name when m.Name is not empty and differs. It returns the stored member.
func (s *Store) EnsureMember(ctx context.Context, m domain.Member) (domain.Member, error) {
	var stored domain.Member
	err := s.commits.run(ctx, func(ctx context.Context, tx querier) error {
		_, err := tx.ExecContext(ctx, upsertMember, m.ID, m.Name, toMicros(m.CreatedAt), toNullMicros(m.LastSeenAt))
		if err != nil {
			return dbError("ensure member "+m.ID, err)
		}
		stored, err = getMember(ctx, tx, m.ID)
		return err
	})
	return stored, err
}

// TouchLastSeen sets a member's last-seen time.
func (s *Store) TouchLastSeen(ctx context.Context, memberID string, at time.Time) error {
	return s.commits.run(ctx, func(ctx context.Context, tx querier) error {
		res, err := tx.ExecContext(ctx, touchMember, toMicros(at), memberID)
		if err != nil {
			return dbError("touch last seen of member "+memberID, err)
		}
		return mustAffect(res, "touch last seen of member "+memberID, domain.Errorf(domain.ErrNotFound, "member %s not found", memberID))
	})
}

func getMember(ctx context.Context, q querier, id string) (domain.Member, error) {
	row := q.QueryRowContext(ctx, selectMember, id)
	m, err := scanMember(row)
	if err != nil {
		return domain.Member{}, getError("load member "+id, err, domain.Errorf(domain.ErrNotFound, "member %s not found", id))
	}
	return m, nil
}

func getMembers(ctx context.Context, q querier, ids []string) (map[string]domain.Member, error) {
	members := make(map[string]domain.Member, len(ids))
	for chunk := range slices.Chunk(ids, inChunk) {
		list, err := json.Marshal(chunk)
		if err != nil {
			return nil, fmt.Errorf("load members: %w", err)
		}
		err = queryEach(ctx, q, "load members", selectMembers, []any{string(list)}, func(rows *sql.Rows) error {
			m, err := scanMember(rows)
			if err != nil {
				return err
			}
			members[m.ID] = m
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return members, nil
}

func scanMember(row scanner) (domain.Member, error) {
	var (
		m        domain.Member
		created  int64
		lastSeen sql.NullInt64
	)
	if err := row.Scan(&m.ID, &m.Name, &created, &lastSeen); err != nil {
		return domain.Member{}, err
	}
	m.CreatedAt = fromMicros(created)
	m.LastSeenAt = fromNullMicros(lastSeen)
	return m, nil
}
