package app_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestPresence(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	withBob := createRoom(t, svc, alice, domain.KindPrivateGroup, "With Bob", bob)
	withCarol := createRoom(t, svc, alice, domain.KindPublicGroup, "With Carol", carol)
	without := createRoom(t, svc, bob, domain.KindPrivateGroup, "Without Alice", carol)
	bobHears, _ := stream(t, roomActivity(svc, bob, withBob.ID))
	carolHears, _ := stream(t, roomActivity(svc, carol, withCarol.ID))
	carolHearsElsewhere, _ := stream(t, roomActivity(svc, carol, without.ID))

	online := func(what string, want bool) {
		t.Helper()
		on, err := svc.Online(ctx, alice)
		if err != nil {
			t.Fatalf("Online: %v", err)
		}
		if on != want {
			t.Errorf("alice online %s: %t, want %t", what, on, want)
		}
	}
	onlineIn := func(what string, roomID string, want ...string) {
		t.Helper()
		ms, err := svc.OnlineMembers(ctx, roomID)
		if err != nil {
			t.Fatalf("OnlineMembers: %v", err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("online members %s (-want +got):\n%s", what, diff)
		}
	}
	step := func(what string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	online("at first", false)
	step("Connected", func() error { return svc.Connected(ctx, alice) })
	online("after connecting", true)
	member, err := svc.Member(ctx, alice)
	if err != nil {
		t.Fatalf("Member: %v", err)
	}
	if member.LastSeenAt == nil || !member.LastSeenAt.Equal(clk.Now()) {
		t.Errorf("last seen %v, want %v", member.LastSeenAt, clk.Now())
	}
	step("Connected again", func() error { return svc.Connected(ctx, alice) })
	step("Disconnected", func() error { return svc.Disconnected(ctx, alice) })
	online("with one connection left", true)
	onlineIn("while alice is connected", withBob.ID, alice)
	step("Disconnected again", func() error { return svc.Disconnected(ctx, alice) })
	online("after the last disconnect", false)
	onlineIn("after alice left", withBob.ID)

	// A typing signal after everything marks the end: what came before it
	// is all that presence sent.
	step("SetTyping", func() error { return svc.SetTyping(ctx, bob, withBob.ID) })
	step("SetTyping", func() error { return svc.SetTyping(ctx, carol, withCarol.ID) })
	step("SetTyping", func() error { return svc.SetTyping(ctx, carol, without.ID) })
	type heard struct {
		Type     domain.SignalType
		MemberID string
	}
	listen := func(ch <-chan *domain.Signal, n int) []heard {
		var out []heard
		for range n {
			s := recv(t, ch, waitFor)
			out = append(out, heard{s.Type, s.MemberID})
		}
		return out
	}
	presence := []heard{{domain.SignalOnline, alice}, {domain.SignalOffline, alice}}
	if diff := cmp.Diff(slices.Concat(presence, []heard{{domain.SignalTyping, bob}}), listen(bobHears, 3)); diff != "" {
		t.Errorf("signals in the room with bob (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(slices.Concat(presence, []heard{{domain.SignalTyping, carol}}), listen(carolHears, 3)); diff != "" {
		t.Errorf("signals in the room with carol (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]heard{{domain.SignalTyping, carol}}, listen(carolHearsElsewhere, 1)); diff != "" {
		t.Errorf("signals in a room without alice (-want +got):\n%s", diff)
	}
}
