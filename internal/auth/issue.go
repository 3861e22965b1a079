package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Issue returns an HS256 token for member sub with display name name (left
// out when empty), issued at now and expiring at now+ttl. A negative ttl gives
// a token that is already expired, which is how clients test their handling
// of expiry.
func Issue(secret []byte, sub, name string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("issue token: empty secret")
	}
	if err := domain.CheckMemberID(sub); err != nil {
		return "", fmt.Errorf("issue token for %q: %w", sub, err)
	}
	claims := jwt.MapClaims{
		"sub": sub,
		"iat": jwt.NewNumericDate(now),
		"exp": jwt.NewNumericDate(now.Add(ttl)),
	}
	if name != "" {
		claims["name"] = name
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue token for %q: %w", sub, err)
	}
	return signed, nil
}
