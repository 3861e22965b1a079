package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestVerifyService(t *testing.T) {
	t.Parallel()
	secret := []byte("service-test-secret")
	v, err := NewVerifier(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good, err := IssueService(secret, "board", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := IssueService(secret, "board", -time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	member, err := Issue(secret, "alice", "Alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := IssueService([]byte("another-secret"), "board", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	exp := jwt.NewNumericDate(now.Add(time.Hour))
	tests := []struct {
		name, token, want, refusal string
	}{
		{"service token", good, "board", ""},
		{"member token", member, "", "no service claim"},
		{"empty service claim", sign(jwt.MapClaims{"service": " ", "exp": exp}), "", "no service claim"},
		{"service claim not a string", sign(jwt.MapClaims{"service": 7, "exp": exp}), "", "no service claim"},
		{"control character in service", sign(jwt.MapClaims{"service": "a\nb", "exp": exp}), "", "malformed"},
		{"expired", expired, "", "expired"},
		{"other secret", foreign, "", "signature"},
		{"garbage", "not-a-token", "", "malformed"},
		{"empty", "", "", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.VerifyService(tc.token)
			if tc.refusal == "" {
				if err != nil || got != tc.want {
					t.Fatalf("VerifyService = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, domain.ErrUnauthenticated) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("VerifyService error = %v, want unauthenticated mentioning %q", err, tc.refusal)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error repeats the token")
			}
		})
	}
}

func TestIssueServiceRefusesEmpty(t *testing.T) {
	t.Parallel()
	if _, err := IssueService(nil, "board", time.Hour, time.Now()); err == nil {
		t.Error("IssueService with no secret succeeded")
	}
	if _, err := IssueService([]byte("s"), "", time.Hour, time.Now()); err == nil {
		t.Error("IssueService with no service name succeeded")
	}
}
