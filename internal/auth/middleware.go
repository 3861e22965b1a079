package auth

import (
	"net/http"
	"strings"
)

// bearerPrefix is the authorization scheme of RFC 6750; schemes are
// case-insensitive (RFC 9110, section 11.1).
const bearerPrefix = "bearer "

// BearerToken returns the token of an Authorization header value that uses the
// Bearer scheme, with surrounding white space removed; ok is false for any
// other scheme. A Bearer header with nothing after the scheme gives ("", true),
// so that the caller refuses it rather than treating the request as anonymous.
func BearerToken(authorizationHeader string) (token string, ok bool) {
	h := strings.TrimSpace(authorizationHeader)
	if strings.EqualFold(h, strings.TrimSpace(bearerPrefix)) {
		return "", true
	}
	if len(h) < len(bearerPrefix) || !strings.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(bearerPrefix):]), true
}

// Middleware verifies the bearer token of each request that carries one. On
// success the request context carries the Identity (FromContext); on failure
// it carries the reason (ErrorFromContext) and the request goes on, so that
// the transport answers in its own error format: GraphQL reports
// UNAUTHENTICATED in its errors array rather than as a bare HTTP 401. A request
// without a bearer token passes through untouched, as anonymous.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := BearerToken(r.Header.Get("Authorization"))
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			if id, err := v.Verify(token); err != nil {
				ctx = withError(ctx, err)
			} else {
				ctx = WithIdentity(ctx, id)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
