package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/server"
)

func TestDebugHandler(t *testing.T) {
	t.Parallel()
	h := server.DebugHandler()
	tests := []struct {
		method, path string
		want         int
		body         string // a part of the body, if any
	}{
		{http.MethodPost, "/debug/gc", http.StatusNoContent, ""},
		{http.MethodGet, "/debug/gc", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/debug/pprof/", http.StatusOK, "goroutine"},
		{http.MethodGet, "/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"},
		{http.MethodGet, "/debug/pprof/cmdline", http.StatusOK, ""},
		{http.MethodGet, "/debug/pprof/symbol", http.StatusOK, "num_symbols"},
		// Nothing else is served: the debug listener is not a second API.
		{http.MethodGet, "/metrics", http.StatusNotFound, ""},
		{http.MethodGet, "/graphql", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
		if body, _ := io.ReadAll(rec.Body); !strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, tc.body, body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/gc", nil))
	if rec.Body.Len() != 0 {
		t.Errorf("POST /debug/gc wrote a body %q with its 204", rec.Body)
	}
}
