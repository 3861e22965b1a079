// Package domain holds the entities, events, rules and error kinds of
// nordkapp42. It does no I/O: everything here is plain data and pure functions,
// so the rules can be tested without a store or a network.
package domain

import (
	"errors"
	"fmt"
)

// Error kinds. Every error a use case returns either wraps one of these or is
// an internal failure. Transports map them to their own codes in exactly one
// place (GraphQL extensions.code, gRPC status).
var (
	// ErrInvalid marks input that can never succeed as given.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound marks something missing, or hidden from the caller (a private
	// room the caller is not in is not found, so its existence does not leak).
	ErrNotFound = errors.New("not found")
	// ErrForbidden marks a visible thing the caller may not act on.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict marks a request that clashes with the current state.
	ErrConflict = errors.New("conflict")
	// ErrUnauthenticated marks a missing, malformed or expired credential.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrRateLimited marks a caller that went over its allowance.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable marks a dependency (store, broker) that does not answer now;
	// the same request may succeed later.
	ErrUnavailable = errors.New("unavailable")
	// ErrSlowConsumer marks a subscription that fell behind its bounded queue and
	// was ended so that it blocks nobody; the client resumes from its last cursor.
	ErrSlowConsumer = errors.New("slow consumer")
)

// kindError carries a client-facing message and the kind it belongs to.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error of the given kind whose message is the formatted
// text alone, so that it reads well when shown to a client.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Kind returns the error kind err wraps, or nil for an internal error.
func Kind(err error) error {
	for _, k := range []error{ErrInvalid, ErrNotFound, ErrForbidden, ErrConflict, ErrUnauthenticated, ErrRateLimited, ErrUnavailable, ErrSlowConsumer} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
