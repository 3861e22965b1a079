package rpc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// ServiceVerifier checks a service's JWT and returns the service it names.
type ServiceVerifier interface {
	VerifyService(token string) (string, error)
}

// authInterceptor lets a call through when its authorization header carries
// the static internal token, or a JWT with a service claim. Health checks
// and reflection are mounted without it.
type authInterceptor struct {
	// tokenSum is the SHA-256 of the internal token; nil when none is
	// configured. Comparing fixed-size digests in constant time leaks
	// neither the token nor its length.
	tokenSum []byte
	verifier ServiceVerifier // nil: no JWTs accepted
}

func newAuthInterceptor(token string, verifier ServiceVerifier) authInterceptor {
	a := authInterceptor{verifier: verifier}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		a.tokenSum = sum[:]
	}
	return a
}

// check authenticates the caller from the request headers. The token is
// never logged nor repeated in an error.
func (a authInterceptor) check(header http.Header) error {
	scheme, token, ok := strings.Cut(header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return connect.NewError(connect.CodeUnauthenticated,
			errors.New("authentication required: send authorization: Bearer <service token>"))
	}
	if a.tokenSum != nil {
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], a.tokenSum) == 1 {
			return nil
		}
	}
	// A JWT has three dot-separated parts; anything else was meant as the
	// static token.
	if a.verifier != nil && strings.Count(token, ".") == 2 {
		if _, err := a.verifier.VerifyService(token); err != nil {
			return connect.NewError(connect.CodeUnauthenticated, errors.New(err.Error()))
		}
		return nil
	}
	return connect.NewError(connect.CodeUnauthenticated, errors.New("invalid service token"))
}

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
