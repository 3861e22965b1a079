package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/server"
)

// metricsStub stands in for the metrics handler and says so in its body.
var metricsStub = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("stub_metric 1\n"))
})

func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier([]byte("test-secret-test-secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	gql := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"data":{}}`)) })
	tests := []struct {
		name    string
		metrics http.Handler
		method  string
		want    int
		body    string
	}{
		{"served", metricsStub, http.MethodGet, http.StatusOK, "stub_metric 1\n"},
		{"read only", metricsStub, http.MethodPost, http.StatusMethodNotAllowed, ""},
		{"not configured", nil, http.MethodGet, http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		h := server.Handler(server.Routes{GraphQL: gql, Verifier: v, Metrics: tc.metrics})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.want {
			t.Errorf("%s: %s /metrics answered %d, want %d", tc.name, tc.method, rec.Code, tc.want)
		}
		if tc.body != "" && string(body) != tc.body {
			t.Errorf("%s: body %q, want %q", tc.name, body, tc.body)
		}
	}
}
