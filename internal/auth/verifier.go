package auth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Leeway is the clock skew tolerated between the token issuer and this server
// when checking exp and nbf.
const Leeway = 30 * time.Second

// maxTokenLen bounds the work spent on a token: a real one is a few hundred
// bytes to a few KiB, and anything far beyond is not worth decoding.
const maxTokenLen = 16 << 10

// hasuraClaims is the namespace Hasura-style issuers put their claims under;
// honouring it lets tokens minted for Hasura work here unchanged.
const hasuraClaims = "https://hasura.io/jwt/claims"

// Verifier checks bearer tokens against the keys it was configured with. It is
// safe for concurrent use.
type Verifier struct {
	secret []byte
	rsaKey *rsa.PublicKey
	ecKey  *ecdsa.PublicKey
	// methods lists the algorithms the configured keys can verify. The alg of a
	// token chooses the key, so accepting only these is what stops an attacker
	// from choosing "none", or HS256 keyed with our public key.
	methods []string
	parser  *jwt.Parser
}

// NewVerifier returns a verifier that accepts HS256 tokens signed with
// hmacSecret when it is not empty, and RS256 or ES256 tokens signed for
// publicKeyPEM when it is not empty (a PKIX "PUBLIC KEY" or PKCS #1 "RSA PUBLIC
// KEY" block; an EC key must be on P-256). At least one of the two must be
// given. Every other algorithm is refused.
func NewVerifier(hmacSecret []byte, publicKeyPEM []byte) (*Verifier, error) {
	v := &Verifier{}
	if len(hmacSecret) > 0 {
		v.secret = slices.Clone(hmacSecret)
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if len(publicKeyPEM) > 0 {
		key, err := parsePublicKey(publicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("jwt public key: %w", err)
		}
		switch key := key.(type) {
		case *rsa.PublicKey:
			v.rsaKey = key
			v.methods = append(v.methods, jwt.SigningMethodRS256.Alg())
		case *ecdsa.PublicKey:
			v.ecKey = key
			v.methods = append(v.methods, jwt.SigningMethodES256.Alg())
		}
	}
	if len(v.methods) == 0 {
		return nil, errors.New("jwt verifier: neither an HMAC secret nor a public key is configured")
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(Leeway),
	)
	return v, nil
}

// Verify checks token's signature, algorithm and validity period and returns
// the identity it names. The member id comes from sub, else from the Hasura
// claim x-hasura-user-id; the name from name, else preferred_username, else
// the member id. Every error wraps domain.ErrUnauthenticated and has a short
// message fit for the client; none of them repeats the token.
func (v *Verifier) Verify(token string) (Identity, error) {
	if token == "" || len(token) > maxTokenLen {
		return Identity{}, domain.Errorf(domain.ErrUnauthenticated, "malformed token")
	}
	claims := jwt.MapClaims{}
	parsed, err := v.parser.ParseWithClaims(token, claims, v.key)
	if err != nil {
		return Identity{}, v.refusal(parsed, err)
	}
	return identityFrom(claims)
}

// key picks the verification key for the token's algorithm. The parser has
// already refused algorithms outside v.methods, so the key always exists; the
// nil checks keep a future change to methods from turning into a panic.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if v.secret != nil {
			return v.secret, nil
		}
	case jwt.SigningMethodRS256.Alg():
		if v.rsaKey != nil {
			return v.rsaKey, nil
		}
	case jwt.SigningMethodES256.Alg():
		if v.ecKey != nil {
			return v.ecKey, nil
		}
	}
	return nil, errAlgNotAllowed
}

var errAlgNotAllowed = errors.New("algorithm not allowed")

// refusal turns a parser error into a short client-facing error. jwt reports a
// refused algorithm as an invalid signature; telling the two apart helps the
// operator who configured the wrong key type.
func (v *Verifier) refusal(t *jwt.Token, err error) error {
	msg := "malformed token"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Unknown or missing alg, or no key for it.
		msg = "token algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "token signature is invalid"
		if t != nil && t.Method != nil && !slices.Contains(v.methods, t.Method.Alg()) {
			msg = "token algorithm not allowed"
		}
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "token not valid yet"
	}
	return domain.Errorf(domain.ErrUnauthenticated, "%s", msg)
}

// identityFrom reads the identity out of verified claims.
func identityFrom(claims jwt.MapClaims) (Identity, error) {
	malformed := domain.Errorf(domain.ErrUnauthenticated, "malformed token")
	id, err := claims.GetSubject()
	if err != nil {
		return Identity{}, malformed
	}
	if id == "" {
		id, err = hasuraUserID(claims)
		if err != nil {
			return Identity{}, malformed
		}
	}
	if id == "" {
		return Identity{}, domain.Errorf(domain.ErrUnauthenticated, "token has no subject")
	}
	if domain.CheckMemberID(id) != nil {
		return Identity{}, domain.Errorf(domain.ErrUnauthenticated, "token subject is not a valid member id")
	}
	if domain.ReservedMemberID(id) {
		return Identity{}, domain.Errorf(domain.ErrUnauthenticated, "token subject is reserved")
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return Identity{}, malformed
	}
	ident := Identity{MemberID: id, Name: displayName(claims, id)}
	if exp != nil {
		ident.ExpiresAt = exp.Time
	}
	return ident, nil
}

// hasuraUserID returns x-hasura-user-id from the Hasura claims, which an
// issuer may send as an object or, with Hasura's stringified_json format, as a
// string holding that object. It returns "" when there is none.
func hasuraUserID(claims jwt.MapClaims) (string, error) {
	raw, ok := claims[hasuraClaims]
	if !ok {
		return "", nil
	}
	var ns map[string]any
	switch c := raw.(type) {
	case map[string]any:
		ns = c
	case string:
		if err := json.Unmarshal([]byte(c), &ns); err != nil {
			return "", fmt.Errorf("decode %s: %w", hasuraClaims, err)
		}
	default:
		return "", fmt.Errorf("%s is a %T", hasuraClaims, raw)
	}
	uid, ok := ns["x-hasura-user-id"]
	if !ok {
		return "", nil
	}
	s, ok := uid.(string)
	if !ok {
		return "", fmt.Errorf("x-hasura-user-id is a %T", uid)
	}
	return s, nil
}

// displayName picks the first non-blank of name and preferred_username, else
// the member id. A name is cut at domain.MaxMemberName characters rather than
// refused: it is cosmetic and chosen by the issuer, not by us.
func displayName(claims jwt.MapClaims, memberID string) string {
	for _, claim := range []string{"name", "preferred_username"} {
		s, _ := claims[claim].(string)
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if utf8.RuneCountInString(s) > domain.MaxMemberName {
			s = string([]rune(s)[:domain.MaxMemberName])
		}
		return s
	}
	return memberID
}
