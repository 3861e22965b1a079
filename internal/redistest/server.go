package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// startWithin bounds how long a private server may take to answer PING.
const startWithin = 10 * time.Second

// Server is a private redis-server process on a loopback port, keeping
// nothing on disk. Kill and Restart let a test stage an outage; the process
// is killed when the test ends.
type Server struct {
	// Addr is host:port; it stays the same across Restart.
	Addr string

	port int
	args []string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd // nil while killed
	log *bytes.Buffer
}

// RequireBinaries calls Unavailable unless every named binary is on PATH.
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			Unavailable(t, fmt.Sprintf("%s is not on PATH (install Debian's redis-server package): %v", name, err))
		}
	}
}

// StartServer starts a private redis-server and waits until it answers.
func StartServer(t testing.TB) *Server {
	t.Helper()
	RequireBinaries(t, "redis-server")
	port := freePort(t)
	s := newServer(t, port, nil)
	s.start(t)
	return s
}

// newServer prepares a server on port with extra redis-server arguments; it
// registers the cleanup that kills it.
func newServer(t testing.TB, port int, extra []string) *Server {
	t.Helper()
	dir := t.TempDir()
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", "",
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		port: port,
		args: append(args, extra...),
		dir:  dir,
	}
	t.Cleanup(s.stop)
	return s
}

// start runs the process and waits for PING to succeed.
func (s *Server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		t.Fatalf("redis-server on %s is already running", s.Addr)
	}
	cmd := exec.Command("redis-server", s.args...) //nolint:gosec // G204: the arguments are this package's own (ports, a temp dir).
	log := new(bytes.Buffer)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		t.Fatalf("start redis-server on %s: %v", s.Addr, err)
	}
	s.cmd, s.log = cmd, log
	s.mu.Unlock()

	if err := waitForPing(s.Addr, startWithin); err != nil {
		s.stop()
		t.Fatalf("redis-server on %s did not come up: %v\n%s", s.Addr, err, log)
	}
}

// Kill ends the process abruptly (SIGKILL), as a crash or a lost node would,
// and waits until it is gone. Clients see their connections reset.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("redis-server on %s is not running", s.Addr)
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.start(t)
}

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// stop kills the process if it runs; it is the cleanup.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// waitForPing polls addr until PING succeeds or within has passed. Polling
// is the only way to learn that a freshly started process listens.
func waitForPing(addr string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer func() { _ = c.Close() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no PING reply within %v: %w", within, err)
		case <-tick.C:
		}
	}
}

// freePort returns a loopback TCP port that is free now. Another process may
// still take it before redis-server binds it; the window is small, and start
// fails loudly if it happens.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
