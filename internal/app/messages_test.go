package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestSendMessageChecksText(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	tests := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", domain.ErrInvalid},
		{"whitespace only", " \t\n ", domain.ErrInvalid},
		{"4,001 characters", strings.Repeat("x", 4001), domain.ErrInvalid},
		{"4,000 characters", strings.Repeat("x", 4000), nil},
		// The limit counts characters, not bytes.
		{"4,000 two-byte characters", strings.Repeat("é", 4000), nil},
		{"4,001 two-byte characters", strings.Repeat("é", 4001), domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := roomSeq(t, store, room.ID)
			msg, err := svc.SendMessage(t.Context(), alice, room.ID, tt.text, "")
			wantErr(t, "SendMessage", err, tt.want)
			grew := roomSeq(t, store, room.ID) - before
			switch {
			case tt.want != nil && grew != 0:
				t.Errorf("a refused message moved the room by %d events", grew)
			case tt.want == nil && (grew != 1 || msg.Text != tt.text):
				t.Errorf("sent %d characters as %d characters, %d events", len([]rune(tt.text)), len([]rune(msg.Text)), grew)
			}
		})
	}
}

func TestSendMessageRepeatIsIdempotent(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)

	first, err := svc.SendMessage(ctx, alice, room.ID, "once", "client-1")
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	seq := roomSeq(t, store, room.ID)
	repeat, err := svc.SendMessage(ctx, alice, room.ID, "once", "client-1")
	if err != nil {
		t.Fatalf("SendMessage repeated: %v", err)
	}
	if repeat.ID != first.ID {
		t.Errorf("the repeat made message %s, want %s", repeat.ID, first.ID)
	}
	if got := roomSeq(t, store, room.ID); got != seq {
		t.Errorf("the repeat moved the room from seq %d to %d", seq, got)
	}

	// Another client id, or another author with the same one, is a new message.
	other, err := svc.SendMessage(ctx, alice, room.ID, "twice", "client-2")
	if err != nil {
		t.Fatalf("SendMessage(client-2): %v", err)
	}
	fromBob, err := svc.SendMessage(ctx, bob, room.ID, "once", "client-1")
	if err != nil {
		t.Fatalf("SendMessage(bob, client-1): %v", err)
	}
	if other.ID == first.ID || fromBob.ID == first.ID {
		t.Errorf("new messages reused id %s", first.ID)
	}
}

func TestSendMessageAfterLeaving(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	tests := []struct {
		kind domain.RoomKind
		want error
	}{
		{domain.KindPrivateGroup, domain.ErrNotFound},
		{domain.KindPublicGroup, domain.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			room := createRoom(t, svc, alice, tt.kind, "Team", bob)
			sendMessage(t, svc, bob, room.ID, "bye")
			if err := svc.LeaveRoom(t.Context(), bob, room.ID); err != nil {
				t.Fatalf("LeaveRoom: %v", err)
			}
			_, err := svc.SendMessage(t.Context(), bob, room.ID, "one more thing", "")
			wantErr(t, "SendMessage after leaving", err, tt.want)
		})
	}
}

func TestEditMessage(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	setRole(t, svc, alice, room.ID, bob, domain.RoleAdmin)
	msg := sendMessage(t, svc, alice, room.ID, "draft")

	_, err := svc.EditMessage(ctx, bob, msg.ID, "hijacked")
	wantErr(t, "an admin edits another's message", err, domain.ErrForbidden)

	clk.Advance(time.Minute)
	edited, err := svc.EditMessage(ctx, alice, msg.ID, "final")
	if err != nil {
		t.Fatalf("EditMessage by the author: %v", err)
	}
	if edited.Text != "final" || edited.EditedAt == nil || !edited.EditedAt.Equal(clk.Now()) {
		t.Errorf("edited = %q edited at %v, want %q at %v", edited.Text, edited.EditedAt, "final", clk.Now())
	}
	stored, err := svc.Message(ctx, bob, msg.ID)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	if stored.Text != "final" {
		t.Errorf("stored text %q, want %q", stored.Text, "final")
	}

	if _, err := svc.DeleteMessage(ctx, alice, msg.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	_, err = svc.EditMessage(ctx, alice, msg.ID, "undead")
	wantErr(t, "editing a deleted message", err, domain.ErrConflict)
}

func TestDeleteMessage(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob, carol)
	setRole(t, svc, alice, room.ID, bob, domain.RoleAdmin)
	tests := []struct {
		name            string
		author, deleter string
		want            error
	}{
		{"by the author", carol, carol, nil},
		{"by a room ADMIN", carol, bob, nil},
		{"by the room OWNER", carol, alice, nil},
		{"by a MEMBER, of another's message", alice, carol, domain.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			msg := sendMessage(t, svc, tt.author, room.ID, "regrettable")
			got, err := svc.DeleteMessage(ctx, tt.deleter, msg.ID)
			wantErr(t, "DeleteMessage", err, tt.want)
			stored, err := svc.Message(ctx, alice, msg.ID)
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if tt.want != nil {
				if stored.Deleted() || stored.Text != "regrettable" {
					t.Errorf("a refused delete changed the message to %q, deleted %v", stored.Text, stored.DeletedAt)
				}
				return
			}
			for _, m := range []domain.Message{got, stored} {
				if m.Text != "" || m.DeletedAt == nil || !m.DeletedAt.Equal(clk.Now()) {
					t.Errorf("tombstone = %q deleted at %v, want \"\" at %v", m.Text, m.DeletedAt, clk.Now())
				}
			}
		})
	}
}

