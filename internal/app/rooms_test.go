package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestCreateRoomRefusesBadInput(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})

	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("nobody-%d", i)
		}
		return out
	}
	tests := []struct {
		name     string
		kind     domain.RoomKind
		roomName string
		members  []string
		want     error
	}{
		{"a CHAT", domain.KindChat, "Pair", []string{bob}, domain.ErrInvalid},
		{"an unknown kind", "LOBBY", "Lobby", nil, domain.ErrInvalid},
		{"an empty name", domain.KindPrivateGroup, "", nil, domain.ErrInvalid},
		{"a whitespace name", domain.KindPrivateGroup, " \t\n ", nil, domain.ErrInvalid},
		{"a 101-character name", domain.KindPrivateGroup, strings.Repeat("n", 101), nil, domain.ErrInvalid},
		{"1,001 member ids", domain.KindPublicGroup, "Crowd", ids(1001), domain.ErrInvalid},
		// 1,000 ids pass the count check and fail only because nobody has them.
		{"1,000 unknown member ids", domain.KindPublicGroup, "Crowd", ids(1000), domain.ErrNotFound},
		{"an unknown member id", domain.KindPrivateGroup, "Team", []string{bob, "zoe"}, domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.CreateRoom(t.Context(), alice, tt.kind, tt.roomName, tt.members)
			wantErr(t, "CreateRoom", err, tt.want)
		})
	}

	// None of them left a room behind.
	rooms, err := svc.Rooms(t.Context(), alice, "", app.PageArgs{})
	if err != nil {
		t.Fatalf("Rooms: %v", err)
	}
	if len(rooms.Items) != 0 {
		t.Errorf("a refused CreateRoom left rooms behind: %+v", rooms.Items)
	}
}

func TestCreateRoomMakesCreatorOwner(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})

	// The duplicate bob and the creator herself are ignored.
	room := createRoom(t, svc, alice, domain.KindPublicGroup, "  Team  ", bob, carol, bob, alice)
	if room.Name != "Team" || room.Kind != domain.KindPublicGroup {
		t.Errorf("room = %q %s, want %q %s", room.Name, room.Kind, "Team", domain.KindPublicGroup)
	}
	got := map[string]domain.Role{}
	for _, id := range []string{alice, bob, carol, dave} {
		got[id] = roleOf(t, svc, room.ID, id)
	}
	want := map[string]domain.Role{alice: domain.RoleOwner, bob: domain.RoleMember, carol: domain.RoleMember, dave: ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}

	events, err := store.Events(t.Context(), room.ID, 0, 100)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	var joined []string
	for _, e := range events {
		if e.Type != domain.EventMemberJoined {
			t.Errorf("unexpected %s event", e.Type)
		}
		joined = append(joined, string(e.Role)+" "+e.MemberID)
	}
	if diff := cmp.Diff([]string{"OWNER alice", "MEMBER bob", "MEMBER carol"}, joined); diff != "" {
		t.Errorf("MEMBER_JOINED events (-want +got):\n%s", diff)
	}

	// A name of exactly the limit is fine.
	createRoom(t, svc, alice, domain.KindPrivateGroup, strings.Repeat("n", domain.MaxRoomName))
}

func TestOpenChat(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	ctx := t.Context()

	first, err := svc.OpenChat(ctx, alice, bob)
	if err != nil {
		t.Fatalf("OpenChat(alice, bob): %v", err)
	}
	fromBob, err := svc.OpenChat(ctx, bob, alice)
	if err != nil {
		t.Fatalf("OpenChat(bob, alice): %v", err)
	}
	again, err := svc.OpenChat(ctx, alice, bob)
	if err != nil {
		t.Fatalf("OpenChat(alice, bob) again: %v", err)
	}
	if first.Kind != domain.KindChat {
		t.Errorf("kind = %s, want CHAT", first.Kind)
	}
	if fromBob.ID != first.ID || again.ID != first.ID {
		t.Errorf("rooms %s, %s, %s: want one room", first.ID, fromBob.ID, again.ID)
	}
	// Two MEMBER_JOINED events, none added by the repeats.
	if seq := roomSeq(t, store, first.ID); seq != 2 {
		t.Errorf("chat seq = %d, want 2", seq)
	}
	if a, b := roleOf(t, svc, first.ID, alice), roleOf(t, svc, first.ID, bob); a != domain.RoleMember || b != domain.RoleMember {
		t.Errorf("roles = %s, %s; want MEMBER, MEMBER", a, b)
	}

	for viewer, want := range map[string]string{alice: "Bob", bob: "Alice"} {
		name, err := svc.RoomName(ctx, viewer, first)
		if err != nil {
			t.Fatalf("RoomName(%s): %v", viewer, err)
		}
		if name != want {
			t.Errorf("RoomName(%s) = %q, want %q", viewer, name, want)
		}
	}

	_, err = svc.OpenChat(ctx, alice, alice)
	wantErr(t, "OpenChat with oneself", err, domain.ErrInvalid)
	_, err = svc.OpenChat(ctx, alice, "zoe")
	wantErr(t, "OpenChat with an unknown member", err, domain.ErrNotFound)
}

