// Package e2e starts real nordkapp42 server processes for black-box tests:
// the binary is built once per test process, each server gets its own port
// and data directory, and is stopped (or killed) when the test ends.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
)

var (
	buildOnce sync.Once
	binPath   string
	errBuild  error
)

// Binary returns the path of a nordkapp42 binary built from this checkout,
// building it on first use in this test process.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			errBuild = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "nordkapp42-e2e-")
		if err != nil {
			errBuild = err
			return
		}
		binPath = filepath.Join(dir, "nordkapp42")
		cmd := exec.Command("go", "build", "-race", "-o", binPath, "./cmd/nordkapp42")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			errBuild = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

// Options configure a server process.
type Options struct {
	// DataDir is the data directory; empty for a fresh temporary one.
	DataDir string
	// Addr is host:port to listen on; empty for a free port on 127.0.0.1.
	Addr string
	// Args are extra serve flags.
	Args []string
}

// Server is one running nordkapp42 process.
type Server struct {
	// URL is the base HTTP URL, e.g. http://127.0.0.1:41234.
	URL string
	// Addr is the host:port it listens on.
	Addr string
	// DataDir is its data directory.
	DataDir string
	// Secret is the HS256 secret it verifies tokens with.
	Secret []byte

	opts Options
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// Start runs a server and waits until it answers /healthz. It is stopped with
// SIGTERM when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Addr == "" {
		opts.Addr = FreeAddr(t)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	s := &Server{URL: "http://" + opts.Addr, Addr: opts.Addr, DataDir: opts.DataDir, Secret: []byte(hex.EncodeToString(secret[:])), opts: opts}
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	args := append([]string{"serve", "--addr", s.Addr, "--data-dir", s.DataDir, "--log-level", "warn"}, s.opts.Args...)
	s.cmd = exec.Command(Binary(t), args...)
	s.cmd.Env = append(os.Environ(), "NORDKAPP42_JWT_SECRET="+string(s.Secret))
	s.logs = &syncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			t.Fatalf("server exited during start:\n%s", s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Logs returns what the server wrote so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop sends SIGTERM and waits for the process to exit (killing it after 30s).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("server did not stop within 30s of SIGTERM")
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Restart starts the process again on the same address and data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.start(t)
}

// Token returns a token for a member, valid for an hour.
func (s *Server) Token(t testing.TB, sub, name string) string {
	return s.TokenTTL(t, sub, name, time.Hour)
}

// TokenTTL returns a token for a member valid for ttl (negative: expired).
func (s *Server) TokenTTL(t testing.TB, sub, name string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Issue(s.Secret, sub, name, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// FreeAddr returns a 127.0.0.1 address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Response is a GraphQL response.
type Response struct {
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
	// Status is the HTTP status code.
	Status int `json:"-"`
}

// Code returns the code of the first error, or "" when there is none.
func (r Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// Decode unmarshals data into v, failing the test on errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// Do posts a GraphQL operation with an optional token.
func (s *Server) Do(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return s.Post(t, token, "application/json", body)
}

// Post sends a raw body to /graphql.
func (s *Server) Post(t testing.TB, token, contentType string, body []byte) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("POST /graphql: status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	r.Status = resp.StatusCode
	return r
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
