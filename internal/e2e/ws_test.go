package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestWebSocket covers the protocol rules of GraphQL over WebSocket that a
// client depends on, over both subprotocols: close codes, credential expiry,
// the per-connection operation limit and multiplexing.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})

	for _, proto := range []string{e2e.TransportWS, e2e.LegacyWS} {
		// id names a member of this subprotocol's subtests, unique per test.
		id := func(name string) string { return "ws-" + proto + "-" + name }

		t.Run(proto+"/subscribe before connection_init", func(t *testing.T) {
			t.Parallel()
			ws := srv.DialWSRaw(t, proto)
			ws.Subscribe("1", `subscription { myEvents { seq } }`, nil)
			wantClose(t, ws, 4401, "Unauthorized")
		})

		t.Run(proto+"/unknown message type", func(t *testing.T) {
			t.Parallel()
			ws := srv.DialWS(t, proto, e2e.BearerPayload(srv.Token(t, id("unknown-type"), "")))
			ws.SendRaw(`{"type":"hello"}`)
			wantClose(t, ws, 4400, `Invalid message received: unknown type "hello"`)
		})

		badTokens := []struct {
			name   string
			token  string
			reason string
		}{
			{"malformed token", "not-a-jwt", "malformed token"},
			{"expired token", srv.TokenTTL(t, id("expired"), "", -time.Hour), "token expired"},
			{"token signed with another secret", foreignToken(t), "token signature is invalid"},
		}
		for _, tt := range badTokens {
			t.Run(proto+"/connection_init with "+tt.name, func(t *testing.T) {
				t.Parallel()
				ws := srv.DialWSRaw(t, proto)
				ws.Send(e2e.Frame{Type: "connection_init", Payload: mustJSON(t, e2e.BearerPayload(tt.token))})
				if proto == e2e.LegacyWS {
					// graphql-ws has no close codes of its own: it tells the
					// client with connection_error first.
					f := ws.NextOther(t)
					if f.Type != "connection_error" {
						t.Fatalf("got %+v, want connection_error", f)
					}
					if diff := cmp.Diff([]e2e.Error{{Message: tt.reason}}, f.Errors()); diff != "" {
						t.Errorf("connection_error (-want +got):\n%s", diff)
					}
				}
				wantClose(t, ws, 4403, tt.reason)
			})
		}

		t.Run(proto+"/token expiring while connected", func(t *testing.T) {
			t.Parallel()
			token := srv.TokenTTL(t, id("expiring"), "", 2*time.Second)
			ws := srv.DialWS(t, proto, e2e.BearerPayload(token))
			ws.Subscribe("1", `subscription { myEvents { seq } }`, nil)
			wantClose(t, ws, 4403, "token expired")
		})

		t.Run(proto+"/101 subscriptions on one socket", func(t *testing.T) {
			t.Parallel()
			token := member(t, srv, id("many"))
			room := createRoom(t, srv, token, "PRIVATE_GROUP", "many subscriptions")
			after := lastEventCursor(t, srv, token, room)
			ws := srv.DialWS(t, proto, e2e.BearerPayload(token))
			vars := map[string]any{"r": room, "after": after}
			for i := 1; i <= 100; i++ {
				ws.Subscribe(fmt.Sprint(i), roomEventsQuery, vars)
			}
			ws.Subscribe("101", roomEventsQuery, vars)
			f := ws.Next(t, "101")
			if f.Type != "error" {
				t.Fatalf("101st subscription: got %s %s, want error", f.Type, f.Payload)
			}
			errs := f.Errors()
			if len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
				t.Fatalf("101st subscription: errors %+v, want one RATE_LIMITED", errs)
			}

			// The socket stays usable: the 100 subscriptions still deliver,
			// and a freed slot takes a new operation.
			sent := send(t, srv, token, room, "to all hundred")
			for i := 1; i <= 100; i++ {
				var got struct{ RoomEvents roomEvent }
				ws.NextData(t, fmt.Sprint(i), &got)
				if got.RoomEvents.Message == nil || got.RoomEvents.Message.ID != sent.ID {
					t.Fatalf("subscription %d got %+v, want message %s", i, got.RoomEvents, sent.ID)
				}
			}
			ws.Stop("1")
			ws.Subscribe("query", `{ me { id } }`, nil)
			var me struct{ Me ref }
			ws.NextData(t, "query", &me)
			if me.Me.ID != id("many") {
				t.Errorf("me.id = %q, want %q", me.Me.ID, id("many"))
			}
		})

		t.Run(proto+"/multiplexed subscriptions", func(t *testing.T) {
			t.Parallel()
			token := member(t, srv, id("mux"))
			ws := srv.DialWS(t, proto, e2e.BearerPayload(token))
			rooms := map[string]string{} // operation id → room
			for _, op := range []string{"a", "b", "c"} {
				room := createRoom(t, srv, token, "PRIVATE_GROUP", "mux "+op)
				rooms[op] = room
				ws.Subscribe(op, roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, srv, token, room)})
			}
			// Two messages into c, one into a, none into b, then one fence
			// per room: each operation sees exactly its own room's events.
			sends := []struct{ op, text string }{{"c", "c1"}, {"a", "a1"}, {"c", "c2"}, {"a", "fence"}, {"b", "fence"}, {"c", "fence"}}
			for _, s := range sends {
				send(t, srv, token, rooms[s.op], s.text)
			}
			want := map[string][]string{"a": {"a1", "fence"}, "b": {"fence"}, "c": {"c1", "c2", "fence"}}
			for op, wantTexts := range want {
				var got []string
				for range wantTexts {
					var data struct{ RoomEvents roomEvent }
					ws.NextData(t, op, &data)
					e := data.RoomEvents
					if e.RoomID != rooms[op] || e.Message == nil {
						t.Fatalf("operation %s got %+v, want a message of room %s", op, e, rooms[op])
					}
					got = append(got, e.Message.Text)
				}
				if diff := cmp.Diff(wantTexts, got); diff != "" {
					t.Errorf("operation %s (-want +got):\n%s", op, diff)
				}
			}
		})
	}
}

// wantClose waits for the server to close the socket with code and reason.
func wantClose(t *testing.T, ws *e2e.WS, code websocket.StatusCode, reason string) {
	t.Helper()
	gotCode, gotReason := ws.Closed(t)
	if gotCode != code || gotReason != reason {
		t.Errorf("closed with %d %q, want %d %q", gotCode, gotReason, code, reason)
	}
}
