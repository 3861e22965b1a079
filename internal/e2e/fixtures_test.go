package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// eventFields selects what the tests read of a RoomEvent.
const eventFields = `cursor type roomId seq message { id text author { id } } member { id }`

// roomEventsQuery subscribes to a room's durable events after a cursor.
const roomEventsQuery = `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { ` + eventFields + ` } }`

// sendMutation posts a text; the tests read back the id, text and cursor.
const sendMutation = `mutation($r: ID!, $t: String!) { sendMessage(input: {roomId: $r, text: $t}) { id text cursor } }`

// ref is anything the tests identify by id alone.
type ref struct{ ID string }

// eventMessage is the message of a RoomEvent as the tests read it.
type eventMessage struct {
	ID     string
	Text   string
	Author ref
}

// roomEvent is a RoomEvent as selected by eventFields.
type roomEvent struct {
	Cursor  string
	Type    string
	RoomID  string
	Seq     int
	Message *eventMessage
	Member  *ref
}

// sentMessage is what sendMutation returns, and what history lists.
type sentMessage struct {
	ID     string
	Text   string
	Cursor string
}

// member provisions a member (a first authenticated request creates them)
// and returns their token. Rooms can only be shared with provisioned
// members.
func member(t *testing.T, srv *e2e.Server, id string) string {
	t.Helper()
	token := srv.Token(t, id, "Member "+id)
	var me struct{ Me ref }
	srv.Do(t, token, `{ me { id } }`, nil).Decode(t, &me)
	if me.Me.ID != id {
		t.Fatalf("me.id = %q, want %q", me.Me.ID, id)
	}
	return token
}

// createRoom creates a room of kind owned by the token's member, with
// members in it, and returns its id.
func createRoom(t *testing.T, srv *e2e.Server, token, kind, name string, members ...string) string {
	t.Helper()
	if members == nil {
		members = []string{}
	}
	var out struct{ CreateRoom ref }
	srv.Do(t, token, `mutation($k: RoomKind!, $n: String!, $m: [ID!]) { createRoom(input: {kind: $k, name: $n, memberIds: $m}) { id } }`,
		map[string]any{"k": kind, "n": name, "m": members}).Decode(t, &out)
	return out.CreateRoom.ID
}

// send posts text into room and returns the acknowledged message.
func send(t *testing.T, srv *e2e.Server, token, room, text string) sentMessage {
	t.Helper()
	var out struct{ SendMessage sentMessage }
	srv.Do(t, token, sendMutation, map[string]any{"r": room, "t": text}).Decode(t, &out)
	return out.SendMessage
}

// trySend is send for goroutines other than the test's: it returns the
// response (which may carry GraphQL errors) instead of failing.
func trySend(ctx context.Context, srv *e2e.Server, token, room, text string) (sentMessage, e2e.Response, error) {
	r, err := srv.Exec(ctx, token, sendMutation, map[string]any{"r": room, "t": text})
	if err != nil || len(r.Errors) > 0 {
		return sentMessage{}, r, err
	}
	var out struct{ SendMessage sentMessage }
	if err := json.Unmarshal(r.Data, &out); err != nil {
		return sentMessage{}, r, fmt.Errorf("decode %s: %w", r.Data, err)
	}
	return out.SendMessage, r, nil
}

// lastEventCursor returns the cursor of the room's latest event: a
// subscription after it gets everything that happens from now on, with no
// race against the subscription becoming live.
func lastEventCursor(t *testing.T, srv *e2e.Server, token, room string) string {
	t.Helper()
	var out struct {
		Room struct{ LastEventCursor string }
	}
	srv.Do(t, token, `query($r: ID!) { room(id: $r) { lastEventCursor } }`, map[string]any{"r": room}).Decode(t, &out)
	if out.Room.LastEventCursor == "" {
		t.Fatalf("room %s has no lastEventCursor", room)
	}
	return out.Room.LastEventCursor
}

// history returns the room's newest messages (at most last), oldest first.
func history(t *testing.T, srv *e2e.Server, token, room string, last int) []sentMessage {
	t.Helper()
	var out struct {
		Room struct {
			Messages struct{ Edges []struct{ Node sentMessage } }
		}
	}
	srv.Do(t, token, `query($r: ID!, $n: Int) { room(id: $r) { messages(last: $n) { edges { node { id text cursor } } } } }`,
		map[string]any{"r": room, "n": last}).Decode(t, &out)
	msgs := make([]sentMessage, 0, len(out.Room.Messages.Edges))
	for _, e := range out.Room.Messages.Edges {
		msgs = append(msgs, e.Node)
	}
	return msgs
}

