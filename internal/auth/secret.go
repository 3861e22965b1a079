package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name, inside the data directory, of the HS256 secret that
// LoadOrCreateSecret keeps.
const SecretFile = "jwt-secret"

// secretBytes is the entropy of a generated secret: 256 bits, the size of the
// HS256 output.
const secretBytes = 32

// LoadOrCreateSecret returns the HS256 secret kept in <dataDir>/jwt-secret,
// first creating dataDir (mode 0700) and the file (mode 0600, 32 random bytes
// written as 64 hex characters) when the file does not exist.
//
// The secret is the file's text, trimmed of surrounding white space, and not
// the bytes the hex decodes to: that way `--jwt-secret "$(cat data/jwt-secret)"`
// names the very same key, on this node or on another one.
//
// Creation is atomic: the secret is written in full to a temporary file that
// is then hard-linked into place, which fails if the file already exists. So a
// reader never sees a half-written secret, and when two processes race, both
// end up with the winner's secret.
func LoadOrCreateSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, SecretFile)
	secret, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory for the jwt secret: %w", err)
	}
	if err := createSecret(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Read back rather than return what we generated: if another process won
	// the race, its secret is the one in the file.
	return readSecret(path)
}

// readSecret reads the secret in path; the error wraps fs.ErrNotExist when
// there is no such file.
func readSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator chooses the data directory
	if err != nil {
		return nil, fmt.Errorf("read jwt secret: %w", err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) == 0 {
		return nil, fmt.Errorf("read jwt secret: %s is empty", path)
	}
	return secret, nil
}

// createSecret writes a new random secret to path; the error wraps
// fs.ErrExist when path already exists.
func createSecret(path string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("create jwt secret: %w", err)
		}
	}()
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	// CreateTemp opens with mode 0600, so the secret is never readable by others.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+SecretFile+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once linked, the secret lives on under path
	if _, err := tmp.WriteString(hex.EncodeToString(raw) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
