package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// roomsOfQueries holds the RoomsOf statement for each filter: by kind or not,
// before a key or from the newest. Separate statements keep each plan
// simple; a condition such as "$2 IS NULL OR kind = $2" would not.
var roomsOfQueries = func() (qs [2][2]string) {
	for kind := range 2 {
		for before := range 2 {
			n := 1
			q := "SELECT " + roomColumns + `
				FROM memberships m JOIN rooms r ON r.id = m.room_id
				WHERE m.member_id = $1`
			if kind == 1 {
				n++
				q += " AND r.kind = $" + strconv.Itoa(n)
			}
			if before == 1 {
				q += " AND (r.updated_at, r.id) < ($" + strconv.Itoa(n+1) + ", $" + strconv.Itoa(n+2) + ")"
				n += 2
			}
			qs[kind][before] = q + " ORDER BY r.updated_at DESC, r.id DESC LIMIT $" + strconv.Itoa(n+1)
		}
	}
	return qs
}()

// searchQueries holds the SearchRooms statement from the start and after a
// key. The kinds are literals so that the planner matches the predicate of
// the rooms_search index and walks it in (name, id) order.
var searchQueries = func() (qs [2]string) {
	for after := range 2 {
		q := "SELECT " + roomColumns + `
			FROM rooms r
			WHERE r.kind <> '` + string(domain.KindChat) + `'
			  AND (r.kind IN ('` + string(domain.KindPublicGroup) + `', '` + string(domain.KindPublicChannel) + `') OR EXISTS (
			        SELECT 1 FROM memberships m WHERE m.member_id = $1 AND m.room_id = r.id))
			  AND r.name ILIKE $2 ESCAPE '\'`
		limit := "$3"
		if after == 1 {
			q += " AND (r.name, r.id) > ($3, $4)"
			limit = "$5"
		}
		qs[after] = q + " ORDER BY r.name, r.id LIMIT " + limit
	}
	return qs
}()

// RoomsOf pages the rooms a member is in, ordered by (UpdatedAt, ID)
// descending, before the key in page when it has one.
func (s *Store) RoomsOf(ctx context.Context, memberID string, page app.RoomPage) ([]domain.Room, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	args := []any{memberID}
	var kind, before int
	if page.Kind != "" {
		kind = 1
		args = append(args, string(page.Kind))
	}
	if !page.BeforeUpdateAt.IsZero() {
		before = 1
		args = append(args, toDB(page.BeforeUpdateAt), page.BeforeID)
	}
	args = append(args, page.Limit)
	return collect(ctx, s.pool, "list rooms of member "+memberID, roomsOfQueries[kind][before], args, scanRoom)
}

// SearchRooms pages the non-CHAT rooms that are public or that the member is
// in, whose name contains query, ordered by (Name, ID) after the key in page
// when it has one. With the "C" collation of the name column, ILIKE ignores
// case for ASCII letters only, as SQLite's LIKE does; '%', '_' and '\' in
// query match themselves.
func (s *Store) SearchRooms(ctx context.Context, memberID, query string, page app.SearchPage) ([]domain.Room, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	args := []any{memberID, "%" + escapeLike(query) + "%"}
	var after int
	if page.AfterID != "" {
		after = 1
		args = append(args, page.AfterName, page.AfterID)
	}
	args = append(args, page.Limit)
	return collect(ctx, s.pool, "search rooms", searchQueries[after], args, scanRoom)
}

// escapeLike makes every character of s match itself in a LIKE pattern with
// ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
