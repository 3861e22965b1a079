package app_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestTyping(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob, carol)
	typing := func(what string, want ...string) {
		t.Helper()
		ms, err := svc.TypingMembers(ctx, room.ID)
		if err != nil {
			t.Fatalf("TypingMembers: %v", err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("typing %s (-want +got):\n%s", what, diff)
		}
	}
	setTyping := func(who string) {
		t.Helper()
		if err := svc.SetTyping(ctx, who, room.ID); err != nil {
			t.Fatalf("SetTyping(%s): %v", who, err)
		}
	}

	signals, _ := stream(t, roomActivity(svc, alice, room.ID))
	setTyping(bob)
	if s := recv(t, signals, waitFor); s.Type != domain.SignalTyping || s.MemberID != bob || s.RoomID != room.ID {
		t.Errorf("activity signal = %+v, want bob TYPING", s)
	}
	typing("after SetTyping", "Bob")

	clk.Advance(domain.TypingTTL - time.Millisecond)
	typing("just before the TTL", "Bob")
	clk.Advance(time.Millisecond)
	typing("after the TTL")

	setTyping(bob)
	setTyping(carol)
	sendMessage(t, svc, bob, room.ID, "done typing")
	typing("after bob sent", "Carol")

	err := svc.SetTyping(ctx, dave, room.ID)
	wantErr(t, "SetTyping by a non-member", err, domain.ErrNotFound)
	typing("after the refusal", "Carol")
}
