package e2e_test

import (
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestChatRealTime is the core story: two people chat through a real server
// and each message arrives live on the other's subscription, over both
// WebSocket subprotocols.
func TestChatRealTime(t *testing.T) {
	srv := e2e.Start(t, e2e.Options{})
	alice, bob := srv.Token(t, "alice", "Alice"), srv.Token(t, "bob", "Bob")
	srv.Do(t, bob, `{ me { id } }`, nil).Decode(t, &struct{}{})

	var opened struct{ OpenChat struct{ ID string } }
	srv.Do(t, alice, `mutation { openChat(memberId: "bob") { id } }`, nil).Decode(t, &opened)
	room := opened.OpenChat.ID

	for _, proto := range []string{e2e.TransportWS, e2e.LegacyWS} {
		t.Run(proto, func(t *testing.T) {
			// Start from the room's latest event as read now, so the message
			// below is delivered whether it lands before or after the
			// subscription goes live.
			var r struct {
				Room struct{ LastEventCursor string }
			}
			srv.Do(t, bob, `query($r: ID!) { room(id: $r) { lastEventCursor } }`, map[string]any{"r": room}).Decode(t, &r)
			ws := srv.DialWS(t, proto, e2e.BearerPayload(bob))
			ws.Subscribe("1", `subscription($r: ID!, $c: Cursor) { roomEvents(roomId: $r, after: $c) { type seq message { text author { id } } } }`,
				map[string]any{"r": room, "c": r.Room.LastEventCursor})

			var sent struct{ SendMessage struct{ ID string } }
			srv.Do(t, alice, `mutation($r: ID!) { sendMessage(input: {roomId: $r, text: "hi bob"}) { id } }`, map[string]any{"r": room}).Decode(t, &sent)

			var got struct {
				RoomEvents struct {
					Type    string
					Message struct {
						Text   string
						Author struct{ ID string }
					}
				}
			}
			ws.NextData(t, "1", &got)
			if got.RoomEvents.Type != "MESSAGE_SENT" || got.RoomEvents.Message.Text != "hi bob" || got.RoomEvents.Message.Author.ID != "alice" {
				t.Fatalf("got %+v", got.RoomEvents)
			}
		})
	}
}