// A replay reads events as the store has them now: the MESSAGE_SENT of a
// message deleted since carries its tombstone.
func TestReplayShowsTombstone(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	msg := sendMessage(t, svc, alice, room.ID, "oops")
	if _, err := svc.DeleteMessage(t.Context(), alice, msg.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}

	after := app.EventCursor(room.ID, msg.Seq-1)
	events, _ := stream(t, roomEvents(svc, bob, room.ID, &after))
	sent := recv(t, events, waitFor)
	if sent.Type != domain.EventMessageSent || sent.MessageID != msg.ID {
		t.Fatalf("first replayed event = %+v, want the MESSAGE_SENT of %s", seenOf(sent), msg.ID)
	}
	if sent.Message == nil || sent.Message.Text != "" || sent.Message.DeletedAt == nil {
		t.Errorf("replayed MESSAGE_SENT carries %+v, want the tombstone", sent.Message)
	}
	if deleted := recv(t, events, waitFor); deleted.Type != domain.EventMessageDeleted || deleted.MessageID != msg.ID {
		t.Errorf("second replayed event = %+v, want the MESSAGE_DELETED of %s", seenOf(deleted), msg.ID)
	}
}

func TestReadState(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)

	unread := func(who string, want int) {
		t.Helper()
		n, err := svc.UnreadCount(ctx, who, room.ID)
		if err != nil {
			t.Fatalf("UnreadCount(%s): %v", who, err)
		}
		if n != want {
			t.Errorf("UnreadCount(%s) = %d, want %d", who, n, want)
		}
	}
	isRead := func(who string, msg domain.Message, want bool) {
		t.Helper()
		read, err := svc.IsRead(ctx, who, msg)
		if err != nil {
			t.Fatalf("IsRead(%s): %v", who, err)
		}
		if read != want {
			t.Errorf("IsRead(%s, %q) = %t, want %t", who, msg.Text, read, want)
		}
	}
	markRead := func(who string, msg domain.Message) {
		t.Helper()
		if _, err := svc.MarkRead(ctx, who, room.ID, msg.ID); err != nil {
			t.Fatalf("MarkRead(%s, %q): %v", who, msg.Text, err)
		}
	}
	pointer := func(who string) int64 {
		t.Helper()
		m, err := svc.Membership(ctx, who, room.ID)
		if err != nil || m == nil {
			t.Fatalf("Membership(%s) = %v, %v", who, m, err)
		}
		return m.LastReadSeq
	}

	a1 := sendMessage(t, svc, alice, room.ID, "a1")
	a2 := sendMessage(t, svc, alice, room.ID, "a2")
	a3 := sendMessage(t, svc, alice, room.ID, "a3")
	unread(bob, 3)
	unread(alice, 0) // her own
	unread(dave, 0)  // not in the room
	isRead(alice, a3, true)

	if _, err := svc.DeleteMessage(ctx, alice, a2.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	unread(bob, 2) // a2 no longer counts

	markRead(bob, a1)
	unread(bob, 1)
	isRead(bob, a1, true)
	isRead(bob, a3, false)

	markRead(bob, a3)
	markRead(bob, a1) // older: the pointer stays
	if got := pointer(bob); got != a3.Seq {
		t.Errorf("bob's pointer at seq %d after marking an older message, want %d", got, a3.Seq)
	}
	unread(bob, 0)
	isRead(bob, a3, true)

	// Sending moves the sender's own pointer past everything before.
	unread(bob, 0)
	b1 := sendMessage(t, svc, bob, room.ID, "b1")
	if got := pointer(bob); got != b1.Seq {
		t.Errorf("bob's pointer at seq %d after sending, want %d", got, b1.Seq)
	}
	unread(alice, 1)
	isRead(alice, b1, false)
	sendMessage(t, svc, alice, room.ID, "a4")
	unread(alice, 0)
	isRead(alice, b1, true)
}

func TestSendRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("limited", func(t *testing.T) {
		t.Parallel()
		svc, clk, _ := newFixture(t, fixtureOptions{Config: app.Config{SendRate: 1, SendBurst: 2}})
		room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
		send := func(who string, want error) {
			t.Helper()
			_, err := svc.SendMessage(t.Context(), who, room.ID, "hi", "")
			wantErr(t, "SendMessage by "+who, err, want)
		}
		send(alice, nil)
		send(alice, nil)
		send(alice, domain.ErrRateLimited)
		send(bob, nil) // the limit is per member
		clk.Advance(time.Second)
		send(alice, nil)
		send(alice, domain.ErrRateLimited)
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := newFixture(t, fixtureOptions{Config: app.Config{SendRate: 0, SendBurst: 2}})
		room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team")
		for i := range 20 {
			if _, err := svc.SendMessage(t.Context(), alice, room.ID, "hi", ""); err != nil {
				t.Fatalf("send %d with the limit off: %v", i+1, err)
			}
		}
	})
}
