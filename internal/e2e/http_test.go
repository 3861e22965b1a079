package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestHTTP covers GraphQL over plain HTTP: the request forms, content
// negotiation and the limits that refuse a request before it runs.
func TestHTTP(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})

	t.Run("POST application/json", func(t *testing.T) {
		t.Parallel()
		token := srv.Token(t, "http-post", "Poster")
		body := []byte(`{"query":"{ me { id name } }"}`)
		req := srv.Request(t, http.MethodPost, "/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		raw := srv.HTTP(t, req)
		if raw.Status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", raw.Status, raw.Body)
		}
		if ct := raw.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if diff := jsonDiff(`{"data":{"me":{"id":"http-post","name":"Poster"}}}`, raw.Body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	})

	t.Run("GET with query parameters", func(t *testing.T) {
		t.Parallel()
		token := member(t, srv, "http-get")
		r := srv.Get(t, token, `query($id: ID!) { member(id: $id) { id name } }`, map[string]any{"id": "http-get"})
		if r.Status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.Status)
		}
		if diff := jsonDiff(`{"member":{"id":"http-get","name":"Member http-get"}}`, r.Data); diff != "" || len(r.Errors) > 0 {
			t.Errorf("data (-want +got):\n%s\nerrors: %+v", diff, r.Errors)
		}
	})

	t.Run("GET refuses a mutation", func(t *testing.T) {
		t.Parallel()
		token := member(t, srv, "http-get-mutation")
		room := createRoom(t, srv, token, "PRIVATE_GROUP", "get mutation")
		r := srv.Get(t, token, sendMutation, map[string]any{"r": room, "t": "sent by GET"})
		if len(r.Errors) == 0 || r.Status == http.StatusOK {
			t.Errorf("GET mutation: status %d, errors %+v; want a refusal", r.Status, r.Errors)
		}
		if got := history(t, srv, token, room, 10); len(got) != 0 {
			t.Errorf("the GET mutation ran: history %v", texts(got))
		}
	})

	t.Run("Accept application/graphql-response+json", func(t *testing.T) {
		t.Parallel()
		token := srv.Token(t, "http-accept", "Accepter")
		const mediaType = "application/graphql-response+json"
		post := srv.Request(t, http.MethodPost, "/graphql", []byte(`{"query":"{ me { id } }"}`))
		post.Header.Set("Content-Type", "application/json")
		get := srv.Request(t, http.MethodGet, "/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D", nil)
		for _, req := range []*http.Request{post, get} {
			req.Header.Set("Accept", mediaType)
			req.Header.Set("Authorization", "Bearer "+token)
			raw := srv.HTTP(t, req)
			if ct := raw.Header.Get("Content-Type"); ct != mediaType {
				t.Errorf("%s: Content-Type %q, want %q", req.Method, ct, mediaType)
			}
			if diff := jsonDiff(`{"data":{"me":{"id":"http-accept"}}}`, raw.Body); diff != "" {
				t.Errorf("%s: body (-want +got):\n%s", req.Method, diff)
			}
		}
	})

	t.Run("body over 1 MiB", func(t *testing.T) {
		t.Parallel()
		token := member(t, srv, "http-large")
		room := createRoom(t, srv, token, "PRIVATE_GROUP", "large")
		body, err := json.Marshal(map[string]any{
			"query":     sendMutation,
			"variables": map[string]any{"r": room, "t": "huge", "pad": strings.Repeat("x", 1<<20)},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, chunked := range []bool{false, true} {
			req := srv.Request(t, http.MethodPost, "/graphql", body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			if chunked {
				// No Content-Length: the limit must hold while reading.
				req.ContentLength = -1
				req.Body = io.NopCloser(bytes.NewReader(body))
			}
			raw := srv.HTTP(t, req)
			if raw.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked=%v: status %d, want 413", chunked, raw.Status)
			}
			r, err := raw.GraphQL()
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, r, "BAD_USER_INPUT", nil, "")
		}
		if got := history(t, srv, token, room, 10); len(got) != 0 {
			t.Errorf("the oversized request ran: history %v", texts(got))
		}
	})

	t.Run("malformed JSON", func(t *testing.T) {
		t.Parallel()
		r := srv.Post(t, srv.Token(t, "http-malformed", ""), "application/json", []byte(`{"query": "{ me { id } }"`))
		if r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", r.Status)
		}
		if len(r.Errors) != 1 || r.Errors[0].Message == "" {
			t.Errorf("errors %+v, want one with a message", r.Errors)
		}
		if diff := jsonDiff("", r.Data); diff != "" {
			t.Errorf("data (-want +got):\n%s", diff)
		}
		wantNoLeak(t, r.Errors)
	})

	t.Run("depth limit", func(t *testing.T) {
		t.Parallel()
		token := member(t, srv, "http-depth")
		room := createRoom(t, srv, token, "PRIVATE_GROUP", "depth")
		// At the limit the operation runs; one level more and it does not.
		r := srv.Do(t, token, nestedSend(12), map[string]any{"r": room, "t": "at the limit"})
		if len(r.Errors) > 0 {
			t.Fatalf("a mutation 12 levels deep was refused: %+v", r.Errors)
		}
		r = srv.Do(t, token, nestedSend(13), map[string]any{"r": room, "t": "too deep"})
		wantError(t, r, "BAD_USER_INPUT", nil, "")
		if diff := cmp.Diff([]string{"at the limit"}, texts(history(t, srv, token, room, 10))); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})

	t.Run("complexity limit", func(t *testing.T) {
		t.Parallel()
		token := member(t, srv, "http-complexity")
		room := createRoom(t, srv, token, "PRIVATE_GROUP", "complexity")
		// One field per alias: 5,001 fields under sendMessage cost more
		// than 5,000 at any depth.
		var q strings.Builder
		q.WriteString(`mutation($r: ID!, $t: String!) { sendMessage(input: {roomId: $r, text: $t}) {`)
		for i := range 5001 {
			fmt.Fprintf(&q, " t%d: text", i)
		}
		q.WriteString(" } }")
		r := srv.Do(t, token, q.String(), map[string]any{"r": room, "t": "too complex"})
		wantError(t, r, "BAD_USER_INPUT", nil, "")
		if got := history(t, srv, token, room, 10); len(got) != 0 {
			t.Errorf("the refused mutation ran: history %v", texts(got))
		}
	})
}

// nestedSend returns a sendMessage mutation whose selection is depth levels
// deep, counting sendMessage itself and the leaf id: message → its room → the
// room's last message → its room …
func nestedSend(depth int) string {
	cycle := []string{"room", "lastMessage"}
	fields := []string{"sendMessage(input: {roomId: $r, text: $t})"}
	for i := 0; len(fields) < depth-1; i++ {
		fields = append(fields, cycle[i%len(cycle)])
	}
	var q strings.Builder
	q.WriteString("mutation($r: ID!, $t: String!) {")
	for _, f := range fields {
		q.WriteString(" " + f + " {")
	}
	q.WriteString(" id")
	q.WriteString(strings.Repeat(" }", len(fields)))
	q.WriteString(" }")
	return q.String()
}
