// Package sqlite is the embedded Store of nordkapp42: one SQLite file in WAL
// mode, through the pure-Go driver modernc.org/sqlite, so that a single binary
// on one machine needs nothing else.
//
// SQLite lets one connection write at a time. The Store therefore keeps two
// pools: a write pool of exactly one connection, through which every write
// goes, and a pool of read-only connections that WAL lets run concurrently
// with the writer and with each other. Because every transaction is alone on
// the write connection, Update calls are serialised in Go, and those that
// arrive together share one transaction and its commit (group commit, see
// committer). Transactions begin with BEGIN IMMEDIATE so that they take the
// file's write lock up front (waiting busy_timeout for another process, such
// as a migration run, to let go of it) and can never fail midway with
// SQLITE_BUSY.
//
// Times are stored as INTEGER microseconds since the Unix epoch: the port
// keeps times to the microsecond (as PostgreSQL's timestamptz does), so a time
// written with nanoseconds is truncated to the microsecond, and every time is
// returned in UTC.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	// The driver registers itself as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var _ app.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock another connection or
// process holds before it gives up with SQLITE_BUSY. In-process writers never
// wait on it (they queue for the one write connection instead); it covers
// other processes on the same file and readers during a WAL checkpoint.
const busyTimeout = 5 * time.Second

// synchronous is the durability level of a commit. FULL syncs the WAL at
// every commit, so an acknowledged message survives power loss and OS
// crashes too, not only a kill -9 of the process (which NORMAL would already
// survive). NORMAL is about three times cheaper per commit
// (BenchmarkAppendMessage: 0.3 ms against 0.7–1.1 ms here), but after a power
// cut it can lose the last commits and then hand their sequence numbers to
// new events, which a client holding a cursor past them would skip. The cost
// of FULL is better paid by committing concurrent sends together.
const synchronous = "FULL"

// Store is the SQLite implementation of app.Store. It is safe for concurrent
// use; Close it when done.
type Store struct {
	write   *pool // exactly one connection: SQLite has a single writer
	read    *pool // read-only connections, concurrent with the writer in WAL
	commits *committer
}

// Open opens the database file at path, creating it and its parent directory
// when missing, and applies the pending schema migrations. A new file and
// directory are readable by the owner only (0600 and 0700), since the file
// holds every message; an existing file keeps the permissions it has.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as connection parameters.
		return nil, domain.Errorf(domain.ErrInvalid, "database path %q must be a file name without '?' or '#'", path)
	}
	if err := createFile(path); err != nil {
		return nil, err
	}

	write, err := openPool(ctx, path, false)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	if err := checkWAL(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	wp := newPool(write)
	if err := wp.prepareAll(ctx); err != nil {
		wp.close()
		return nil, err
	}

	read, err := openPool(ctx, path, true)
	if err != nil {
		wp.close()
		return nil, err
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)

	return &Store{write: wp, read: newPool(read), commits: newCommitter(wp)}, nil
}

// Close closes every connection. Calls in flight may fail with
// domain.ErrUnavailable.
func (s *Store) Close() error {
	return errors.Join(s.read.close(), s.write.close())
}

// createFile makes the database file, and its directory, private to the
// owner before SQLite creates it with the process umask. SQLite gives the
// -wal and -shm files the permissions of the database file.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // the operator chooses the data directory
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return nil
}

// openPool opens a pool of connections to path with the pragmas every
// connection needs; the driver applies them to each new connection.
func openPool(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(ON)")
	if readOnly {
		// Nothing may write through the read pool: writes bypassing the single
		// write connection would bring back SQLITE_BUSY.
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, dbError("open database", err)
	}
	return db, nil
}

// checkWAL verifies that the file is in WAL mode: SQLite silently keeps the
// rollback journal where WAL is impossible (some network file systems), and
// then readers would block the writer.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return dbError("read journal mode", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("database journal mode is %q; WAL is required", mode)
	}
	return nil
}
