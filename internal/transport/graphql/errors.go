package graphql

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Error codes in extensions.code.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeForbidden       = "FORBIDDEN"
	CodeConflict        = "CONFLICT"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "UNAVAILABLE"
	CodeSlowConsumer    = "SLOW_CONSUMER"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// codes maps each domain error kind to its extensions.code. This is the one
// place where domain error kinds become GraphQL codes.
var codes = map[error]string{
	domain.ErrInvalid:         CodeBadUserInput,
	domain.ErrNotFound:        CodeNotFound,
	domain.ErrForbidden:       CodeForbidden,
	domain.ErrConflict:        CodeConflict,
	domain.ErrUnauthenticated: CodeUnauthenticated,
	domain.ErrRateLimited:     CodeRateLimited,
	domain.ErrUnavailable:     CodeUnavailable,
	domain.ErrSlowConsumer:    CodeSlowConsumer,
}

// Code returns the extensions.code for an error returned by a use case;
// anything that is not a domain error kind is internal.
func Code(err error) string {
	if code, ok := codes[domain.Kind(err)]; ok {
		return code
	}
	return CodeInternal
}

// presentError turns any error into a GraphQL error with a code. Internal
// errors are logged with their detail and shown only as a generic message,
// so no SQL or stack trace reaches a client.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && domain.Kind(gqlErr.Unwrap()) == nil && gqlErr.Unwrap() == nil {
		return gqlErr // from the GraphQL layer itself: parse, validation, limits
	}
	code := Code(err)
	msg := err.Error()
	switch code {
	case CodeInternal:
		slog.ErrorContext(ctx, "operation failed", "err", err)
		msg = "internal server error"
	case CodeUnavailable:
		// The cause names hosts and drivers: logged for operators, not shown.
		slog.WarnContext(ctx, "operation failed: dependency unavailable", "err", err)
		msg = "service temporarily unavailable: try again shortly"
	}
	out := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		out.Path = fc.Path()
	}
	return out
}

// ErrorPresenter is the gqlgen error presenter of the schema.
func ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Unwrap() != nil {
		// A resolver error wrapped by gqlgen with its path: present the cause.
		p := presentError(ctx, gqlErr.Unwrap())
		p.Path, p.Locations = gqlErr.Path, gqlErr.Locations
		return p
	}
	return presentError(ctx, err)
}
