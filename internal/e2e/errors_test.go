package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestErrorCodes pins extensions.code for every way an operation is
// refused: clients branch on these codes, so they are part of the API.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})

	alice := member(t, srv, "err-alice")
	bob := member(t, srv, "err-bob")
	carol := member(t, srv, "err-carol")

	alicePrivate := createRoom(t, srv, alice, "PRIVATE_GROUP", "alice only")
	channel := createRoom(t, srv, alice, "PRIVATE_CHANNEL", "announcements", "err-bob")
	public := createRoom(t, srv, alice, "PUBLIC_GROUP", "lobby")
	left := createRoom(t, srv, alice, "PRIVATE_GROUP", "bob left", "err-bob")
	var leaveOut struct{ LeaveRoom bool }
	srv.Do(t, bob, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, map[string]any{"r": left}).Decode(t, &leaveOut)
	shared := createRoom(t, srv, alice, "PRIVATE_GROUP", "shared", "err-bob")
	aliceMessage := send(t, srv, alice, shared, "alice wrote this")
	other := createRoom(t, srv, alice, "PRIVATE_GROUP", "other")
	foreignCursor := send(t, srv, alice, other, "elsewhere").Cursor
	eventCursor := lastEventCursor(t, srv, alice, shared)
	unknownRoom := ulid.Make().String()

	tooManyMembers := make([]string, 1001)
	for i := range tooManyMembers {
		tooManyMembers[i] = fmt.Sprintf("err-m%d", i)
	}

	const (
		me          = `{ me { id } }`
		createRoomQ = `mutation($k: RoomKind!, $n: String!, $m: [ID!]) { createRoom(input: {kind: $k, name: $n, memberIds: $m}) { id } }`
		messagesQ   = `query($r: ID!, $c: Cursor) { room(id: $r) { messages(after: $c) { edges { cursor } } } }`
		roomQ       = `query($r: ID!) { room(id: $r) { id } }`
		editQ       = `mutation($id: ID!) { editMessage(id: $id, text: "not yours") { id } }`
	)
	sendVars := func(room, text string) map[string]any { return map[string]any{"r": room, "t": text} }

	tests := []struct {
		name  string
		token string
		query string
		vars  map[string]any
		code  string // "" when the operation succeeds
		path  []any
		data  string // JSON of the expected data
		msg   string // the exact message, where it is part of the contract
	}{
		{name: "no token", query: me, code: "UNAUTHENTICATED", path: []any{"me"}},
		{name: "malformed token", token: "not-a-jwt", query: me, code: "UNAUTHENTICATED", path: []any{"me"}, msg: "malformed token"},
		{name: "expired token", token: srv.TokenTTL(t, "err-expired", "", -time.Hour), query: me, code: "UNAUTHENTICATED", path: []any{"me"}, msg: "token expired"},
		{name: "token signed with another secret", token: foreignToken(t), query: me, code: "UNAUTHENTICATED", path: []any{"me"}},
		{name: "alg none", token: unsignedToken("err-alice"), query: me, code: "UNAUTHENTICATED", path: []any{"me"}},

		{name: "empty text", token: alice, query: sendMutation, vars: sendVars(shared, ""), code: "BAD_USER_INPUT", path: []any{"sendMessage"}},
		{name: "whitespace-only text", token: alice, query: sendMutation, vars: sendVars(shared, " \t\n  "), code: "BAD_USER_INPUT", path: []any{"sendMessage"}},
		{name: "text of 4,001 characters", token: alice, query: sendMutation, vars: sendVars(shared, strings.Repeat("é", 4001)), code: "BAD_USER_INPUT", path: []any{"sendMessage"}},
		{name: "text of 4,000 characters", token: alice, query: `mutation($r: ID!, $t: String!) { sendMessage(input: {roomId: $r, text: $t}) { author { id } } }`,
			vars: sendVars(shared, strings.Repeat("é", 4000)), data: `{"sendMessage":{"author":{"id":"err-alice"}}}`},
		{name: "room name of 101 characters", token: alice, query: createRoomQ, vars: map[string]any{"k": "PRIVATE_GROUP", "n": strings.Repeat("n", 101)}, code: "BAD_USER_INPUT", path: []any{"createRoom"}},
		{name: "room name of 100 characters", token: alice, query: `mutation($n: String!) { createRoom(input: {kind: PRIVATE_GROUP, name: $n}) { kind } }`,
			vars: map[string]any{"n": strings.Repeat("n", 100)}, data: `{"createRoom":{"kind":"PRIVATE_GROUP"}}`},
		{name: "1,001 member ids", token: alice, query: createRoomQ, vars: map[string]any{"k": "PRIVATE_GROUP", "n": "crowd", "m": tooManyMembers}, code: "BAD_USER_INPUT", path: []any{"createRoom"}},
		{name: "malformed room id", token: alice, query: sendMutation, vars: sendVars("not-a-room-id", "hello"), code: "BAD_USER_INPUT", path: []any{"sendMessage"}},
		{name: "malformed cursor", token: alice, query: messagesQ, vars: map[string]any{"r": shared, "c": "%%% not a cursor"}, code: "BAD_USER_INPUT", path: []any{"room", "messages"}, data: `{"room":null}`},
		{name: "cursor of another room", token: alice, query: messagesQ, vars: map[string]any{"r": shared, "c": foreignCursor}, code: "BAD_USER_INPUT", path: []any{"room", "messages"}, data: `{"room":null}`},
		{name: "cursor of another list", token: alice, query: messagesQ, vars: map[string]any{"r": shared, "c": eventCursor}, code: "BAD_USER_INPUT", path: []any{"room", "messages"}, data: `{"room":null}`},
		{name: "createRoom of kind CHAT", token: alice, query: createRoomQ, vars: map[string]any{"k": "CHAT", "n": "chat"}, code: "BAD_USER_INPUT", path: []any{"createRoom"}},

		{name: "unknown room", token: alice, query: sendMutation, vars: sendVars(unknownRoom, "hello"), code: "NOT_FOUND", path: []any{"sendMessage"}},
		{name: "room query of an unknown room", token: alice, query: roomQ, vars: map[string]any{"r": unknownRoom}, data: `{"room":null}`},
		{name: "private room of others", token: bob, query: sendMutation, vars: sendVars(alicePrivate, "let me in"), code: "NOT_FOUND", path: []any{"sendMessage"}},
		{name: "room query of a private room of others", token: bob, query: roomQ, vars: map[string]any{"r": alicePrivate}, data: `{"room":null}`},
		{name: "channel as MEMBER", token: bob, query: sendMutation, vars: sendVars(channel, "may I?"), code: "FORBIDDEN", path: []any{"sendMessage"}},
		{name: "public room not joined", token: carol, query: sendMutation, vars: sendVars(public, "drive-by"), code: "FORBIDDEN", path: []any{"sendMessage"}},
		{name: "private room one left", token: bob, query: sendMutation, vars: sendVars(left, "back again"), code: "NOT_FOUND", path: []any{"sendMessage"}},
		{name: "editing a message of someone else", token: bob, query: editQ, vars: map[string]any{"id": aliceMessage.ID}, code: "FORBIDDEN", path: []any{"editMessage"}},
	}
	// The group returns once all its parallel cases have finished.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := srv.Do(t, tt.token, tt.query, tt.vars)
				if tt.code == "" {
					if len(r.Errors) > 0 {
						t.Fatalf("unexpected errors: %+v", r.Errors)
					}
					if diff := jsonDiff(tt.data, r.Data); diff != "" {
						t.Errorf("data (-want +got):\n%s", diff)
					}
					return
				}
				wantError(t, r, tt.code, tt.path, tt.data)
				if tt.msg != "" && r.Errors[0].Message != tt.msg {
					t.Errorf("message %q, want %q", r.Errors[0].Message, tt.msg)
				}
			})
		}
	})

	t.Run("nothing refused reached the history", func(t *testing.T) {
		want := []string{"alice wrote this", strings.Repeat("é", 4000)}
		if diff := cmp.Diff(want, texts(history(t, srv, alice, shared, 50))); diff != "" {
			t.Errorf("history of the shared room (-want +got):\n%s", diff)
		}
	})
}

