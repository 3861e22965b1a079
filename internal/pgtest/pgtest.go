// Package pgtest gives tests a PostgreSQL to talk to: the shared server of
// the machine (NORDKAPP42_TEST_DATABASE_URL, default the local one), or a
// private server in a temporary directory that a test may stop and restart
// at will. A test that needs PostgreSQL and finds none skips with one line,
// except under CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the machine's shared server.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// server is the answer of the shared server, asked once per test binary.
var server struct {
	once sync.Once
	url  string
	err  error
}

// URL returns the shared server's URL: NORDKAPP42_TEST_DATABASE_URL, or the
// machine's own. When it does not answer within 2 s the test is skipped, or
// fails under CI=true.
func URL(t testing.TB) string {
	t.Helper()
	server.once.Do(func() {
		server.url = os.Getenv("NORDKAPP42_TEST_DATABASE_URL")
		if server.url == "" {
			server.url = DefaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server.url)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(ctx)
		}
		server.err = err
	})
	if server.err != nil {
		Unavailable(t, fmt.Sprintf("PostgreSQL not reachable at %s: start it or set NORDKAPP42_TEST_DATABASE_URL", WithoutPassword(server.url)))
	}
	return server.url
}

// FreshSchema creates an empty schema named prefix plus a random suffix on
// the shared server, dropped with everything in it when the test ends. It
// returns the schema and a URL with search_path set to it, so that whatever
// opens the URL keeps its tables there; its connections carry the schema as
// application_name, and its pool holds at most poolConns connections, so
// that parallel tests stay within the server's max_connections.
func FreshSchema(t testing.TB, prefix string, poolConns int) (conn, schema string) {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = prefix + hex.EncodeToString(b)
	Admin(t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { Admin(t, "DROP SCHEMA "+schema+" CASCADE") })
	return WithParams(base, map[string]string{
		"search_path":      schema,
		"application_name": schema,
		"pool_max_conns":   strconv.Itoa(poolConns),
	}), schema
}

// Admin runs one statement on a connection of its own to the shared server,
// outside any test schema; it works in Cleanup too, after the test's context
// has ended.
func Admin(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0], err)
	}
}

// passwordParam matches the password of a keyword/value connection string.
var passwordParam = regexp.MustCompile(`password=('(\\.|[^'])*'|\S*)`)

// WithoutPassword is a connection string fit for a test's output.
func WithoutPassword(conn string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		q.Del("password")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return passwordParam.ReplaceAllString(conn, "password=xxxxx")
}

// WithParams returns conn with the parameters added, in either form of
// connection string.
func WithParams(conn string, params map[string]string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		conn += " " + k + "=" + v
	}
	return conn
}

// Unavailable skips the test with reason, or fails it under CI=true, where
// every service the tests need must be there.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

// Server is a private PostgreSQL server.
type Server struct {
	// URL connects to its database "test" as user postgres.
	URL  string
	port int
	dir  string
	bin  string
	uid  int
	gid  int
}

// Start initialises and starts a private server on a free loopback port. It
// is stopped and removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	if bin == "" {
		Unavailable(t, "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql")
	}
	s := &Server{bin: bin, port: freePort(t)}
	// PostgreSQL refuses to run as root; run it as the postgres user then.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Unavailable(t, "running as root and no postgres user to run PostgreSQL as")
		}
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
	}
	dir, err := os.MkdirTemp("", "nordkapp42-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() {
		_ = s.run(context.Background(), "pg_ctl", "stop", "-D", s.data(), "-m", "immediate", "-w")
		_ = os.RemoveAll(dir)
	})
	if s.uid != 0 {
		if err := os.Chown(dir, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.run(ctx, "initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	s.StartAgain(t)
	if err := s.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "test"); err != nil {
		t.Fatalf("createdb: %v", err)
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable", s.port)
	return s
}

// Stop shuts the server down at once, as a crash or a failover would.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.run(ctx, "pg_ctl", "stop", "-D", s.data(), "-m", "immediate", "-w"); err != nil {
		t.Fatalf("pg_ctl stop: %v", err)
	}
}

// StartAgain starts the stopped server on its port and waits until it
// accepts connections.
func (s *Server) StartAgain(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=200", s.port, s.dir)
	if err := s.run(ctx, "pg_ctl", "start", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	if s.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// binDir finds the server binaries: pg_config's bindir, else the newest
// Debian layout.
func binDir() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
