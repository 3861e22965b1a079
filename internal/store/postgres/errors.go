package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// errUnavailable is what a client learns of a database that does not answer:
// the same request may succeed later. The driver's error is wrapped after it
// for the logs.
var errUnavailable = domain.Errorf(domain.ErrUnavailable, "database unavailable")

// SQLSTATE codes the store acts on.
const (
	uniqueViolation      = "23505"
	badCharacter         = "22021"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	adminShutdown        = "57P01"
	crashShutdown        = "57P02"
	cannotConnectNow     = "57P03"
	tooManyConnections   = "53300"
)

// dbError wraps a failure of the database with what the store was doing. The
// context's own errors pass through for errors.Is; a database that cannot
// answer now is domain.ErrUnavailable; a unique violation is
// domain.ErrConflict and a foreign-key violation (a missing room)
// domain.ErrNotFound, for the statements that do not map them more precisely;
// text PostgreSQL cannot keep is domain.ErrInvalid.
// SQL text never goes into the message: pgx does not put it in its errors.
func dbError(what string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, errUnavailable, err)
	}
	switch sqlState(err) {
	case uniqueViolation:
		return fmt.Errorf("%s: %w: %w", what, domain.Errorf(domain.ErrConflict, "a row with the same key exists already"), err)
	case foreignKeyViolation:
		return fmt.Errorf("%s: %w: %w", what, domain.Errorf(domain.ErrNotFound, "its room does not exist"), err)
	case badCharacter:
		// SQLite keeps any string; text in PostgreSQL is valid UTF-8 without NUL.
		return fmt.Errorf("%s: %w: %w", what, domain.Errorf(domain.ErrInvalid, "text must be valid UTF-8 without NUL characters"), err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// getError is dbError for a read of one row: no row is notFound.
func getError(what string, err error, notFound error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound
	}
	return dbError(what, err)
}

// sqlState returns the SQLSTATE of an error the server reported, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// unavailable reports whether err says that the database cannot answer now:
// it cannot be reached, it is shutting down or starting, it refuses more
// connections, the connection broke, or the pool is closed.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		// A request that never reached the server, such as one on a
		// connection that broke while idle.
		pgconn.SafeToRetry(err),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// pgxpool hands on the error of puddle, its pool, as it is.
		errors.Is(err, puddle.ErrClosedPool):
		return true
	}
	switch state := sqlState(err); {
	case strings.HasPrefix(state, "08"): // connection exception
		return true
	case state == adminShutdown, state == crashShutdown, state == cannotConnectNow, state == tooManyConnections:
		return true
	}
	return false
}

// retryable reports whether PostgreSQL aborted a transaction that may succeed
// when run again.
func retryable(err error) bool {
	state := sqlState(err)
	return state == serializationFailure || state == deadlockDetected
}

// checkLimit rejects a page size that would return nothing or everything.
func checkLimit(limit int) error {
	if limit <= 0 {
		return domain.Errorf(domain.ErrInvalid, "page limit must be positive, not %d", limit)
	}
	return nil
}
