package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func roomListTests() []test {
	return []test{
		{"RoomLists/RoomsOfPagesNewestFirst", testRoomsOfPaging},
		{"RoomLists/RoomsOfPutsTheLatestEventFirst", testRoomsOfFollowsEvents},
		{"RoomLists/SearchRoomsVisibility", testSearchRoomsVisibility},
		{"RoomLists/SearchRoomsMatchesWildcardsLiterally", testSearchRoomsLiteral},
		{"RoomLists/SearchRoomsPagesByName", testSearchRoomsPaging},
	}
}

// pageRoomsOf reads every page of RoomsOf, failing on a page over the limit.
func pageRoomsOf(t *testing.T, s app.Store, memberID string, kind domain.RoomKind, limit, rooms int) []domain.Room {
	t.Helper()
	var all []domain.Room
	page := app.RoomPage{Kind: kind, Limit: limit}
	for range rooms + 2 { // bounded: a correct adapter needs at most rooms+1 pages
		got, err := s.RoomsOf(t.Context(), memberID, page)
		if err != nil {
			t.Fatalf("RoomsOf(%+v): %v", page, err)
		}
		if len(got) > limit {
			t.Fatalf("RoomsOf(%+v) returned %d rooms", page, len(got))
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		last := got[len(got)-1]
		page.BeforeUpdateAt, page.BeforeID = last.UpdatedAt, last.ID
	}
	t.Fatalf("RoomsOf did not end after %d pages", rooms+2)
	return nil
}

func testRoomsOfPaging(t *testing.T, s app.Store) {
	// Rooms of ann, several updated at the same time so that the id breaks
	// the tie; room ids are made in order, so later ids sort after.
	var mine []domain.Room
	for i, kind := range []domain.RoomKind{
		domain.KindPublicGroup, domain.KindPrivateGroup, domain.KindPublicGroup, domain.KindChat,
		domain.KindPublicChannel, domain.KindPublicGroup, domain.KindPrivateChannel, domain.KindPublicGroup,
	} {
		r := newRoom(kind, fmt.Sprintf("room %d", i), at(i/3))
		if kind == domain.KindChat {
			r = newChat("ann", "bob")
			r.UpdatedAt = at(i / 3)
		}
		mine = append(mine, r)
	}
	notMine := newRoom(domain.KindPublicGroup, "not mine", at(100))
	insertRooms(t, s, append(mine, notMine)...)
	for _, r := range mine {
		join(t, s, r.ID, "ann", domain.RoleMember, t0)
	}
	join(t, s, notMine.ID, "bob", domain.RoleOwner, t0)

	newestFirst := func(kind domain.RoomKind) []domain.Room {
		var want []domain.Room
		for _, r := range mine {
			if kind == "" || r.Kind == kind {
				want = append(want, storedRoom(r))
			}
		}
		slices.SortFunc(want, func(a, b domain.Room) int {
			if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		return want
	}
	for _, kind := range []domain.RoomKind{"", domain.KindPublicGroup} {
		want := newestFirst(kind)
		for _, limit := range []int{1, 2, 3, len(mine), 100} {
			t.Run(fmt.Sprintf("kind %q limit %d", kind, limit), func(t *testing.T) {
				checkEqual(t, "all pages", pageRoomsOf(t, s, "ann", kind, limit, len(mine)), want)
			})
		}
	}
}

func testRoomsOfFollowsEvents(t *testing.T, s app.Store) {
	older, newer := newRoom(domain.KindPrivateGroup, "older", at(1)), newRoom(domain.KindPrivateGroup, "newer", at(2))
	insertRooms(t, s, older, newer)
	join(t, s, older.ID, "ann", domain.RoleMember, t0)
	join(t, s, newer.ID, "ann", domain.RoleMember, t0)

	send(t, s, older.ID, "ann", "hello", at(3))

	got, err := s.RoomsOf(t.Context(), "ann", app.RoomPage{Limit: 10})
	if err != nil {
		t.Fatalf("RoomsOf: %v", err)
	}
	checkEqual(t, "RoomsOf after an event in the older room", roomIDs(got), []string{older.ID, newer.ID})
	if len(got) > 0 && !got[0].UpdatedAt.Equal(stored(at(3))) {
		t.Errorf("UpdatedAt of the room with the new event = %v, want %v", got[0].UpdatedAt, stored(at(3)))
	}
}

// searchAll returns the ids of every room SearchRooms finds, sorted by id.
func searchAll(t *testing.T, s app.Store, memberID, query string) []string {
	t.Helper()
	rooms, err := s.SearchRooms(t.Context(), memberID, query, app.SearchPage{Limit: 100})
	if err != nil {
		t.Fatalf("SearchRooms(%q): %v", query, err)
	}
	ids := roomIDs(rooms)
	slices.Sort(ids)
	return ids
}

func sortedIDs(rooms ...domain.Room) []string {
	ids := roomIDs(rooms)
	slices.Sort(ids)
	return ids
}

func testSearchRoomsVisibility(t *testing.T, s app.Store) {
	var (
		publicGroup     = newRoom(domain.KindPublicGroup, "garden club", t0)
		publicChannel   = newRoom(domain.KindPublicChannel, "Garden News", t0)
		myPrivateGroup  = newRoom(domain.KindPrivateGroup, "garden plans", t0)
		myPrivateChan   = newRoom(domain.KindPrivateChannel, "garden ops", t0)
		othersPrivate   = newRoom(domain.KindPrivateGroup, "garden secrets", t0)
		othersPrivChan  = newRoom(domain.KindPrivateChannel, "garden board", t0)
		myChat          = newChat("ann", "bob")
		publicElsewhere = newRoom(domain.KindPublicGroup, "kitchen", t0)
	)
	myChat.Name = "garden chat" // a CHAT has no name; this one checks the kind is excluded
	insertRooms(t, s, publicGroup, publicChannel, myPrivateGroup, myPrivateChan, othersPrivate, othersPrivChan, myChat, publicElsewhere)
	for _, r := range []domain.Room{myPrivateGroup, myPrivateChan, myChat} {
		join(t, s, r.ID, "ann", domain.RoleMember, t0)
	}
	for _, r := range []domain.Room{othersPrivate, othersPrivChan, myChat} {
		join(t, s, r.ID, "bob", domain.RoleMember, t0)
	}

	tests := []struct {
		query string
		want  []string
	}{
		{"garden", sortedIDs(publicGroup, publicChannel, myPrivateGroup, myPrivateChan)},
		{"GARDEN", sortedIDs(publicGroup, publicChannel, myPrivateGroup, myPrivateChan)},
		{"news", sortedIDs(publicChannel)},
		{"secrets", nil},
		{"chat", nil},
		{"", sortedIDs(publicGroup, publicChannel, myPrivateGroup, myPrivateChan, publicElsewhere)},
	}
	for _, tc := range tests {
		checkEqual(t, fmt.Sprintf("SearchRooms(%q) by ann", tc.query), searchAll(t, s, "ann", tc.query), tc.want)
	}
	checkEqual(t, `SearchRooms("secrets") by bob`, searchAll(t, s, "bob", "secrets"), sortedIDs(othersPrivate))
}

func testSearchRoomsLiteral(t *testing.T, s app.Store) {
	var (
		percent    = newRoom(domain.KindPublicGroup, "100% done", t0)
		noPercent  = newRoom(domain.KindPublicGroup, "100 percent done", t0)
		underscore = newRoom(domain.KindPublicGroup, "a_b", t0)
		noUnder    = newRoom(domain.KindPublicGroup, "axb", t0)
		backslash  = newRoom(domain.KindPublicGroup, `back\slash`, t0)
	)
	insertRooms(t, s, percent, noPercent, underscore, noUnder, backslash)
	tests := []struct {
		query string
		want  []string
	}{
		{"%", sortedIDs(percent)},
		{"100%", sortedIDs(percent)},
		{"_", sortedIDs(underscore)},
		{"a_b", sortedIDs(underscore)},
		{`\`, sortedIDs(backslash)},
		{`\s`, sortedIDs(backslash)},
		{"%%", nil},
	}
	for _, tc := range tests {
		checkEqual(t, fmt.Sprintf("SearchRooms(%q)", tc.query), searchAll(t, s, "ann", tc.query), tc.want)
	}
}

func testSearchRoomsPaging(t *testing.T, s app.Store) {
	// Lower-case names, so that the order is the same in every collation;
	// equal names are ordered by id.
	var rooms []domain.Room
	for _, name := range []string{"gamma", "alpha", "gamma", "beta", "alpha", "gamma", "delta"} {
		rooms = append(rooms, newRoom(domain.KindPublicGroup, name, t0))
	}
	insertRooms(t, s, rooms...)
	want := make([]domain.Room, len(rooms))
	for i, r := range rooms {
		want[i] = storedRoom(r)
	}
	slices.SortFunc(want, func(a, b domain.Room) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	for _, limit := range []int{1, 2, 3, len(rooms), 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []domain.Room
			page := app.SearchPage{Limit: limit}
			for range len(rooms) + 2 { // bounded: a correct adapter needs at most len+1 pages
				found, err := s.SearchRooms(t.Context(), "ann", "", page)
				if err != nil {
					t.Fatalf("SearchRooms(%+v): %v", page, err)
				}
				if len(found) > limit {
					t.Fatalf("SearchRooms(%+v) returned %d rooms", page, len(found))
				}
				got = append(got, found...)
				if len(found) < limit {
					break
				}
				last := found[len(found)-1]
				page.AfterName, page.AfterID = last.Name, last.ID
			}
			checkEqual(t, "all pages", got, want)
		})
	}
}
