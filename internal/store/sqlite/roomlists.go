package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// roomsOfQueries holds the RoomsOf statement for each filter: by kind or not,
// before a key or from the newest.
var roomsOfQueries = func() (qs [2][2]string) {
	for kind := range 2 {
		for before := range 2 {
			q := "SELECT " + roomColumns + `
				FROM memberships m JOIN rooms r ON r.id = m.room_id
				WHERE m.member_id = ?`
			if kind == 1 {
				q += " AND r.kind = ?"
			}
			if before == 1 {
				q += " AND (r.updated_at, r.id) < (?, ?)"
			}
			qs[kind][before] = statement(q + " ORDER BY r.updated_at DESC, r.id DESC LIMIT ?")
		}
	}
	return qs
}()

// searchQueries holds the SearchRooms statement from the start and after a
// key.
var searchQueries = func() (qs [2]string) {
	for after := range 2 {
		q := "SELECT " + roomColumns + `
			FROM rooms r
			WHERE r.kind <> ?
			  AND (r.kind IN (?, ?) OR EXISTS (
			        SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.member_id = ?))
			  AND r.name LIKE ? ESCAPE '\'`
		if after == 1 {
			q += " AND (r.name, r.id) > (?, ?)"
		}
		qs[after] = statement(q + " ORDER BY r.name, r.id LIMIT ?")
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
		args = append(args, toMicros(page.BeforeUpdateAt), page.BeforeID)
	}
	args = append(args, page.Limit)
	return queryRooms(ctx, s.read, "list rooms of member "+memberID, roomsOfQueries[kind][before], args)
}

// SearchRooms pages the non-CHAT rooms that are public or that the member is
// in, whose name contains query, ordered by (Name, ID) after the key in page
// when it has one. Like SQLite's LIKE, the match ignores case for ASCII
// letters only; '%' and '_' in query match themselves.
func (s *Store) SearchRooms(ctx context.Context, memberID, query string, page app.SearchPage) ([]domain.Room, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	args := []any{string(domain.KindChat), string(domain.KindPublicGroup), string(domain.KindPublicChannel), memberID, "%" + escapeLike(query) + "%"}
	var after int
	if page.AfterID != "" {
		after = 1
		args = append(args, page.AfterName, page.AfterID)
	}
	args = append(args, page.Limit)
	return queryRooms(ctx, s.read, "search rooms", searchQueries[after], args)
}

// escapeLike makes every character of s match itself in a LIKE pattern with
// ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func queryRooms(ctx context.Context, q querier, what, query string, args []any) ([]domain.Room, error) {
	rooms := []domain.Room{}
	err := queryEach(ctx, q, what, query, args, func(rows *sql.Rows) error {
		r, err := scanRoom(rows)
		if err != nil {
			return err
		}
		rooms = append(rooms, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rooms, nil
}
