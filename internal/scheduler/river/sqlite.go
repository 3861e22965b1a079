package river

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	// The driver registers itself as "sqlite"; riversqlite is tested on it.
	_ "modernc.org/sqlite"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// sqliteBusyTimeout is how long River's connection waits for the write lock
// the store's connection holds (the store commits in milliseconds).
const sqliteBusyTimeout = 5 * time.Second

// NewSQLite opens River on the SQLite file at path, the file the store uses,
// creating it (private to the owner) when missing, and applies River's
// migrations for SQLite. It opens a database handle of its own with a single
// connection, as riversqlite requires: River runs many operations at once,
// and SQLite answers a second one on another connection with SQLITE_BUSY
// rather than queueing it. That connection and the store's write connection
// take turns on the file's write lock through busy_timeout.
func NewSQLite(ctx context.Context, path string, fire FireFunc, opts Options) (*Scheduler, error) {
	db, err := openSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	driver := riversqlite.New(db)
	if err := migrateRiver(ctx, driver, opts); err != nil {
		_ = db.Close()
		return nil, err
	}
	s, err := newScheduler(driver, fire, opts, db.Close)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openSQLite opens the one-connection handle River uses.
func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as connection parameters.
		return nil, domain.Errorf(domain.ErrInvalid, "database path %q must be a file name without '?' or '#'", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL, as the store has it: an acknowledged Schedule survives a power
	// cut, so a reminder the store kept is not left without its job.
	q.Add("_pragma", "synchronous(FULL)")
	// A transaction takes the write lock when it begins. A deferred one that
	// read first would fail at its first write, without waiting, whenever the
	// store had committed since its read (SQLITE_BUSY_SNAPSHOT); River's
	// own transactions are serialised on the one connection anyway.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open river database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := checkWAL(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// checkWAL verifies that the file is in WAL mode, without which River's
// connection and the store's readers would block each other. SQLite keeps
// the rollback journal silently where WAL is impossible.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open river database: read journal mode: %w: %w", domain.ErrUnavailable, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open river database: journal mode is %q; WAL is required", mode)
	}
	return nil
}

// createPrivate makes the database file, and its directory, readable by the
// owner only before SQLite creates it with the process umask, as the store
// does: whichever opens the file first, it holds every message. An existing
// file keeps its permissions.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600) //nolint:gosec // the operator chooses the data directory
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// migrateRiver applies River's pending migrations for SQLite. Every writer of
// the file queues for its write lock, so concurrent starts need no lock of
// their own.
func migrateRiver(ctx context.Context, driver *riversqlite.Driver, opts Options) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: opts.withDefaults().Logger})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("migrate river schema: %w", err)
		}
		return fmt.Errorf("migrate river schema: %w: %w", domain.ErrUnavailable, err)
	}
	return nil
}
