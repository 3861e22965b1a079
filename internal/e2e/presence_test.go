package e2e_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// activityQuery subscribes to a room's ephemeral signals.
const activityQuery = `subscription($r: ID!) { roomActivity(roomId: $r) { type roomId member { id } at expiresAt } }`

// activity is an ActivityEvent as activityQuery selects it.
type activity struct {
	Type      string
	RoomID    string
	Member    ref
	At        time.Time
	ExpiresAt *time.Time
}

// TestPresenceAndTyping covers the ephemeral signals: a member's first live
// connection makes them ONLINE, their last one closing OFFLINE, and typing
// shows for 5 seconds.
func TestPresenceAndTyping(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})

	t.Run("online and offline", func(t *testing.T) {
		t.Parallel()
		alice := member(t, srv, "pres-alice")
		bob := member(t, srv, "pres-bob")
		carol := member(t, srv, "pres-carol")
		room := createRoom(t, srv, alice, "PRIVATE_GROUP", "presence", "pres-bob", "pres-carol")

		if online := isOnline(t, srv, alice, "pres-bob"); online {
			t.Fatalf("bob is online before connecting")
		}
		ws := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(alice))
		ws.Subscribe("1", activityQuery, map[string]any{"r": room})
		// Signals are not stored: wait until the subscription hears one
		// (carol typing) before making the one under test.
		untilHeard(t, ws, func() { typing(t, srv, carol, room) }, func(a activity) bool {
			return a.Type == "TYPING" && a.Member.ID == "pres-carol"
		})

		bobWS := srv.DialWS(t, e2e.LegacyWS, e2e.BearerPayload(bob))
		online := nextActivity(t, ws, func(a activity) bool { return a.Member.ID == "pres-bob" })
		if online.Type != "ONLINE" || online.RoomID != room {
			t.Errorf("got %+v, want ONLINE of pres-bob in %s", online, room)
		}
		if !isOnline(t, srv, alice, "pres-bob") {
			t.Errorf("member(pres-bob).online = false while bob is connected")
		}

		bobWS.Close()
		offline := nextActivity(t, ws, func(a activity) bool { return a.Member.ID == "pres-bob" })
		if offline.Type != "OFFLINE" || offline.RoomID != room {
			t.Errorf("got %+v, want OFFLINE of pres-bob in %s", offline, room)
		}
		if isOnline(t, srv, alice, "pres-bob") {
			t.Errorf("member(pres-bob).online = true after bob disconnected")
		}
	})

	t.Run("typing", func(t *testing.T) {
		t.Parallel()
		alice := member(t, srv, "typing-alice")
		bob := member(t, srv, "typing-bob")
		room := createRoom(t, srv, alice, "PRIVATE_GROUP", "typing", "typing-bob")

		ws := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(alice))
		ws.Subscribe("1", activityQuery, map[string]any{"r": room})
		// A typing client repeats setTyping; the first one heard counts.
		got := untilHeard(t, ws, func() { typing(t, srv, bob, room) }, func(a activity) bool {
			return a.Type == "TYPING" && a.Member.ID == "typing-bob"
		})
		if got.RoomID != room {
			t.Errorf("roomId %q, want %q", got.RoomID, room)
		}
		if got.ExpiresAt == nil || got.ExpiresAt.Sub(got.At) != 5*time.Second {
			t.Errorf("at %v, expiresAt %v; want expiresAt 5s after at", got.At, got.ExpiresAt)
		}

		var out struct{ Room struct{ TypingMembers []ref } }
		srv.Do(t, alice, `query($r: ID!) { room(id: $r) { typingMembers { id } } }`, map[string]any{"r": room}).Decode(t, &out)
		if diff := cmp.Diff([]ref{{ID: "typing-bob"}}, out.Room.TypingMembers); diff != "" {
			t.Errorf("typingMembers (-want +got):\n%s", diff)
		}
	})
}

// typing calls setTyping in room.
func typing(t *testing.T, srv *e2e.Server, token, room string) {
	t.Helper()
	var out struct{ SetTyping bool }
	srv.Do(t, token, `mutation($r: ID!) { setTyping(roomId: $r) }`, map[string]any{"r": room}).Decode(t, &out)
	if !out.SetTyping {
		t.Fatalf("setTyping returned false")
	}
}

// isOnline asks the server whether a member is online.
func isOnline(t *testing.T, srv *e2e.Server, token, id string) bool {
	t.Helper()
	var out struct{ Member struct{ Online bool } }
	srv.Do(t, token, `query($id: ID!) { member(id: $id) { online } }`, map[string]any{"id": id}).Decode(t, &out)
	return out.Member.Online
}

// nextActivity returns the next signal of operation "1" that match
// accepts, skipping others (such as the subscriber's own presence).
func nextActivity(t *testing.T, ws *e2e.WS, match func(activity) bool) activity {
	t.Helper()
	deadline := time.Now().Add(e2e.Wait)
	for time.Now().Before(deadline) {
		var got struct{ RoomActivity activity }
		ws.NextData(t, "1", &got)
		if match(got.RoomActivity) {
			return got.RoomActivity
		}
	}
	t.Fatalf("no matching signal within %s", e2e.Wait)
	return activity{}
}

// untilHeard repeats act until the subscription "1" on ws delivers a signal
// that match accepts, and returns that signal. It is how a test knows an
// ephemeral subscription is live: a signal published before that is lost by
// design.
func untilHeard(t *testing.T, ws *e2e.WS, act func(), match func(activity) bool) activity {
	t.Helper()
	deadline := time.Now().Add(e2e.Wait)
	for time.Now().Before(deadline) {
		act()
		if a, ok := pollActivity(ws, 200*time.Millisecond, match); ok {
			return a
		}
	}
	t.Fatalf("no matching signal within %s", e2e.Wait)
	return activity{}
}

// pollActivity waits up to d for a matching signal on operation "1".
func pollActivity(ws *e2e.WS, d time.Duration, match func(activity) bool) (activity, bool) {
	timeout := time.After(d)
	for {
		a, ok := poll[activity](ws, timeout)
		if !ok {
			return activity{}, false
		}
		if match(a) {
			return a, true
		}
	}
}
