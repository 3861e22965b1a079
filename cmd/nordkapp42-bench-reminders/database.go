package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/scheduler/river"
	"github.com/nordkapp42/nordkapp42/internal/store/postgres"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
)

// cleanupTimeout bounds the clean-up of a run, which runs after the run's
// own context may have ended.
const cleanupTimeout = 30 * time.Second

// database is a fresh, empty database for one run: the store opened on it,
// and the scheduler to open on the same database, as serve does.
type database struct {
	store app.Store
	// version names the database engine and its version.
	version string
	// openScheduler opens River on the database.
	openScheduler func(ctx context.Context, fire river.FireFunc, opts river.Options) (*river.Scheduler, error)
	// analyze refreshes the planner's statistics of River's job table; nil
	// where there is no such thing.
	analyze func(ctx context.Context) error
	// stats describes River's job table as the database sees it after the
	// run (PostgreSQL: when it was last analyzed); nil where there is nothing
	// to say.
	stats func(ctx context.Context) (string, error)
	// close closes the store and removes the database. The scheduler must
	// have stopped first.
	close func(ctx context.Context) error
}

// openDatabase creates the fresh database the configuration names.
func openDatabase(ctx context.Context, cfg config) (*database, error) {
	if cfg.store == "postgres" {
		return openPostgres(ctx, cfg.databaseURL)
	}
	return openSQLite(ctx)
}

// openSQLite creates a SQLite file in a temporary directory, which close
// removes.
func openSQLite(ctx context.Context) (*database, error) {
	dir, err := os.MkdirTemp("", "nordkapp42-bench-")
	if err != nil {
		return nil, fmt.Errorf("make temporary directory: %w", err)
	}
	path := filepath.Join(dir, "nordkapp42.db")
	version, err := sqliteVersion(ctx)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("open SQLite store: %w", err)
	}
	return &database{
		store:   st,
		version: "SQLite " + version + " (modernc.org/sqlite), file " + path,
		openScheduler: func(ctx context.Context, fire river.FireFunc, opts river.Options) (*river.Scheduler, error) {
			return river.NewSQLite(ctx, path, fire, opts)
		},
		close: func(context.Context) error {
			return errors.Join(st.Close(), os.RemoveAll(dir))
		},
	}, nil
}

// sqliteVersion asks the linked SQLite library its version.
func sqliteVersion(ctx context.Context) (string, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return "", fmt.Errorf("open SQLite: %w", err)
	}
	defer func() { _ = db.Close() }()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("ask SQLite its version: %w", err)
	}
	return v, nil
}

// openPostgres creates a schema of its own on the server at base, as the
// store's tests do, and opens the store and River there through search_path;
// close drops the schema with everything in it. The pools keep their
// production sizes unless base sets pool_max_conns.
func openPostgres(ctx context.Context, base string) (*database, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "nk_bench_" + hex.EncodeToString(b)
	var version string
	err := withAdmin(ctx, base, func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
			return fmt.Errorf("ask the server its version: %w", err)
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drop := func(ctx context.Context) error {
		return withAdmin(ctx, base, func(ctx context.Context, conn *pgx.Conn) error {
			if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				return fmt.Errorf("drop schema %s: %w", schema, err)
			}
			return nil
		})
	}
	conn := withParams(base, map[string]string{"search_path": schema, "application_name": schema})
	st, err := postgres.Open(ctx, conn)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open PostgreSQL store: %w", err), drop(context.WithoutCancel(ctx)))
	}
	return &database{
		store:   st,
		version: "PostgreSQL " + version + ", schema " + schema,
		openScheduler: func(ctx context.Context, fire river.FireFunc, opts river.Options) (*river.Scheduler, error) {
			return river.NewPostgres(ctx, conn, fire, opts)
		},
		analyze: func(ctx context.Context) error {
			return withAdmin(ctx, base, func(ctx context.Context, c *pgx.Conn) error {
				if _, err := c.Exec(ctx, "ANALYZE "+schema+".river_job"); err != nil {
					return fmt.Errorf("analyze river_job: %w", err)
				}
				return nil
			})
		},
		stats: func(ctx context.Context) (string, error) {
			return riverJobStats(ctx, base, schema)
		},
		close: func(ctx context.Context) error {
			st.Close()
			return drop(ctx)
		},
	}, nil
}

// riverJobStats tells whether and when River's job table was analyzed: the
// plan of River's scheduler pass depends on it.
func riverJobStats(ctx context.Context, base, schema string) (string, error) {
	var out string
	err := withAdmin(ctx, base, func(ctx context.Context, conn *pgx.Conn) error {
		var live, analyzes, autoanalyzes int64
		var last, lastAuto *time.Time
		err := conn.QueryRow(ctx, `SELECT n_live_tup, analyze_count, autoanalyze_count, last_analyze, last_autoanalyze
			FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'river_job'`, schema).
			Scan(&live, &analyzes, &autoanalyzes, &last, &lastAuto)
		if err != nil {
			return fmt.Errorf("read river_job statistics: %w", err)
		}
		when := func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return t.UTC().Format(time.RFC3339)
		}
		out = fmt.Sprintf("river_job: %d live rows; ANALYZE %d× (last %s), autoanalyze %d× (last %s)",
			live, analyzes, when(last), autoanalyzes, when(lastAuto))
		return nil
	})
	return out, err
}

// withAdmin runs fn on a connection of its own to the server at base,
// outside the run's schema, bounded by cleanupTimeout. base may carry the
// pool's settings (pool_max_conns), which a lone connection ignores.
func withAdmin(ctx context.Context, base string, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(base)
	if err != nil {
		// pgconn leaves the password out of its parse errors.
		return fmt.Errorf("malformed database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	return fn(ctx, conn)
}

// withParams returns conn with the parameters added, in either form of
// connection string (a postgres:// URL or keyword/value pairs).
func withParams(conn string, params map[string]string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		conn += " " + k + "=" + v
	}
	return conn
}
