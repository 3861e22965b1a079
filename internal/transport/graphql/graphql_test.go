package graphql_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/transport/graphql"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

func TestCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{domain.Errorf(domain.ErrInvalid, "x"), "BAD_USER_INPUT"},
		{fmt.Errorf("send message: %w", domain.Errorf(domain.ErrNotFound, "x")), "NOT_FOUND"},
		{domain.ErrForbidden, "FORBIDDEN"},
		{domain.ErrConflict, "CONFLICT"},
		{domain.ErrUnauthenticated, "UNAUTHENTICATED"},
		{domain.ErrRateLimited, "RATE_LIMITED"},
		{domain.ErrUnavailable, "UNAVAILABLE"},
		{domain.ErrSlowConsumer, "SLOW_CONSUMER"},
		{errors.New("disk I/O error"), "INTERNAL_SERVER_ERROR"},
	}
	for _, tc := range tests {
		if got := graphql.Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// endpoint serves the GraphQL handler over the embedded adapters, behind
// the same auth middleware the server uses.
type endpoint struct {
	url    string
	secret []byte
}

func newEndpoint(t *testing.T, opts graphql.Options) endpoint {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	secret := []byte("test-secret-test-secret")
	v, err := auth.NewVerifier(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := app.New(store, realtime.NewHub(memory.New(), realtime.HubOptions{}), presencememory.New(), clock.System{}, ulids.New(), nil, app.Config{})
	opts.Verifier = v
	h := graphql.NewHandler(svc, opts)
	ts := httptest.NewServer(auth.Middleware(v)(h))
	t.Cleanup(ts.Close)
	return endpoint{url: ts.URL, secret: secret}
}

type gqlError struct {
	Message    string
	Extensions map[string]any
}

func (e endpoint) post(t *testing.T, sub, query string) (json.RawMessage, []gqlError) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sub != "" {
		tok, err := auth.Issue(e.secret, sub, sub, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Data, r.Errors
}

func TestLimitsRefuseBeforeRunning(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, graphql.Options{MaxDepth: 4, MaxComplexity: 20})
	tests := []struct {
		name, query, want string
	}{
		{"too deep", `{ rooms { edges { node { lastMessage { room { id } } } } } }`, "nested 6 levels deep; the limit is 4"},
		{"too deep through a fragment", `query { rooms { ...R } } fragment R on RoomConnection { edges { node { lastMessage { id } } } }`, "nested 5 levels deep"},
		{"too complex", `{ a: me { id name } b: me { id name } c: me { id name } d: me { id name } e: me { id name } f: me { id name } g: me { id name } }`, "complexity is 21; the limit is 20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, errs := e.post(t, "alice", tc.query)
			if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(errs[0].Message, tc.want) {
				t.Fatalf("errors = %+v, want one BAD_USER_INPUT containing %q", errs, tc.want)
			}
			if string(data) != "" && string(data) != "null" {
				t.Fatalf("data = %s, want none: the operation must not run", data)
			}
		})
	}
	if _, errs := e.post(t, "alice", `{ me { id } }`); len(errs) != 0 {
		t.Fatalf("a small query failed: %+v", errs)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, graphql.Options{})
	_, errs := e.post(t, "", `{ me { id } }`)
	if len(errs) != 1 || errs[0].Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("errors = %+v, want UNAUTHENTICATED", errs)
	}
}

func TestNullableLookupsAnswerNull(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, graphql.Options{})
	data, errs := e.post(t, "alice", `{ room(id: "01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } member(id: "nobody") { id } }`)
	if len(errs) != 0 || string(data) != `{"room":null,"member":null}` {
		t.Fatalf("data %s errors %+v, want nulls and no error", data, errs)
	}
	_, errs = e.post(t, "alice", `{ room(id: "not-an-id") { id } }`)
	if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Fatalf("errors = %+v, want BAD_USER_INPUT for a malformed id", errs)
	}
}

func TestUnavailableHidesItsCause(t *testing.T) {
	t.Parallel()
	cause := fmt.Errorf("%w: %w", domain.Errorf(domain.ErrUnavailable, "database unavailable"), errors.New("dial tcp 10.1.2.3:5432: connection refused"))
	got := graphql.ErrorPresenter(t.Context(), fmt.Errorf("send message: %w", cause))
	if got.Extensions["code"] != "UNAVAILABLE" || strings.Contains(got.Message, "10.1.2.3") {
		t.Fatalf("presented %q %v, want UNAVAILABLE without the cause", got.Message, got.Extensions)
	}
	got = graphql.ErrorPresenter(t.Context(), errors.New("near \"SELEC\": syntax error"))
	if got.Extensions["code"] != "INTERNAL_SERVER_ERROR" || got.Message != "internal server error" {
		t.Fatalf("presented %q %v, want a bare internal error", got.Message, got.Extensions)
	}
}
