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
	"net/url"
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

// build is one build of the binary, made at most once per test process.
type build struct {
	once sync.Once
	path string
	err  error
}

var (
	raceBuild  build // with the race detector: the default
	plainBuild build // without: for load tests
)

// Binary returns the path of a nordkapp42 binary built with the race
// detector from this checkout, building it on first use in this test
// process. Every server of a test runs it unless told otherwise: when the
// server's log reports a data race, stopping the server fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	return raceBuild.binary(t, "-race")
}

// PlainBinary returns the path of a nordkapp42 binary built without the
// race detector, which runs several times faster: for tests whose point is
// load, where the detector's overhead would dominate.
func PlainBinary(t testing.TB) string {
	t.Helper()
	return plainBuild.binary(t)
}

func (b *build) binary(t testing.TB, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "nordkapp42-e2e-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "nordkapp42")
		args := append(append([]string{"build"}, flags...), "-o", b.path, "./cmd/nordkapp42")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Options configure a server process.
type Options struct {
	// DataDir is the data directory; empty for a fresh temporary one.
	DataDir string
	// Addr is host:port to listen on; empty for a free port on 127.0.0.1.
	Addr string
	// Args are extra serve flags.
	Args []string
	// DataDirSecret starts the server without NORDKAPP42_JWT_SECRET, so that
	// it signs with <DataDir>/jwt-secret (creating it on first start), as an
	// install without configuration does. Server.Secret is then read from
	// that file once the server is up.
	DataDirSecret bool
	// OmitServe leaves the serve subcommand out of the command line, relying
	// on serve being the default, as a user typing the flags alone does.
	OmitServe bool
	// Plain runs PlainBinary instead of the race-detecting Binary.
	Plain bool
	// Secret is the HS256 secret to run with; empty for a fresh random one.
	// Nodes of one cluster share it.
	Secret []byte
}

// Server is one running nordkapp42 process.
type Server struct {
	// URL is the base HTTP URL, e.g. http://127.0.0.1:41234.
	URL string
	// Addr is the host:port it listens on.
	Addr string
	// GRPCAddr is the host:port of its internal gRPC listener: a free port
	// of its own, so that servers side by side do not clash on the default.
	// Options.Args may override it with --grpc-addr.
	GRPCAddr string
	// DataDir is its data directory.
	DataDir string
	// Secret is the HS256 secret it verifies tokens with.
	Secret []byte

	opts    Options
	client  *http.Client
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error       // how the process exited; read once done is closed
	ended   bool        // by Stop or Kill, on purpose
	logs    *syncBuffer // stdout and stderr interleaved
	stdout  *syncBuffer
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
	s := &Server{URL: "http://" + opts.Addr, Addr: opts.Addr, GRPCAddr: FreeAddr(t), DataDir: opts.DataDir, opts: opts}
	switch {
	case len(opts.Secret) > 0:
		s.Secret = opts.Secret
	case !opts.DataDirSecret:
		var secret [16]byte
		_, _ = rand.Read(secret[:])
		s.Secret = []byte(hex.EncodeToString(secret[:]))
	}
	// A client of its own, so that closing its idle connections when the
	// server stops leaves no goroutine behind, and so that concurrent
	// senders reuse connections instead of opening one per request.
	s.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Env returns the environment of this process without any NORDKAPP42_
// variable, so that a child process sees only the configuration a test gives
// it.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NORDKAPP42_") {
			env = append(env, kv)
		}
	}
	return env
}

