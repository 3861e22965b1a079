package auth

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretCreatesThenReuses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")

	first, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("first LoadOrCreateSecret: %v", err)
	}
	if len(first) != 2*secretBytes {
		t.Errorf("secret is %d characters long; want %d", len(first), 2*secretBytes)
	}
	if _, err := hex.DecodeString(string(first)); err != nil {
		t.Errorf("secret %q is not hex: %v", first, err)
	}

	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("secret file mode = %o; want 600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("data directory mode = %o; want 700", got)
	}

	second, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("second LoadOrCreateSecret: %v", err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("second call returned %q; want the first secret %q", second, first)
	}
	assertOnlySecretFile(t, dir)
}

func TestLoadOrCreateSecretReadsAnExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("  operator-chosen secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateSecret: %v", err)
	}
	if want := "operator-chosen secret"; string(got) != want {
		t.Errorf("secret = %q; want %q", got, want)
	}
}

func TestLoadOrCreateSecretRefusesAnEmptyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, SecretFile)
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatalf("LoadOrCreateSecret = %q, nil; want an error for an empty file", got)
	}
	// An empty file is the operator's mistake to fix, not ours to overwrite.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "\n" {
		t.Errorf("the empty secret file was rewritten to %q", data)
	}
}

func TestLoadOrCreateSecretRacersAgree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	const racers = 16
	secrets := make([][]byte, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { secrets[i], errs[i] = LoadOrCreateSecret(dir) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if !bytes.Equal(secrets[i], secrets[0]) {
			t.Errorf("racer %d got %q; racer 0 got %q", i, secrets[i], secrets[0])
		}
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(onDisk), secrets[0]) {
		t.Errorf("file holds %q; racers got %q", onDisk, secrets[0])
	}
	assertOnlySecretFile(t, dir)
}

// assertOnlySecretFile checks that no temporary file was left behind.
func assertOnlySecretFile(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != SecretFile {
		t.Errorf("data directory holds %q; want only %q", names, SecretFile)
	}
}
