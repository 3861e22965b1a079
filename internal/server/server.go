// Package server assembles the HTTP side of nordkapp42: routes, middleware,
// health probes and the playground, and runs the listener as a service that
// stops gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/nordkapp42/nordkapp42/internal/auth"
)

// MaxBodyBytes caps the body of a GraphQL request.
const MaxBodyBytes = 1 << 20

// Routes are the handlers the server mounts.
type Routes struct {
	// GraphQL serves /graphql.
	GraphQL http.Handler
	// Verifier checks bearer tokens on HTTP requests.
	Verifier *auth.Verifier
	// Ready reports whether the node can serve (store and broker answer).
	Ready func(ctx context.Context) error
	// Logger receives one line per request.
	Logger *slog.Logger
	// Metrics serves /metrics; nil serves none.
	Metrics http.Handler
}

// Handler returns the root HTTP handler.
func Handler(r Routes) http.Handler {
	mux := http.NewServeMux()
	gql := auth.Middleware(r.Verifier)(limitBody(r.GraphQL))
	mux.Handle("/graphql", gql)
	mux.Handle("/playground", playground.Handler("nordkapp42", "/graphql"))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if r.Ready != nil {
			if err := r.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if r.Metrics != nil {
		mux.Handle("GET /metrics", r.Metrics)
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/playground", http.StatusFound)
	})
	return withRequestID(accessLog(r.Logger, mux))
}

// Serve runs srv on ln until ctx ends, then shuts it down gracefully within
// grace: the listener closes at once, in-flight requests get to finish.
// Hijacked connections (WebSockets) are not waited for here: their transport
// has its own shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
