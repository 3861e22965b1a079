package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestSSE covers GraphQL over Server-Sent Events (graphql-sse, distinct
// connections mode): results arrive as next events, refusals as errors in a
// next event followed by complete, and the credential is the request's
// Authorization header.
func TestSSE(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})

	t.Run("roomEvents", func(t *testing.T) {
		t.Parallel()
		alice := member(t, srv, "sse-alice")
		bob := member(t, srv, "sse-bob")
		room := createRoom(t, srv, alice, "PRIVATE_GROUP", "sse", "sse-bob")
		st := srv.SSE(t, bob, roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, srv, bob, room)})
		if st.Status != http.StatusOK {
			t.Fatalf("status %d, want 200", st.Status)
		}
		if ct := st.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q, want text/event-stream", ct)
		}
		sent := send(t, srv, alice, room, "over SSE")
		var got struct{ RoomEvents roomEvent }
		st.NextData(t, &got) // fails unless the event is "next"
		e := got.RoomEvents
		if e.Type != "MESSAGE_SENT" || e.RoomID != room || e.Message == nil ||
			e.Message.ID != sent.ID || e.Message.Text != "over SSE" || e.Message.Author.ID != "sse-alice" {
			t.Errorf("got %+v, want MESSAGE_SENT of %+v by sse-alice", e, sent)
		}
	})

	t.Run("the token comes from the Authorization header", func(t *testing.T) {
		t.Parallel()
		token := srv.Token(t, "sse-header", "Header")
		st := srv.SSE(t, token, `{ me { id name } }`, nil)
		var got struct{ Me struct{ ID, Name string } }
		st.NextData(t, &got)
		if got.Me.ID != "sse-header" || got.Me.Name != "Header" {
			t.Errorf("me = %+v, want sse-header named Header", got.Me)
		}
		wantComplete(t, st)
	})

	unauthenticated := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"expired token", srv.TokenTTL(t, "sse-expired", "", -time.Hour)},
		{"malformed token", "not-a-jwt"},
	}
	for _, tt := range unauthenticated {
		t.Run("subscription with "+tt.name, func(t *testing.T) {
			t.Parallel()
			st := srv.SSE(t, tt.token, `subscription { myEvents { seq } }`, nil)
			r := st.NextResponse(t)
			wantError(t, r, "UNAUTHENTICATED", []any{"myEvents"}, "")
			wantComplete(t, st)
		})
	}
}

// wantComplete asserts that the next event is complete and that the server
// then ends the stream.
func wantComplete(t *testing.T, st *e2e.SSEStream) {
	t.Helper()
	if ev := st.Next(t); ev.Event != "complete" {
		t.Fatalf("got event %q with data %q, want complete", ev.Event, ev.Data)
	}
	st.Ended(t)
}
