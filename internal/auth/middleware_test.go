package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header    string
		wantToken string
		wantOK    bool
	}{
		{header: "Bearer abc.def.ghi", wantToken: "abc.def.ghi", wantOK: true},
		{header: "bearer abc", wantToken: "abc", wantOK: true},
		{header: "BEARER abc", wantToken: "abc", wantOK: true},
		{header: "  Bearer   abc  ", wantToken: "abc", wantOK: true},
		{header: "Bearer ", wantToken: "", wantOK: true},
		{header: "Bearer", wantToken: "", wantOK: true},
		{header: "", wantOK: false},
		{header: "Basic dXNlcjpwYXNz", wantOK: false},
		{header: "Bearerabc", wantOK: false},
		{header: "abc.def.ghi", wantOK: false},
	}
	for _, tt := range tests {
		token, ok := BearerToken(tt.header)
		if token != tt.wantToken || ok != tt.wantOK {
			t.Errorf("BearerToken(%q) = %q, %t; want %q, %t", tt.header, token, ok, tt.wantToken, tt.wantOK)
		}
	}
}

func TestIdentityContext(t *testing.T) {
	t.Parallel()
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext found an identity in an empty context")
	}
	want := Identity{MemberID: "alice", Name: "Alice", ExpiresAt: time.Unix(1_700_000_000, 0)}
	got, ok := FromContext(WithIdentity(context.Background(), want))
	if !ok {
		t.Fatal("FromContext found no identity after WithIdentity")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	secret := keys().secret
	v := config{secret: secret}.verifier(t)
	now := time.Now().Truncate(time.Second)
	good, err := Issue(secret, "alice", "Alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := Issue(secret, "alice", "Alice", -time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name         string
		header       string
		wantIdentity *Identity
		wantErr      string
	}{
		{name: "no header"},
		{name: "another scheme", header: "Basic dXNlcjpwYXNz"},
		{
			name:         "valid token",
			header:       "Bearer " + good,
			wantIdentity: &Identity{MemberID: "alice", Name: "Alice", ExpiresAt: now.Add(time.Hour)},
		},
		{name: "expired token", header: "Bearer " + expired, wantErr: "token expired"},
		{name: "garbage token", header: "Bearer abc", wantErr: "malformed token"},
		{name: "empty bearer", header: "Bearer ", wantErr: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				called  bool
				gotID   Identity
				gotIDOK bool
				gotErr  error
			)
			h := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				gotID, gotIDOK = FromContext(r.Context())
				gotErr = ErrorFromContext(r.Context())
				w.WriteHeader(http.StatusTeapot)
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if !called {
				t.Fatal("the middleware did not call the next handler")
			}
			// The middleware never answers by itself: the next handler's status
			// reaches the client even when the token is refused.
			if rec.Code != http.StatusTeapot {
				t.Errorf("status = %d; want the next handler's %d", rec.Code, http.StatusTeapot)
			}
			if tt.wantIdentity != nil {
				if !gotIDOK {
					t.Fatal("no identity in the request context")
				}
				if diff := cmp.Diff(*tt.wantIdentity, gotID); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
			} else if gotIDOK {
				t.Errorf("identity %+v in the request context; want none", gotID)
			}
			switch {
			case tt.wantErr == "" && gotErr != nil:
				t.Errorf("ErrorFromContext = %v; want nil", gotErr)
			case tt.wantErr != "" && gotErr == nil:
				t.Errorf("ErrorFromContext = nil; want %q", tt.wantErr)
			case tt.wantErr != "" && (gotErr.Error() != tt.wantErr || !errors.Is(gotErr, domain.ErrUnauthenticated)):
				t.Errorf("ErrorFromContext = %v; want %q wrapping domain.ErrUnauthenticated", gotErr, tt.wantErr)
			}
		})
	}
}
