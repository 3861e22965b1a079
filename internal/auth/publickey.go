package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// minRSABits refuses RSA keys too short to be trusted (NIST SP 800-131A).
const minRSABits = 2048

// parsePublicKey decodes the first PEM block of data into an RSA public key or
// a P-256 ECDSA public key. Any other key, and a private key given by mistake,
// is refused with an error saying what was found.
func parsePublicKey(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PUBLIC KEY block: %w", err)
		}
		key = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse RSA PUBLIC KEY block: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("PEM block is %q; want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"", block.Type)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits; at least %d are required", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("EC key is on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T; want RSA or EC P-256", key)
	}
}
