package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/server"
)

func newServer(t *testing.T, ready func(context.Context) error) (*httptest.Server, *[]int) {
	t.Helper()
	v, err := auth.NewVerifier([]byte("test-secret-test-secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	gql := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sizes = append(sizes, len(b))
		_, _ = w.Write([]byte(`{"data":{}}`))
	})
	ts := httptest.NewServer(server.Handler(server.Routes{GraphQL: gql, Verifier: v, Ready: ready}))
	t.Cleanup(ts.Close)
	return ts, &sizes
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	ts, sizes := newServer(t, nil)
	tests := []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"at the limit", server.MaxBodyBytes, false, http.StatusOK},
		{"over the limit", server.MaxBodyBytes + 1, false, http.StatusRequestEntityTooLarge},
		{"over the limit, chunked", server.MaxBodyBytes + 1, true, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		var body io.Reader = strings.NewReader(strings.Repeat("x", tc.size))
		if tc.chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusRequestEntityTooLarge && !strings.Contains(string(got), `"code":"BAD_USER_INPUT"`) {
			t.Errorf("%s: body %s, want a GraphQL error with BAD_USER_INPUT", tc.name, got)
		}
	}
	if len(*sizes) != 1 || (*sizes)[0] != server.MaxBodyBytes {
		t.Errorf("handler saw bodies %v, want only the one at the limit", *sizes)
	}
}

func TestProbes(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	ts, _ := newServer(t, func(context.Context) error {
		if failing.Load() {
			return errors.New("store does not answer")
		}
		return nil
	})
	get := func(path string) (int, http.Header) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d while ready", code)
	}
	failing.Store(true)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while the store fails, want 503", code)
	}
	if _, h := get("/healthz"); len(h.Get("X-Request-Id")) != 16 {
		t.Errorf("X-Request-Id = %q, want a generated id", h.Get("X-Request-Id"))
	}
}