func TestChatRefusesGroupOperations(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	chat, err := svc.OpenChat(t.Context(), alice, bob)
	if err != nil {
		t.Fatalf("OpenChat: %v", err)
	}
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"AddRoomMembers", func() error {
			_, err := svc.AddRoomMembers(t.Context(), alice, chat.ID, []string{carol})
			return err
		}, domain.ErrForbidden},
		{"RemoveRoomMember", func() error {
			_, err := svc.RemoveRoomMember(t.Context(), alice, chat.ID, bob)
			return err
		}, domain.ErrForbidden},
		{"LeaveRoom", func() error { return svc.LeaveRoom(t.Context(), alice, chat.ID) }, domain.ErrForbidden},
		{"UpdateRoom", func() error {
			_, err := svc.UpdateRoom(t.Context(), alice, chat.ID, "Us")
			return err
		}, domain.ErrForbidden},
		{"SetRoomRole", func() error {
			_, err := svc.SetRoomRole(t.Context(), alice, chat.ID, bob, domain.RoleAdmin)
			return err
		}, domain.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, tt.op(), tt.want)
		})
	}
	if seq := roomSeq(t, store, chat.ID); seq != 2 {
		t.Errorf("chat seq = %d after refused operations, want 2", seq)
	}
	if a, b, c := roleOf(t, svc, chat.ID, alice), roleOf(t, svc, chat.ID, bob), roleOf(t, svc, chat.ID, carol); a != domain.RoleMember || b != domain.RoleMember || c != "" {
		t.Errorf("roles = %q, %q, %q; want MEMBER, MEMBER, none", a, b, c)
	}
}

func TestOnlyOwnerSetsRoles(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob, carol, dave)
	setRole(t, svc, alice, room.ID, bob, domain.RoleAdmin)

	_, err := svc.SetRoomRole(ctx, bob, room.ID, carol, domain.RoleAdmin)
	wantErr(t, "an ADMIN sets a role", err, domain.ErrForbidden)
	_, err = svc.SetRoomRole(ctx, carol, room.ID, dave, domain.RoleAdmin)
	wantErr(t, "a MEMBER sets a role", err, domain.ErrForbidden)
	if got := roleOf(t, svc, room.ID, carol); got != domain.RoleMember {
		t.Errorf("carol is %s after a refused change, want MEMBER", got)
	}

	// Handing ownership over makes the old owner an admin.
	m, err := svc.SetRoomRole(ctx, alice, room.ID, carol, domain.RoleOwner)
	if err != nil {
		t.Fatalf("SetRoomRole(carol, OWNER): %v", err)
	}
	if m.MemberID != carol || m.Role != domain.RoleOwner {
		t.Errorf("SetRoomRole returned %s %s, want carol OWNER", m.MemberID, m.Role)
	}
	if a, c := roleOf(t, svc, room.ID, alice), roleOf(t, svc, room.ID, carol); a != domain.RoleAdmin || c != domain.RoleOwner {
		t.Errorf("after the hand-over alice is %s and carol %s, want ADMIN and OWNER", a, c)
	}
	_, err = svc.SetRoomRole(ctx, alice, room.ID, dave, domain.RoleAdmin)
	wantErr(t, "the former owner sets a role", err, domain.ErrForbidden)
}

