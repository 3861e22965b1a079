// Package postgres is the Store of nordkapp42 for several replicas sharing
// one PostgreSQL database, through jackc/pgx/v5 and its pool, pgxpool.
//
// Every replica writes. Update runs in a READ COMMITTED transaction, and
// Tx.Room locks the room's row until commit, so the appends to one room queue
// on that row lock: sequence numbers are assigned in commit order, without
// gaps, whichever replica writes. Should PostgreSQL abort a transaction to
// break a deadlock, or with a serialization failure, Update runs it again.
//
// Tx.AppendEvent also records the event in the outbox table in the same
// transaction, and the Store implements app.Outbox over it: an event whose
// node dies between commit and publish is relayed by another node.
//
// Times are timestamptz: they keep microseconds, so a time written with
// nanoseconds is truncated to the microsecond, and every time is returned in
// UTC.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var (
	_ app.Store  = (*Store)(nil)
	_ app.Outbox = (*Store)(nil)
)

// connectTimeout bounds one connection attempt when the URL does not set
// connect_timeout: a database that drops packets must show up as
// unavailable, not as calls that hang until their context ends.
const connectTimeout = 5 * time.Second

// Store is the PostgreSQL implementation of app.Store and app.Outbox. It is
// safe for concurrent use; Close it when done.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at databaseURL (a postgres:// URL or a
// keyword/value string, as libpq takes), checks that it answers, and applies
// the pending schema migrations. The URL may carry pgxpool's settings, such
// as pool_max_conns, and run-time parameters, such as search_path to keep the
// tables in a schema of their own.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := parseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg)
}

// open is Open with the pool's configuration parsed already.
func open(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, dbError("connect to database", err)
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection, waiting for those in use to be returned.
func (s *Store) Close() {
	s.pool.Close()
}

// parseConfig reads databaseURL into a pool configuration.
func parseConfig(databaseURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgconn leaves the password out of its parse errors.
		return nil, fmt.Errorf("%w: %w", domain.Errorf(domain.ErrInvalid, "malformed database URL"), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	return cfg, nil
}
