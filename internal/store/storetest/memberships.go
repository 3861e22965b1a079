package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func membershipTests() []test {
	return []test{
		{"Memberships/PutInsertsThenUpdatesOnlyTheRole", testPutMembership},
		{"Memberships/Delete", testDeleteMembership},
		{"Memberships/ListInJoinOrder", testMembershipsInJoinOrder},
		{"Memberships/RoomMembersPages", testRoomMembersPaging},
		{"Memberships/MemberRoomIDs", testMemberRoomIDs},
		{"Memberships/MoveReadPointerOnlyForward", testMoveReadPointer},
	}
}

func testPutMembership(t *testing.T, s app.Store) {
	ctx := t.Context()
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	m := join(t, s, r.ID, "ann", domain.RoleMember, at(1))

	got, err := s.Membership(ctx, r.ID, "ann")
	if err != nil {
		t.Fatalf("Membership: %v", err)
	}
	checkEqual(t, "Membership", got, storedMembership(m))

	// A second put changes the role only: the join time and read pointer stay.
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.MoveReadPointer(ctx, r.ID, "ann", 3, "msg-3"); err != nil {
			return err
		}
		return tx.PutMembership(ctx, domain.Membership{RoomID: r.ID, MemberID: "ann", Role: domain.RoleAdmin, JoinedAt: at(99)})
	})
	want := storedMembership(m)
	want.Role, want.LastReadSeq, want.LastReadMessageID = domain.RoleAdmin, 3, "msg-3"
	got, err = s.Membership(ctx, r.ID, "ann")
	if err != nil {
		t.Fatalf("Membership: %v", err)
	}
	checkEqual(t, "Membership after the role changed", got, want)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.Membership(ctx, r.ID, "ann")
		checkEqual(t, "Tx.Membership", got, want)
		return err
	})

	_, err = s.Membership(ctx, r.ID, "bob")
	checkKind(t, "Membership of a non-member", err, domain.ErrNotFound)
}

func testDeleteMembership(t *testing.T, s app.Store) {
	ctx := t.Context()
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	join(t, s, r.ID, "ann", domain.RoleOwner, t0)
	bob := join(t, s, r.ID, "bob", domain.RoleMember, t0)

	update(t, s, func(ctx context.Context, tx app.Tx) error {
		return tx.DeleteMembership(ctx, r.ID, "ann")
	})
	_, err := s.Membership(ctx, r.ID, "ann")
	checkKind(t, "Membership after delete", err, domain.ErrNotFound)
	err = s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		return tx.DeleteMembership(ctx, r.ID, "ann")
	})
	checkKind(t, "second DeleteMembership", err, domain.ErrNotFound)

	got, err := s.RoomMembers(ctx, r.ID, app.MemberPage{Limit: 10})
	if err != nil {
		t.Fatalf("RoomMembers: %v", err)
	}
	checkEqual(t, "members left", got, []domain.Membership{storedMembership(bob)})
}

// joinMany puts members into a room with joining times that tie in pairs, and
// returns the memberships in (JoinedAt, MemberID) order.
func joinMany(t *testing.T, s app.Store, roomID string, n int) []domain.Membership {
	t.Helper()
	var want []domain.Membership
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		want = want[:0]
		// Inserted in reverse so that insertion order is not the answer.
		for i := n - 1; i >= 0; i-- {
			m := domain.Membership{RoomID: roomID, MemberID: fmt.Sprintf("m-%02d", i), Role: domain.RoleMember, JoinedAt: at(i / 2)}
			if err := tx.PutMembership(ctx, m); err != nil {
				return err
			}
			want = append(want, storedMembership(m))
		}
		return nil
	})
	slices.Reverse(want)
	return want
}

func testMembershipsInJoinOrder(t *testing.T, s app.Store) {
	r, empty := newRoom(domain.KindPrivateGroup, "crew", t0), newRoom(domain.KindPrivateGroup, "none", t0)
	insertRooms(t, s, r, empty)
	want := joinMany(t, s, r.ID, 5)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.Memberships(ctx, r.ID)
		checkEqual(t, "Tx.Memberships", got, want)
		if err != nil {
			return err
		}
		got, err = tx.Memberships(ctx, empty.ID)
		checkEqual(t, "Tx.Memberships of an empty room", got, []domain.Membership{})
		return err
	})
}