// texts returns the texts of messages, in order.
func texts(msgs []sentMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// wantNoLeak fails when an error message shows the server's insides: SQL,
// the database engine, or a stack trace.
func wantNoLeak(t *testing.T, errs []e2e.Error) {
	t.Helper()
	for _, e := range errs {
		low := strings.ToLower(e.Message)
		for _, bad := range []string{"sql", "goroutine ", ".go:", "panic"} {
			if strings.Contains(low, bad) {
				t.Errorf("error message %q reveals %q", e.Message, bad)
			}
		}
	}
}

// wantError asserts the contract of a refused operation: exactly one error,
// with extensions.code, at path (nil: no path, as for errors raised before
// execution), with data as given (JSON; "" for absent or null).
func wantError(t *testing.T, r e2e.Response, code string, path []any, data string) {
	t.Helper()
	wantNoLeak(t, r.Errors)
	if len(r.Errors) != 1 {
		t.Fatalf("got %d errors, want 1 with code %s: %+v (data %s)", len(r.Errors), code, r.Errors, r.Data)
	}
	e := r.Errors[0]
	if e.Code() != code {
		t.Errorf("extensions.code = %q (message %q), want %q", e.Code(), e.Message, code)
	}
	if e.Message == "" {
		t.Errorf("error has no message")
	}
	if diff := cmp.Diff(path, e.Path); diff != "" {
		t.Errorf("error path (-want +got):\n%s", diff)
	}
	if diff := jsonDiff(data, r.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
}

// jsonDiff compares two JSON documents by value; "" and null are equal.
func jsonDiff(want string, got json.RawMessage) string {
	decode := func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return "not JSON: " + string(b)
		}
		return v
	}
	return cmp.Diff(decode([]byte(want)), decode(got))
}

// sseTransport names Server-Sent Events among the WebSocket subprotocols.
const sseTransport = "sse"

// streamTransports are the ways a client can subscribe.
var streamTransports = []string{e2e.TransportWS, e2e.LegacyWS, sseTransport}

// eventStream is one subscription over any transport: a WebSocket with the
// operation "1" on it, or an SSE stream.
type eventStream struct {
	ws  *e2e.WS
	sse *e2e.SSEStream
}

// subscribe starts a subscription over transport as the token's member.
func subscribe(t *testing.T, srv *e2e.Server, transport, token, query string, vars map[string]any) *eventStream {
	t.Helper()
	if transport == sseTransport {
		st := srv.SSE(t, token, query, vars)
		if st.Status != http.StatusOK {
			t.Fatalf("SSE status %d, want 200", st.Status)
		}
		return &eventStream{sse: st}
	}
	ws := srv.DialWS(t, transport, e2e.BearerPayload(token))
	ws.Subscribe("1", query, vars)
	return &eventStream{ws: ws}
}

// nextField returns the value of the only root field of the next result.
func (s *eventStream) nextField(t *testing.T) json.RawMessage {
	t.Helper()
	var data map[string]json.RawMessage
	if s.ws != nil {
		s.ws.NextData(t, "1", &data)
	} else {
		s.sse.NextData(t, &data)
	}
	if len(data) != 1 {
		t.Fatalf("result has %d root fields, want 1: %v", len(data), data)
	}
	for _, v := range data {
		return v
	}
	return nil
}

// next returns the next room event.
func (s *eventStream) next(t *testing.T) roomEvent {
	t.Helper()
	var e roomEvent
	if raw := s.nextField(t); json.Unmarshal(raw, &e) != nil {
		t.Fatalf("not a room event: %s", raw)
	}
	return e
}

// close ends the subscription as a client going away does.
func (s *eventStream) close() {
	if s.ws != nil {
		s.ws.Close()
		return
	}
	s.sse.Close()
}

// poll returns the only root field of the next result of operation "1",
// or false when timeout fires or the socket closes first. Frames that are
// not results are skipped.
func poll[T any](ws *e2e.WS, timeout <-chan time.Time) (T, bool) {
	var zero T
	for {
		f, ok := ws.Poll("1", timeout)
		if !ok {
			return zero, false
		}
		var r e2e.Response
		var data map[string]T
		if f.Type != "next" || json.Unmarshal(f.Payload, &r) != nil || json.Unmarshal(r.Data, &data) != nil || len(data) != 1 {
			continue
		}
		for _, v := range data {
			return v, true
		}
	}
}

// mustJSON encodes v for a frame payload.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
