package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// testKeys are generated once: RSA key generation is slow enough to matter
// when every test does it.
type testKeys struct {
	secret   []byte
	rsa      *rsa.PrivateKey
	rsaPEM   []byte // PKIX "PUBLIC KEY"
	rsaPKCS1 []byte // PKCS #1 "RSA PUBLIC KEY"
	ec       *ecdsa.PrivateKey
	ecPEM    []byte
	otherEC  *ecdsa.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{
		secret:   []byte("0123456789abcdef0123456789abcdef"),
		rsa:      rsaKey,
		rsaPEM:   pkixPEM(&rsaKey.PublicKey),
		rsaPKCS1: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}),
		ec:       ecKey,
		ecPEM:    pkixPEM(&ecKey.PublicKey),
		otherEC:  otherEC,
	}
})

func pkixPEM(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return s
}

// rawToken assembles a token from a header and claims without signing it, for
// the tokens no library would produce.
func rawToken(t *testing.T, header, claims map[string]any, signature string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + signature
}

func TestVerify(t *testing.T) {
	t.Parallel()
	k := keys()
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Hour)
	valid := jwt.MapClaims{"sub": "alice", "name": "Alice", "exp": exp.Unix()}

	hsOnly := config{secret: k.secret}
	rsaOnly := config{publicKey: k.rsaPEM}
	ecOnly := config{publicKey: k.ecPEM}
	both := config{secret: k.secret, publicKey: k.rsaPEM}

	// tampered keeps alice's signature but swaps in mallory's claims.
	tampered := func() string {
		parts := strings.Split(sign(t, jwt.SigningMethodHS256, k.secret, valid), ".")
		forged, _ := json.Marshal(map[string]any{"sub": "mallory", "exp": exp.Unix()})
		parts[1] = base64.RawURLEncoding.EncodeToString(forged)
		return strings.Join(parts, ".")
	}()

	tests := []struct {
		name    string
		cfg     config
		token   string
		want    Identity
		wantErr string
	}{
		{
			name:  "HS256",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "RS256",
			cfg:   rsaOnly,
			token: sign(t, jwt.SigningMethodRS256, k.rsa, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "RS256 with a PKCS #1 key",
			cfg:   config{publicKey: k.rsaPKCS1},
			token: sign(t, jwt.SigningMethodRS256, k.rsa, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "ES256",
			cfg:   ecOnly,
			token: sign(t, jwt.SigningMethodES256, k.ec, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "HS256 with secret and public key configured",
			cfg:   both,
			token: sign(t, jwt.SigningMethodHS256, k.secret, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "RS256 with secret and public key configured",
			cfg:   both,
			token: sign(t, jwt.SigningMethodRS256, k.rsa, valid),
			want:  Identity{MemberID: "alice", Name: "Alice", ExpiresAt: exp},
		},
		{
			name:  "no exp gives a zero ExpiresAt",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice"}),
			want:  Identity{MemberID: "alice", Name: "alice"},
		},
		{
			name:  "expired within the leeway",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(-10 * time.Second).Unix()}),
			want:  Identity{MemberID: "alice", Name: "alice", ExpiresAt: now.Add(-10 * time.Second)},
		},
		{
			name:    "expired",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(-time.Hour).Unix()}),
			wantErr: "token expired",
		},
		{
			name:    "nbf in the future",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "nbf": now.Add(time.Hour).Unix()}),
			wantErr: "token not valid yet",
		},
		{
			name:    "exp that is not a number",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "exp": "tomorrow"}),
			wantErr: "malformed token",
		},
		{
			name:    "wrong secret",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, []byte("another secret, another issuer!!"), valid),
			wantErr: "token signature is invalid",
		},
		{
			name:    "tampered payload",
			cfg:     hsOnly,
			token:   tampered,
			wantErr: "token signature is invalid",
		},
		{
			name:    "ES256 signed by another key",
			cfg:     ecOnly,
			token:   sign(t, jwt.SigningMethodES256, k.otherEC, valid),
			wantErr: "token signature is invalid",
		},
		{
			name:    "alg none",
			cfg:     hsOnly,
			token:   rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, valid, ""),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "no alg",
			cfg:     hsOnly,
			token:   rawToken(t, map[string]any{"typ": "JWT"}, valid, "c2ln"),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "unknown alg",
			cfg:     hsOnly,
			token:   rawToken(t, map[string]any{"alg": "HS999"}, valid, "c2ln"),
			wantErr: "token algorithm not allowed",
		},
		{
			// The key-confusion attack: the public key is public, so anyone can
			// use its PEM text as an HMAC secret.
			name:    "HS256 keyed with the public key PEM when only the public key is configured",
			cfg:     rsaOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.rsaPEM, valid),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "HS256 keyed with the EC public key PEM when only the public key is configured",
			cfg:     ecOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.ecPEM, valid),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "RS256 when only a secret is configured",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodRS256, k.rsa, valid),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "RS384",
			cfg:     rsaOnly,
			token:   sign(t, jwt.SigningMethodRS384, k.rsa, valid),
			wantErr: "token algorithm not allowed",
		},
		{
			name:    "ES256 when an RSA key is configured",
			cfg:     both,
			token:   sign(t, jwt.SigningMethodES256, k.ec, valid),
			wantErr: "token algorithm not allowed",
		},
		{
			name:  "Hasura claim",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{hasuraClaims: map[string]any{"x-hasura-user-id": "bob"}}),
			want:  Identity{MemberID: "bob", Name: "bob"},
		},
		{
			name:  "Hasura claim as stringified JSON",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{hasuraClaims: `{"x-hasura-user-id":"bob"}`}),
			want:  Identity{MemberID: "bob", Name: "bob"},
		},
		{
			name:  "sub wins over the Hasura claim",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", hasuraClaims: map[string]any{"x-hasura-user-id": "bob"}}),
			want:  Identity{MemberID: "alice", Name: "alice"},
		},
		{
			name:  "preferred_username when there is no name",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "preferred_username": "ally"}),
			want:  Identity{MemberID: "alice", Name: "ally"},
		},
		{
			name:  "name wins over preferred_username",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "name": "Alice", "preferred_username": "ally"}),
			want:  Identity{MemberID: "alice", Name: "Alice"},
		},
		{
			name:  "overlong name is cut",
			cfg:   hsOnly,
			token: sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "name": strings.Repeat("é", domain.MaxMemberName+5)}),
			want:  Identity{MemberID: "alice", Name: strings.Repeat("é", domain.MaxMemberName)},
		},
		{
			name:    "missing sub",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"name": "Alice"}),
			wantErr: "token has no subject",
		},
		{
			name:    "Hasura claim without user id",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{hasuraClaims: map[string]any{"x-hasura-default-role": "user"}}),
			wantErr: "token has no subject",
		},
		{
			name:    "sub that is not a string",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": 42}),
			wantErr: "malformed token",
		},
		{
			name:    "sub that is not a member id",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "ali\nce"}),
			wantErr: "token subject is not a valid member id",
		},
		{
			name:    "sub that claims a system member",
			cfg:     hsOnly,
			token:   sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "nk:reminders"}),
			wantErr: "token subject is reserved",
		},
		{name: "empty string", cfg: hsOnly, token: "", wantErr: "malformed token"},
		{name: "one segment", cfg: hsOnly, token: "abc", wantErr: "malformed token"},
		{name: "three garbage segments", cfg: hsOnly, token: "a.b.c", wantErr: "malformed token"},
		{name: "four segments", cfg: hsOnly, token: "a.b.c.d", wantErr: "malformed token"},
		{name: "oversized", cfg: hsOnly, token: strings.Repeat("a", maxTokenLen+1), wantErr: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.cfg.verifier(t)
			got, err := v.Verify(tt.token)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Verify accepted the token as %+v; want error %q", got, tt.wantErr)
				}
				if !errors.Is(err, domain.ErrUnauthenticated) {
					t.Errorf("Verify error %v does not wrap domain.ErrUnauthenticated", err)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("Verify error = %q; want %q", err, tt.wantErr)
				}
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Errorf("Verify error %q repeats the token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify identity (-want +got):\n%s", diff)
			}
		})
	}
}

