package river

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// pgConnectTimeout bounds one connection attempt when the URL does not set
// connect_timeout, as the store does: a database that drops packets shows up
// as an error, not as a Schedule that hangs.
const pgConnectTimeout = 5 * time.Second

// NewPostgres connects River to the PostgreSQL database at databaseURL (the
// store's URL: a postgres:// URL or keyword/value string, which may set
// search_path to keep the tables in a schema, and pgxpool settings such as
// pool_max_conns) with a pool of its own, and applies River's migrations
// there. Nodes that start together take turns migrating, under an advisory
// lock per schema. Every node Runs its own Scheduler; a due job is fired by
// one of them.
func NewPostgres(ctx context.Context, databaseURL string, fire FireFunc, opts Options) (*Scheduler, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgconn leaves the password out of its parse errors.
		return nil, fmt.Errorf("%w: %w", domain.Errorf(domain.ErrInvalid, "malformed river database URL"), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	// River holds one connection for LISTEN and needs another for the
	// migration lock while it migrates; pgxpool's default may be fewer.
	cfg.MaxConns = max(cfg.MaxConns, 4)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open river database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, pgError("connect to river database", err)
	}
	driver := riverpgxv5.New(pool)
	if err := migratePostgres(ctx, pool, driver, opts); err != nil {
		pool.Close()
		return nil, err
	}
	s, err := newScheduler(driver, fire, opts, func() error { pool.Close(); return nil })
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migratePostgres applies River's pending migrations, holding a session
// advisory lock on a connection of its own meanwhile. River migrates each
// version in a transaction of its own (a version may need the previous one
// committed), so the lock cannot be a transaction's.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver, opts Options) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return pgError("lock river migrations", err)
	}
	defer conn.Release()
	// The lock is per schema, so that schemas side by side (other
	// deployments, tests) do not make each other wait.
	var schema string
	if err := conn.QueryRow(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		return pgError("lock river migrations", err)
	}
	lock := migrationLockID(schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		return pgError("lock river migrations", err)
	}
	defer func() {
		// A failed unlock leaves the lock to the session, which ends with the
		// connection: take the connection out of the pool then.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lock); err != nil {
			_ = conn.Hijack().Close(context.WithoutCancel(ctx))
		}
	}()
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: opts.withDefaults().Logger})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return pgError("migrate river schema", err)
	}
	return nil
}

// migrationLockID is the advisory lock id of River's migrations in schema.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("nordkapp42 river migrations " + schema))
	return int64(h.Sum64()) //nolint:gosec // any 64 bits make an id
}

// pgError wraps a failure of the database: the context's own errors pass
// through, anything else is domain.ErrUnavailable.
func pgError(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, domain.ErrUnavailable, err)
}