// foreignToken is a well-formed HS256 token signed with a secret the server
// does not know.
func foreignToken(t *testing.T) string {
	t.Helper()
	token, err := auth.Issue([]byte("some other server's secret"), "err-alice", "Alice", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// unsignedToken is a token with alg "none" and no signature, naming a real
// member: a server that honoured its alg would let anyone in as anyone.
func unsignedToken(sub string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." +
		enc(map[string]any{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}) + "."
}

// TestRateLimit sends faster than a member may and checks that refusals are
// RATE_LIMITED and exact: every acknowledged message is in the history,
// every refused one is not.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Args: []string{"--rate-limit", "1", "--rate-burst", "3"}})
	alice := member(t, srv, "rate-alice")
	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "fast talk")

	var acked []string
	limited := 0
	for i := range 5 {
		text := fmt.Sprintf("message %d", i)
		r := srv.Do(t, alice, sendMutation, map[string]any{"r": room, "t": text})
		if len(r.Errors) > 0 {
			wantError(t, r, "RATE_LIMITED", []any{"sendMessage"}, "")
			limited++
			continue
		}
		acked = append(acked, text)
	}
	if limited == 0 {
		t.Errorf("5 messages at once with a burst of 3: none was RATE_LIMITED")
	}
	if diff := cmp.Diff(acked, texts(history(t, srv, alice, room, 50))); diff != "" {
		t.Errorf("history against acknowledged sends (-want +got):\n%s", diff)
	}
}