// config names the keys a verifier under test is built with.
type config struct {
	secret    []byte
	publicKey []byte
}

func (c config) verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(c.secret, c.publicKey)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestNewVerifierRefusesUnusableKeys(t *testing.T) {
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecPrivate, err := x509.MarshalECPrivateKey(keys().ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		secret    []byte
		publicKey []byte
		wantErr   string
	}{
		{name: "no key at all", wantErr: "neither an HMAC secret nor a public key"},
		{name: "not PEM", publicKey: []byte("ssh-rsa AAAA"), wantErr: "no PEM block"},
		{name: "private key", publicKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecPrivate}), wantErr: `PEM block is "EC PRIVATE KEY"`},
		{name: "P-384 key", publicKey: pkixPEM(&p384.PublicKey), wantErr: "ES256 needs P-256"},
		{name: "1024-bit RSA key", publicKey: pkixPEM(&weakRSA.PublicKey), wantErr: "RSA key has 1024 bits"},
		{name: "corrupt key", publicKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), wantErr: "parse PUBLIC KEY block"},
		{name: "bad key next to a good secret", secret: keys().secret, publicKey: []byte("junk"), wantErr: "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(tt.secret, tt.publicKey)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewVerifier error = %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	secret := keys().secret
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name    string
		display string
		ttl     time.Duration
		want    Identity
		wantErr string
	}{
		{name: "with name", display: "Alice", ttl: time.Hour, want: Identity{MemberID: "alice", Name: "Alice", ExpiresAt: now.Add(time.Hour)}},
		{name: "without name", ttl: 24 * time.Hour, want: Identity{MemberID: "alice", Name: "alice", ExpiresAt: now.Add(24 * time.Hour)}},
		{name: "negative ttl gives an expired token", ttl: -time.Hour, wantErr: "token expired"},
	}
	v := config{secret: secret}.verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, err := Issue(secret, "alice", tt.display, tt.ttl, now)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := v.Verify(token)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, domain.ErrUnauthenticated) {
					t.Fatalf("Verify = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueClaims(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	token, err := Issue(keys().secret, "alice", "Alice", time.Hour, now)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("parse issued token: %v", err)
	}
	want := map[string]any{"alg": "HS256", "typ": "JWT"}
	if diff := cmp.Diff(want, parsed.Header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	wantClaims := jwt.MapClaims{"sub": "alice", "name": "Alice", "iat": float64(1_700_000_000), "exp": float64(1_700_003_600)}
	if diff := cmp.Diff(wantClaims, parsed.Claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		sub    string
	}{
		{name: "empty secret", sub: "alice"},
		{name: "empty sub", secret: keys().secret},
		{name: "sub with a control character", secret: keys().secret, sub: "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if token, err := Issue(tt.secret, tt.sub, "", time.Hour, time.Now()); err == nil {
				t.Errorf("Issue = %q, nil; want an error", token)
			}
		})
	}
}
