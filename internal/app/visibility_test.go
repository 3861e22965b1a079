package app_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// A private room hides from non-members: every use case answers not found,
// never forbidden, so its existence does not leak.
func TestPrivateRoomIsNotFoundByNonMembers(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})

	chat, err := svc.OpenChat(t.Context(), alice, bob)
	if err != nil {
		t.Fatalf("OpenChat: %v", err)
	}
	rooms := []domain.Room{
		createRoom(t, svc, alice, domain.KindPrivateGroup, "Secret group", bob),
		createRoom(t, svc, alice, domain.KindPrivateChannel, "Secret channel", bob),
		chat,
	}
	for _, room := range rooms {
		msg := sendMessage(t, svc, alice, room.ID, "for members only")
		ops := []struct {
			name string
			call func() error
		}{
			{"Room", func() error { _, _, err := svc.Room(t.Context(), dave, room.ID); return err }},
			{"Messages", func() error { _, err := svc.Messages(t.Context(), dave, room.ID, app.PageArgs{}); return err }},
			{"RoomMembers", func() error { _, err := svc.RoomMembers(t.Context(), dave, room.ID, app.PageArgs{}); return err }},
			{"SendMessage", func() error { _, err := svc.SendMessage(t.Context(), dave, room.ID, "hello?", ""); return err }},
			{"JoinRoom", func() error { _, err := svc.JoinRoom(t.Context(), dave, room.ID); return err }},
			{"RoomEvents", func() error { return openErr(t, roomEvents(svc, dave, room.ID, nil)) }},
			{"RoomActivity", func() error { return openErr(t, roomActivity(svc, dave, room.ID)) }},
			{"Message", func() error { _, err := svc.Message(t.Context(), dave, msg.ID); return err }},
			{"MarkRead", func() error { _, err := svc.MarkRead(t.Context(), dave, room.ID, msg.ID); return err }},
			{"SetTyping", func() error { return svc.SetTyping(t.Context(), dave, room.ID) }},
			{"EditMessage", func() error { _, err := svc.EditMessage(t.Context(), dave, msg.ID, "mine now"); return err }},
			{"DeleteMessage", func() error { _, err := svc.DeleteMessage(t.Context(), dave, msg.ID); return err }},
		}
		for _, op := range ops {
			t.Run(string(room.Kind)+"/"+op.name, func(t *testing.T) {
				err := op.call()
				wantErr(t, op.name, err, domain.ErrNotFound)
				if errors.Is(err, domain.ErrForbidden) {
					t.Errorf("%s: %v leaks the room as forbidden", op.name, err)
				}
			})
		}
		if got := roleOf(t, svc, room.ID, dave); got != "" {
			t.Errorf("dave is %s in %s after the refusals", got, room.Kind)
		}
	}
}

func TestPublicRoomIsOpenToNonMembers(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPublicGroup, "Lobby", bob)
	createRoom(t, svc, alice, domain.KindPrivateGroup, "Lobby backstage", bob)
	sendMessage(t, svc, alice, room.ID, "welcome")

	msgs, err := svc.Messages(ctx, dave, room.ID, app.PageArgs{})
	if err != nil {
		t.Fatalf("Messages by a non-member: %v", err)
	}
	if len(msgs.Items) != 1 || msgs.Items[0].Text != "welcome" {
		t.Errorf("Messages = %+v, want the welcome", msgs.Items)
	}
	members, err := svc.RoomMembers(ctx, dave, room.ID, app.PageArgs{})
	if err != nil {
		t.Fatalf("RoomMembers by a non-member: %v", err)
	}
	var ids []string
	for _, m := range members.Items {
		ids = append(ids, m.MemberID)
	}
	if diff := cmp.Diff([]string{alice, bob}, ids); diff != "" {
		t.Errorf("RoomMembers (-want +got):\n%s", diff)
	}
	found, err := svc.SearchRooms(ctx, dave, "lobby", app.PageArgs{})
	if err != nil {
		t.Fatalf("SearchRooms: %v", err)
	}
	if len(found.Items) != 1 || found.Items[0].ID != room.ID {
		t.Errorf("SearchRooms(dave, lobby) = %+v, want only the public lobby", found.Items)
	}

	events, _ := stream(t, roomEvents(svc, dave, room.ID, nil))
	live := sendMessage(t, svc, alice, room.ID, "live")
	if e := recv(t, events, waitFor); e.Type != domain.EventMessageSent || e.MessageID != live.ID {
		t.Errorf("a non-member's RoomEvents got %+v, want the live message", seenOf(e))
	}

	_, err = svc.SendMessage(ctx, dave, room.ID, "me too", "")
	wantErr(t, "SendMessage before joining", err, domain.ErrForbidden)

	if _, err := svc.JoinRoom(ctx, dave, room.ID); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	joined := roomSeq(t, store, room.ID)
	if _, err := svc.JoinRoom(ctx, dave, room.ID); err != nil {
		t.Fatalf("JoinRoom again: %v", err)
	}
	if seq := roomSeq(t, store, room.ID); seq != joined {
		t.Errorf("joining again moved the room from seq %d to %d", joined, seq)
	}
	log, err := store.Events(ctx, room.ID, 0, 100)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	n := 0
	for _, e := range log {
		if e.Type == domain.EventMemberJoined && e.MemberID == dave {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d MEMBER_JOINED events for dave, want 1", n)
	}
	if got := roleOf(t, svc, room.ID, dave); got != domain.RoleMember {
		t.Errorf("dave is %q after joining, want MEMBER", got)
	}
	if _, err := svc.SendMessage(ctx, dave, room.ID, "me too", ""); err != nil {
		t.Errorf("SendMessage after joining: %v", err)
	}
}

func TestWhoPosts(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	tests := []struct {
		kind  domain.RoomKind
		actor string // alice is the OWNER, bob an ADMIN, carol a MEMBER
		want  error
	}{
		{domain.KindPrivateChannel, alice, nil},
		{domain.KindPrivateChannel, bob, nil},
		{domain.KindPrivateChannel, carol, domain.ErrForbidden},
		{domain.KindPublicChannel, alice, nil},
		{domain.KindPublicChannel, bob, nil},
		{domain.KindPublicChannel, carol, domain.ErrForbidden},
		{domain.KindPrivateGroup, alice, nil},
		{domain.KindPrivateGroup, bob, nil},
		{domain.KindPrivateGroup, carol, nil},
		{domain.KindPublicGroup, alice, nil},
		{domain.KindPublicGroup, bob, nil},
		{domain.KindPublicGroup, carol, nil},
	}
	rooms := map[domain.RoomKind]domain.Room{}
	for _, kind := range []domain.RoomKind{domain.KindPrivateChannel, domain.KindPublicChannel, domain.KindPrivateGroup, domain.KindPublicGroup} {
		rooms[kind] = createRoom(t, svc, alice, kind, "Room", bob, carol)
		setRole(t, svc, alice, rooms[kind].ID, bob, domain.RoleAdmin)
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.actor, func(t *testing.T) {
			_, err := svc.SendMessage(t.Context(), tt.actor, rooms[tt.kind].ID, "hello", "")
			wantErr(t, "SendMessage", err, tt.want)
		})
	}
}
