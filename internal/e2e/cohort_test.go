package e2e_test

import (
	"encoding/json"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestCohortsShareOnlyWhatIsTheSameForEveryone: subscribers with the same
// document share one encoding of each event, but a selection that reads a
// viewer-dependent field (isRead, room) is answered for each viewer: the
// author reads their own message as read, the others as unread, and a chat
// is named after the other member.
func TestCohortsShareOnlyWhatIsTheSameForEveryone(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})
	alice, bob, carol := member(t, srv, "alice"), member(t, srv, "bob"), member(t, srv, "carol")
	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "Cohorts", "bob", "carol")
	after := lastEventCursor(t, srv, alice, room)
	const viewerQuery = `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { seq message { text isRead } room { name } } }`
	const plainQuery = `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { seq message { text author { id name } } } }`
	vars := map[string]any{"r": room, "after": after}

	type viewerEvent struct {
		Seq     int
		Message struct {
			Text   string
			IsRead bool
		}
		Room struct{ Name string }
	}
	viewers := map[string]*eventStream{}
	for name, token := range map[string]string{"alice": alice, "bob": bob, "carol": carol} {
		viewers[name] = subscribe(t, srv, e2e.TransportWS, token, viewerQuery, vars)
	}
	plain := []*eventStream{
		subscribe(t, srv, e2e.TransportWS, bob, plainQuery, vars),
		subscribe(t, srv, e2e.TransportWS, carol, plainQuery, vars),
		subscribe(t, srv, sseTransport, alice, plainQuery, vars),
	}
	for _, text := range []string{"one", "two"} {
		send(t, srv, alice, room, text)
		for name, s := range viewers {
			var e viewerEvent
			if raw := s.nextField(t); json.Unmarshal(raw, &e) != nil {
				t.Fatalf("%s: not an event: %s", name, raw)
			}
			if e.Message.Text != text || e.Message.IsRead != (name == "alice") || e.Room.Name != "Cohorts" {
				t.Errorf("%s got %+v, want %q with isRead %v", name, e, text, name == "alice")
			}
		}
		var first json.RawMessage
		for i, s := range plain {
			raw := s.nextField(t)
			if i == 0 {
				first = raw
			} else if string(raw) != string(first) {
				t.Errorf("subscriber %d of one cohort got %s, the first %s", i, raw, first)
			}
		}
	}
}
