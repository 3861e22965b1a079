package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const memberColumns = "id, name, created_at, last_seen_at"

const (
	selectMember  = "SELECT " + memberColumns + " FROM members WHERE id = $1"
	selectMembers = "SELECT " + memberColumns + " FROM members WHERE id = ANY($1)"
	// ensureMember inserts the member or renames it, and returns the row in
	// one round trip. When neither happens, RETURNING is empty and the second
	// branch reads the row as it was when the statement began.
	ensureMember = `
		WITH written AS (
			INSERT INTO members AS m (id, name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name
			WHERE excluded.name <> '' AND excluded.name <> m.name
			RETURNING ` + memberColumns + `
		)
		SELECT ` + memberColumns + ` FROM written
		UNION ALL
		SELECT ` + memberColumns + ` FROM members WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM written)`
	touchMember = "UPDATE members SET last_seen_at = $1 WHERE id = $2"
)

// Member returns one member.
func (s *Store) Member(ctx context.Context, id string) (domain.Member, error) {
	return getMember(ctx, s.pool, id)
}

// Members returns the members with the given ids that exist, by id. The ids
// go as one array parameter, however many there are.
func (s *Store) Members(ctx context.Context, ids []string) (map[string]domain.Member, error) {
	return getMembers(ctx, s.pool, ids)
}

// EnsureMember inserts m when no member has its id, and otherwise updates the
// name when m.Name is not empty and differs. It returns the stored member.
func (s *Store) EnsureMember(ctx context.Context, m domain.Member) (domain.Member, error) {
	what := "ensure member " + m.ID
	row := s.pool.QueryRow(ctx, ensureMember, m.ID, m.Name, toDB(m.CreatedAt), toDBPtr(m.LastSeenAt))
	stored, err := scanMember(row)
	if err == nil {
		return stored, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return domain.Member{}, dbError(what, err)
	}
	// No row: another transaction inserted the member after this statement
	// took its snapshot, and ON CONFLICT found it there. A new statement
	// sees it.
	return getMember(ctx, s.pool, m.ID)
}

// TouchLastSeen sets a member's last-seen time.
func (s *Store) TouchLastSeen(ctx context.Context, memberID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, touchMember, toDB(at), memberID)
	if err != nil {
		return dbError("touch last seen of member "+memberID, err)
	}
	return mustAffect(tag, domain.Errorf(domain.ErrNotFound, "member %s not found", memberID))
}

func getMember(ctx context.Context, q querier, id string) (domain.Member, error) {
	m, err := scanMember(q.QueryRow(ctx, selectMember, id))
	if err != nil {
		return domain.Member{}, getError("load member "+id, err, domain.Errorf(domain.ErrNotFound, "member %s not found", id))
	}
	return m, nil
}

func getMembers(ctx context.Context, q querier, ids []string) (map[string]domain.Member, error) {
	members := make(map[string]domain.Member, len(ids))
	if len(ids) == 0 {
		return members, nil
	}
	list, err := collect(ctx, q, "load members", selectMembers, []any{ids}, scanMember)
	if err != nil {
		return nil, err
	}
	for _, m := range list {
		members[m.ID] = m
	}
	return members, nil
}

func scanMember(row scanner) (domain.Member, error) {
	var (
		m        domain.Member
		created  time.Time
		lastSeen *time.Time
	)
	if err := row.Scan(&m.ID, &m.Name, &created, &lastSeen); err != nil {
		return domain.Member{}, err
	}
	m.CreatedAt = fromDB(created)
	m.LastSeenAt = fromDBPtr(lastSeen)
	return m, nil
}