// Run runs the binary with args to completion (at most a minute) and
// returns what it printed; a non-zero exit fails the test.
func Run(t testing.TB, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = Env()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("nordkapp42 %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	args := []string{"serve"}
	if s.opts.OmitServe {
		args = nil
	}
	args = append(args, "--addr", s.Addr, "--grpc-addr", s.GRPCAddr, "--data-dir", s.DataDir, "--log-level", "warn")
	args = append(args, s.opts.Args...)
	bin := Binary(t)
	if s.opts.Plain {
		bin = PlainBinary(t)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = Env()
	if !s.opts.DataDirSecret {
		s.cmd.Env = append(s.cmd.Env, "NORDKAPP42_JWT_SECRET="+string(s.Secret))
	}
	s.logs, s.stdout = &syncBuffer{}, &syncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = io.MultiWriter(s.logs, s.stdout), s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s.done, s.ended = make(chan struct{}), false
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client.Get(s.URL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.loadSecret(t)
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

// loadSecret reads the data directory's secret the server verifies tokens
// with, when it was started without one.
func (s *Server) loadSecret(t testing.TB) {
	t.Helper()
	if !s.opts.DataDirSecret {
		return
	}
	b, err := os.ReadFile(filepath.Join(s.DataDir, auth.SecretFile))
	if err != nil {
		t.Fatalf("read the server's secret: %v", err)
	}
	s.Secret = bytes.TrimSpace(b)
}

// Logs returns what the server wrote since it last started, stdout and
// stderr interleaved.
func (s *Server) Logs() string { return s.logs.String() }

// Stdout returns what the server wrote to its standard output since it last
// started (logs go to standard error). Output reaches the test through a
// pipe, so what the server printed before answering a request may not have
// arrived yet: use WaitStdout to wait for it.
func (s *Server) Stdout() string { return s.stdout.String() }

// WaitStdout waits up to Wait until match accepts what the server wrote to
// its standard output since it last started, and returns that; it fails the
// test when the output never matches.
func (s *Server) WaitStdout(t testing.TB, match func(stdout string) bool) string {
	t.Helper()
	out, ok := s.stdout.wait(match, time.After(Wait))
	if !ok {
		t.Fatalf("standard output did not show what the test waits for within %s:\n%s", Wait, out)
	}
	return out
}

// Stop sends SIGTERM and waits for the process to exit (killing it after
// 30s). It fails the test when the server had exited on its own, does not
// exit cleanly, or its log reports a data race.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	defer s.client.CloseIdleConnections()
	select {
	case <-s.done:
		if !s.ended {
			s.ended = true
			t.Errorf("server exited on its own with %v:\n%s", s.waitErr, s.logs.String())
			s.checkRaces(t)
		}
		return
	default:
	}
	s.ended = true
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		// A reported race also makes the exit status 66: say it once.
		if !s.checkRaces(t) && s.waitErr != nil {
			t.Errorf("server exited after SIGTERM with %v:\n%s", s.waitErr, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("server did not stop within 30s of SIGTERM")
		s.checkRaces(t)
	}
}

// checkRaces fails the test, and reports true, when the race detector
// reported in the logs.
func (s *Server) checkRaces(t testing.TB) bool {
	t.Helper()
	logs := s.logs.String()
	if !strings.Contains(logs, "WARNING: DATA RACE") {
		return false
	}
	t.Errorf("the server reported a data race:\n%s", logs)
	return true
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it
// is gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.done
	s.ended = true
	s.client.CloseIdleConnections()
	s.checkRaces(t)
}

// Restart starts the process again on the same address and data directory,
// stopping it first with SIGTERM unless it has exited already (after Kill,
// say). It returns once the new process is healthy.
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
	r, err := s.Exec(context.Background(), token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Exec posts a GraphQL operation with an optional token, like Do, but
// returns failures instead of failing the test, for use off the test's
// goroutine.
func (s *Server) Exec(ctx context.Context, token, query string, vars map[string]any) (Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return Response{}, fmt.Errorf("encode request: %w", err)
	}
	return s.post(ctx, token, "application/json", body)
}

// Post sends a raw body to /graphql.
func (s *Server) Post(t testing.TB, token, contentType string, body []byte) Response {
	t.Helper()
	r, err := s.post(context.Background(), token, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *Server) post(ctx context.Context, token, contentType string, body []byte) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("POST /graphql: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	raw, err := s.roundTrip(req)
	if err != nil {
		return Response{}, err
	}
	return raw.GraphQL()
}

// Get sends a GraphQL operation as GET /graphql with the query string
// parameters query and variables.
func (s *Server) Get(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	q := url.Values{"query": {query}}
	if vars != nil {
		b, err := json.Marshal(vars)
		if err != nil {
			t.Fatal(err)
		}
		q.Set("variables", string(b))
	}
	req := s.Request(t, http.MethodGet, "/graphql?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := s.HTTP(t, req).GraphQL()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Request returns a request for path (with its query string) on the server,
// to adjust before sending it with HTTP.
func (s *Server) Request(t testing.TB, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	return req
}

// RawResponse is an HTTP response read in full.
type RawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// GraphQL decodes the body as a GraphQL response.
func (r RawResponse) GraphQL() (Response, error) {
	var resp Response
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		return Response{}, fmt.Errorf("status %d, body %q: %w", r.Status, r.Body, err)
	}
	resp.Status = r.Status
	return resp, nil
}

// HTTP sends req (within 30s) and reads the whole response.
func (s *Server) HTTP(t testing.TB, req *http.Request) RawResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	r, err := s.roundTrip(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *Server) roundTrip(req *http.Request) (RawResponse, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return RawResponse{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return RawResponse{}, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	return RawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// syncBuffer collects a process's output, which arrives through a pipe
// copied by a goroutine of os/exec, so a reader may wait for what it expects.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed by the next Write; nil when nobody waits
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wait returns the contents once match accepts them, or with false when
// timeout fires first.
func (b *syncBuffer) wait(match func(string) bool, timeout <-chan time.Time) (string, bool) {
	for {
		b.mu.Lock()
		s := b.buf.String()
		if match(s) {
			b.mu.Unlock()
			return s, true
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			return s, false
		}
	}
}