func TestManagersManageMembers(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	const erin = "erin"
	if err := svc.EnsureMember(t.Context(), erin, "Erin"); err != nil {
		t.Fatalf("EnsureMember(erin): %v", err)
	}

	tests := []struct {
		actor string
		role  domain.Role
		want  error
	}{
		{alice, domain.RoleOwner, nil},
		{bob, domain.RoleAdmin, nil},
		{carol, domain.RoleMember, domain.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob, carol, dave)
			setRole(t, svc, alice, room.ID, bob, domain.RoleAdmin)
			allowed := tt.want == nil

			_, err := svc.AddRoomMembers(ctx, tt.actor, room.ID, []string{erin})
			wantErr(t, "AddRoomMembers", err, tt.want)
			if in := roleOf(t, svc, room.ID, erin) != ""; in != allowed {
				t.Errorf("erin in the room: %t, want %t", in, allowed)
			}

			_, err = svc.RemoveRoomMember(ctx, tt.actor, room.ID, dave)
			wantErr(t, "RemoveRoomMember", err, tt.want)
			if in := roleOf(t, svc, room.ID, dave) != ""; in == allowed {
				t.Errorf("dave in the room: %t, want %t", in, !allowed)
			}

			_, err = svc.UpdateRoom(ctx, tt.actor, room.ID, "Renamed")
			wantErr(t, "UpdateRoom", err, tt.want)
			got, _, err := svc.Room(ctx, alice, room.ID)
			if err != nil {
				t.Fatalf("Room: %v", err)
			}
			if renamed := got.Name == "Renamed"; renamed != allowed {
				t.Errorf("room renamed: %t, want %t", renamed, allowed)
			}
		})
	}
}

func TestAdminCannotRemoveOwner(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	setRole(t, svc, alice, room.ID, bob, domain.RoleAdmin)

	_, err := svc.RemoveRoomMember(t.Context(), bob, room.ID, alice)
	wantErr(t, "an ADMIN removes the OWNER", err, domain.ErrForbidden)
	if got := roleOf(t, svc, room.ID, alice); got != domain.RoleOwner {
		t.Errorf("alice is %q, want OWNER", got)
	}
}

func TestOwnerSuccession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		admins []string
		want   string
	}{
		// dave joined first but is no admin; carol became an admin before bob.
		{"the longest-standing admin", []string{bob, carol}, carol},
		{"with no admin, the longest-standing member", nil, dave},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, clk, store := newFixture(t, fixtureOptions{})
			ctx := t.Context()
			room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team")
			// Join order dave, carol, bob: the reverse of the ids' order, so
			// that the tie-break by id cannot pass for seniority.
			for _, id := range []string{dave, carol, bob} {
				clk.Advance(time.Second)
				if _, err := svc.AddRoomMembers(ctx, alice, room.ID, []string{id}); err != nil {
					t.Fatalf("AddRoomMembers(%s): %v", id, err)
				}
			}
			for _, id := range tt.admins {
				setRole(t, svc, alice, room.ID, id, domain.RoleAdmin)
			}
			before := roomSeq(t, store, room.ID)

			if err := svc.LeaveRoom(ctx, alice, room.ID); err != nil {
				t.Fatalf("LeaveRoom: %v", err)
			}

			got := map[string]domain.Role{}
			want := map[string]domain.Role{alice: ""}
			for _, id := range []string{alice, bob, carol, dave} {
				got[id] = roleOf(t, svc, room.ID, id)
				if id != alice {
					want[id] = domain.RoleMember
				}
			}
			for _, id := range tt.admins {
				want[id] = domain.RoleAdmin
			}
			want[tt.want] = domain.RoleOwner
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("roles after the owner left (-want +got):\n%s", diff)
			}

			events, err := store.Events(ctx, room.ID, before, 10)
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			var gotEvents []string
			for _, e := range events {
				gotEvents = append(gotEvents, fmt.Sprintf("%s %s %s", e.Type, e.MemberID, e.Role))
			}
			wantEvents := []string{"MEMBER_LEFT alice ", "ROLE_CHANGED " + tt.want + " OWNER"}
			if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
				t.Errorf("events of the leave (-want +got):\n%s", diff)
			}
		})
	}
}
