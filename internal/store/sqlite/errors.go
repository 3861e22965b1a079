package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// dbError wraps a failure of the database with what the store was doing. The
// context's own errors pass through for errors.Is; a database that is closed
// or locked beyond busyTimeout is domain.ErrUnavailable, since the same call
// may succeed later. SQL text never goes into the message.
func dbError(what string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, domain.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// getError is dbError for a read of one row: no row is notFound.
func getError(what string, err error, notFound error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return dbError(what, err)
}

// unavailable reports whether err says the database cannot answer now.
func unavailable(err error) bool {
	// database/sql does not export the error of a closed *sql.DB.
	if errors.Is(err, sql.ErrConnDone) || err.Error() == "sql: database is closed" {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// constraint returns the extended result code of a constraint violation, or 0
// when err is something else.
func constraint(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return se.Code()
	}
	return 0
}

// Extended result codes of the constraint violations the store maps.
const (
	violatesPrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	violatesUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	violatesForeignKey = sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
)

// checkLimit rejects a page size that would return nothing or everything.
func checkLimit(limit int) error {
	if limit <= 0 {
		return domain.Errorf(domain.ErrInvalid, "page limit must be positive, not %d", limit)
	}
	return nil
}
