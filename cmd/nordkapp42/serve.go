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
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"

	"golang.org/x/sync/errgroup"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/config"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/metrics"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/server"
	"github.com/nordkapp42/nordkapp42/internal/store/observed"
	"github.com/nordkapp42/nordkapp42/internal/telemetry"
	"github.com/nordkapp42/nordkapp42/internal/transport/graphql"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// store is what the node needs of a Store adapter beyond the port.
type store interface {
	app.Store
}

// service is a long-running part of the node: it runs until ctx ends.
type service func(ctx context.Context) error

// deliveryLinger is how long a goroutine that handed an event on waits for
// the next: long enough to span the gaps of a steady flow of events, short
// enough that idle connections soon cost none again.
const deliveryLinger = time.Second

// serve wires the adapters into the use cases and runs the node's services
// until ctx ends. This is the one place that knows every concrete type.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	// Go sets GOMAXPROCS from the container's CPU limit itself (since Go
	// 1.25) and reads GOMEMLIMIT from the environment; log what it chose.
	log.Info("starting", "version", version, "config", cfg,
		"gomaxprocs", runtime.GOMAXPROCS(0), "gomemlimit", debug.SetMemoryLimit(-1))

	stopTracing, err := telemetry.Setup(ctx, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}()
	m := metrics.New(version)

	verifier, secret, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	fanout, err := openFanout(cfg, log, m.BrokerReconnected)
	if err != nil {
		return err
	}
	defer fanout.close()

	hub := realtime.NewHub(fanout.broker, realtime.HubOptions{Logger: log, OnSlowConsumers: m.SlowConsumers})
	// One pool for the followers and the writers: the goroutines that hand
	// an event on stay a moment for the next one (see workpool).
	workers := workpool.New(deliveryLinger)
	svc := app.New(observed.New(st, m), hub, fanout.presence, clock.System{}, ulids.New(), log,
		app.Config{SendRate: cfg.RateLimit, SendBurst: cfg.RateBurst, Observer: m, Workers: workers})
	if outbox, ok := st.(app.Outbox); ok {
		svc.WithOutbox(outbox)
	}
	sched, err := openScheduler(ctx, cfg, sqlitePath(cfg), svc, log)
	if err != nil {
		return err
	}
	defer func() { _ = sched.Close() }() // after Run has returned: a no-op
	svc.WithScheduler(sched)
	gql := graphql.NewHandler(svc, graphql.Options{Verifier: verifier, MaxSubscriptions: cfg.MaxSubscriptionsPerConn,
		Metrics: m, Logger: log, Workers: workers})

	var draining atomic.Bool
	ready := func(ctx context.Context) error {
		err := checkReady(ctx, st, fanout, &draining)
		m.SetReady(err == nil)
		return err
	}
	srv := &http.Server{
		Handler: server.Handler(server.Routes{GraphQL: gql, Verifier: verifier, Ready: ready, Logger: log, Metrics: m.Handler()}),
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

	services := []service{
		func(ctx context.Context) error { return server.Serve(ctx, srv, ln, cfg.ShutdownTimeout) },
		func(ctx context.Context) error {
			<-ctx.Done()
			draining.Store(true)
			m.SetReady(false)
			log.Info("shutting down", "grace", cfg.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			return gql.Shutdown(sctx)
		},
		svc.RunOutbox,
		sched.Run,
	}
	if fanout.run != nil {
		services = append(services, func(ctx context.Context) error { return fanout.run(ctx, svc) })
	}
	if cfg.DebugAddr != "" {
		debugLn, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return fmt.Errorf("debug listen: %w", err)
		}
		log.Info("debug listener", "addr", debugLn.Addr().String())
		debugSrv := &http.Server{Handler: server.DebugHandler(), ReadHeaderTimeout: 10 * time.Second}
		services = append(services, func(ctx context.Context) error {
			return server.Serve(ctx, debugSrv, debugLn, time.Second)
		})
	}
	grpcSrv, err := grpcService(cfg, svc, verifier, log, m)
	if err != nil {
		return err
	}
	if grpcSrv != nil {
		services = append(services, grpcSrv)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range services {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}

// checkReady tells whether the node can serve: not while draining, and only
// when the store and the broker answer.
func checkReady(ctx context.Context, st store, fanout *fanout, draining *atomic.Bool) error {
	if draining.Load() {
		return errors.New("draining")
	}
	if _, err := st.Member(ctx, "readiness-probe"); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("store: %w", err)
	}
	if fanout.ping != nil {
		if err := fanout.ping(ctx); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	return nil
}

// openStore opens PostgreSQL when a database URL is set, else the embedded
// SQLite file in the data directory.
func openStore(ctx context.Context, cfg config.Config) (store, func(), error) {
	if cfg.DatabaseURL != "" {
		pg, err := openPostgres(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, nil, err
		}
		return pg, pg.Close, nil
	}
	lite, err := openSQLite(ctx, sqlitePath(cfg))
	if err != nil {
		return nil, nil, err
	}
	return lite, func() { _ = lite.Close() }, nil
}

// sqlitePath is the embedded database file in the data directory.
func sqlitePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "nordkapp42.db") }

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

// newLogger logs JSON, or readable colored lines for a person at a terminal.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	terminal := false
	if f, ok := w.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, NoColor: !terminal, TimeFormat: time.DateTime}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