func testRoomMembersPaging(t *testing.T, s app.Store) {
	r, other := newRoom(domain.KindPrivateGroup, "crew", t0), newRoom(domain.KindPrivateGroup, "other", t0)
	insertRooms(t, s, r, other)
	want := joinMany(t, s, r.ID, 7)
	join(t, s, other.ID, "m-00", domain.RoleOwner, t0)

	for _, limit := range []int{1, 2, 3, 7, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []domain.Membership
			page := app.MemberPage{Limit: limit}
			for range len(want) + 2 { // bounded: a correct adapter needs at most len(want)+1 pages
				ms, err := s.RoomMembers(t.Context(), r.ID, page)
				if err != nil {
					t.Fatalf("RoomMembers(%+v): %v", page, err)
				}
				if len(ms) > limit {
					t.Fatalf("RoomMembers(%+v) returned %d memberships", page, len(ms))
				}
				got = append(got, ms...)
				if len(ms) < limit {
					break
				}
				last := ms[len(ms)-1]
				page.AfterJoinedAt, page.AfterMemberID = last.JoinedAt, last.MemberID
			}
			checkEqual(t, "all pages", got, want)
		})
	}
}

func testMemberRoomIDs(t *testing.T, s app.Store) {
	rooms := []domain.Room{newRoom(domain.KindPrivateGroup, "a", t0), newChat("ann", "bob"), newRoom(domain.KindPublicChannel, "c", t0)}
	elsewhere := newRoom(domain.KindPublicGroup, "d", t0)
	insertRooms(t, s, append(rooms, elsewhere)...)
	for _, r := range rooms {
		join(t, s, r.ID, "ann", domain.RoleMember, t0)
	}
	join(t, s, elsewhere.ID, "bob", domain.RoleMember, t0)

	got, err := s.MemberRoomIDs(t.Context(), "ann")
	if err != nil {
		t.Fatalf("MemberRoomIDs: %v", err)
	}
	slices.Sort(got)
	want := roomIDs(rooms)
	slices.Sort(want)
	checkEqual(t, "MemberRoomIDs", got, want)

	got, err = s.MemberRoomIDs(t.Context(), "cid")
	if err != nil {
		t.Fatalf("MemberRoomIDs: %v", err)
	}
	checkEqual(t, "MemberRoomIDs of a member in no room", got, []string{})
}

func testMoveReadPointer(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	join(t, s, r.ID, "ann", domain.RoleMember, t0)

	steps := []struct {
		seq       int64
		wantMoved bool
		wantSeq   int64 // the pointer after the step
	}{
		{seq: 5, wantMoved: true, wantSeq: 5},
		{seq: 3, wantMoved: false, wantSeq: 5},
		{seq: 5, wantMoved: false, wantSeq: 5},
		{seq: 7, wantMoved: true, wantSeq: 7},
	}
	for _, step := range steps {
		var moved bool
		update(t, s, func(ctx context.Context, tx app.Tx) (err error) {
			moved, err = tx.MoveReadPointer(ctx, r.ID, "ann", step.seq, fmt.Sprintf("msg-%d", step.seq))
			return err
		})
		if moved != step.wantMoved {
			t.Errorf("MoveReadPointer to %d reported moved=%t, want %t", step.seq, moved, step.wantMoved)
		}
		m, err := s.Membership(t.Context(), r.ID, "ann")
		if err != nil {
			t.Fatalf("Membership: %v", err)
		}
		if m.LastReadSeq != step.wantSeq || m.LastReadMessageID != fmt.Sprintf("msg-%d", step.wantSeq) {
			t.Errorf("after MoveReadPointer to %d the pointer is (%d, %q), want (%d, msg-%d)",
				step.seq, m.LastReadSeq, m.LastReadMessageID, step.wantSeq, step.wantSeq)
		}
	}

	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		_, err := tx.MoveReadPointer(ctx, r.ID, "bob", 1, "msg-1")
		return err
	})
	checkKind(t, "MoveReadPointer of a non-member", err, domain.ErrNotFound)
}
