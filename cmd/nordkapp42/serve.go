package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/config"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/server"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/transport/graphql"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// serve wires the adapters into the use cases and runs the server until ctx
// ends. This is the one place that knows every concrete type.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	log.Info("starting", "version", version, "config", cfg)

	verifier, secret, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "nordkapp42.db"))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { _ = store.Close() }()

	hub := realtime.NewHub(memory.New(), realtime.HubOptions{Logger: log})
	svc := app.New(store, hub, presencememory.New(), clock.System{}, ulids.New(), log,
		app.Config{SendRate: cfg.RateLimit, SendBurst: cfg.RateBurst})
	gql := graphql.NewHandler(svc, graphql.Options{Verifier: verifier, MaxSubscriptions: cfg.MaxSubscriptionsPerConn})

	ready := func(ctx context.Context) error {
		_, err := store.Member(ctx, "readiness-probe")
		if err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		return nil
	}
	srv := &http.Server{
		Handler: server.Handler(server.Routes{GraphQL: gql, Verifier: verifier, Ready: ready, Logger: log}),
		// Slow clients must not hold connections open forever before sending
		// their headers; bodies and streams are bounded elsewhere.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.Demo {
		if err := seedDemo(ctx, svc, secret, ln.Addr(), stdout); err != nil {
			_ = ln.Close()
			return err
		}
	}
	log.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, srv, ln, cfg.ShutdownTimeout) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := gql.Shutdown(sctx); err != nil {
		log.Warn("closing streams", "err", err)
	}
	return <-served
}

var errNotFound = domain.ErrNotFound

// newVerifier builds the token verifier from the configured secret and
// public key; with neither, from the data directory's secret, created on
// first start. It also returns the HS256 secret, if any, for demo tokens.
func newVerifier(cfg config.Config) (*auth.Verifier, []byte, error) {
	secret := []byte(cfg.JWTSecret)
	var pem []byte
	if cfg.JWTPublicKeyFile != "" {
		var err error
		if pem, err = os.ReadFile(cfg.JWTPublicKeyFile); err != nil {
			return nil, nil, fmt.Errorf("read JWT public key: %w", err)
		}
	}
	if len(secret) == 0 && len(pem) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return nil, nil, fmt.Errorf("JWT secret: %w", err)
		}
	}
	v, err := auth.NewVerifier(secret, pem)
	if err != nil {
		return nil, nil, fmt.Errorf("JWT verifier: %w", err)
	}
	return v, secret, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
