package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// ServiceClaim is the JWT claim that names the backend service a token was
// issued to. Only tokens with it may call the internal (gRPC) API: a
// member's token, which lacks it, may not act for other members.
const ServiceClaim = "service"

// maxServiceName bounds the service name taken from a token; it is only
// logged.
const maxServiceName = 128

// VerifyService checks token's signature, algorithm and validity period as
// Verify does, and returns the service its ServiceClaim names. A token
// without a non-empty string ServiceClaim is refused. Every error wraps
// domain.ErrUnauthenticated and none of them repeats the token.
func (v *Verifier) VerifyService(token string) (string, error) {
	if token == "" || len(token) > maxTokenLen {
		return "", domain.Errorf(domain.ErrUnauthenticated, "malformed token")
	}
	claims := jwt.MapClaims{}
	parsed, err := v.parser.ParseWithClaims(token, claims, v.key)
	if err != nil {
		return "", v.refusal(parsed, err)
	}
	name, _ := claims[ServiceClaim].(string)
	name = strings.TrimSpace(name)
	if name == "" {
		return "", domain.Errorf(domain.ErrUnauthenticated, "token has no %s claim", ServiceClaim)
	}
	if len(name) > maxServiceName || domain.CheckMemberID(name) != nil {
		return "", domain.Errorf(domain.ErrUnauthenticated, "token %s claim is malformed", ServiceClaim)
	}
	return name, nil
}

// IssueService returns an HS256 token for a backend service, issued at now
// and expiring at now+ttl: its ServiceClaim and its subject name the
// service.
func IssueService(secret []byte, service string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("issue service token: empty secret")
	}
	if service == "" {
		return "", errors.New("issue service token: empty service name")
	}
	claims := jwt.MapClaims{
		"sub":        service,
		ServiceClaim: service,
		"iat":        jwt.NewNumericDate(now),
		"exp":        jwt.NewNumericDate(now.Add(ttl)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue service token for %q: %w", service, err)
	}
	return signed, nil
}
