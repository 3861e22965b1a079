// Package auth turns bearer tokens (JWT) into the identity of a member: it
// verifies HS256, RS256 and ES256 tokens, issues HS256 tokens for development
// and testing, keeps the generated signing secret of a single-node install,
// and carries the verified identity (or why verification failed) in a request
// context.
package auth

import (
	"context"
	"time"
)

// Identity is the verified caller of a request.
type Identity struct {
	// MemberID names the member; it passed domain.CheckMemberID.
	MemberID string
	// Name is the display name from the token, or MemberID when the token has
	// none.
	Name string
	// ExpiresAt is when the token stops being valid; zero when it has no exp.
	// Long-lived connections use it to end themselves when the credential
	// expires.
	ExpiresAt time.Time
}

// contextKey keeps this package's context values apart from everyone else's.
type contextKey int

const (
	identityKey contextKey = iota
	errorKey
)

// WithIdentity returns a copy of ctx that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// FromContext returns the identity ctx carries; ok is false for an anonymous
// request.
func FromContext(ctx context.Context) (id Identity, ok bool) {
	id, ok = ctx.Value(identityKey).(Identity)
	return id, ok
}

// withError returns a copy of ctx that carries the reason a presented
// credential was refused.
func withError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, errorKey, err)
}

// ErrorFromContext returns why the credential presented with the request was
// refused, or nil when the request carried a valid credential or none at all.
// The error wraps domain.ErrUnauthenticated and its message is safe to show to
// the client.
func ErrorFromContext(ctx context.Context) error {
	err, _ := ctx.Value(errorKey).(error)
	return err
}
