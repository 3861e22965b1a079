package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/pgtest"
)

// pgxpool runs a health-check goroutine per pool and database/sql one per
// goose connection; closing them must stop them all.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPoolConns is the pool size of a test's store: the suite runs its cases
// in parallel, each with a store of its own, within the server's
// max_connections.
const testPoolConns = 4

// server is the answer of the test server, asked once per test binary.
var server struct {
	once sync.Once
	url  string
	err  error
}

// testURL returns the URL of the test server: NORDKAPP42_TEST_DATABASE_URL,
// or the machine's own. When the server does not answer within 2 s the test
// is skipped, or fails under CI=true, where the server must be there. Every
// test of the package starts here.
func testURL(t testing.TB) string {
	t.Helper()
	server.once.Do(func() {
		server.url = os.Getenv("NORDKAPP42_TEST_DATABASE_URL")
		if server.url == "" {
			server.url = pgtest.DefaultURL
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
		pgtest.Unavailable(t, fmt.Sprintf("PostgreSQL not reachable at %s: start it or set NORDKAPP42_TEST_DATABASE_URL", withoutPassword(server.url)))
	}
	return server.url
}

// passwordParam matches the password of a keyword/value connection string.
var passwordParam = regexp.MustCompile(`password=('(\\.|[^'])*'|\S*)`)

// withoutPassword is a connection string fit for a test's output.
func withoutPassword(conn string) string {
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

// withParams returns conn with the parameters added, in either form of
// connection string.
func withParams(conn string, params map[string]string) string {
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

// freshSchema creates an empty schema for one test and drops it, with
// everything in it, when the test ends. It returns the schema's name and
// the URL of the test server with search_path set to it, so that a store
// opened on the URL keeps its tables (and goose its version table) there.
// The store's connections carry the schema's name as application_name, for
// tests that find them in pg_stat_activity.
func freshSchema(t testing.TB) (conn, schema string) {
	t.Helper()
	base := testURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = "nk_test_" + hex.EncodeToString(b)
	admin(t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, "DROP SCHEMA "+schema+" CASCADE") })
	return withParams(base, map[string]string{
		"search_path":      schema,
		"application_name": schema,
		"pool_max_conns":   strconv.Itoa(testPoolConns),
	}), schema
}

// admin runs one statement on a connection of its own, outside any test
// schema; it works in Cleanup too, after the test's context has ended.
func admin(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0], err)
	}
}

// openTest opens a store in a fresh schema and closes it when the test ends.
// configure, when given, adjusts the pool's configuration first.
func openTest(t testing.TB, configure ...func(*pgxpool.Config)) *Store {
	t.Helper()
	conn, _ := freshSchema(t)
	return openAt(t, conn, configure...)
}

// openAt opens a store on conn and closes it when the test ends.
func openAt(t testing.TB, conn string, configure ...func(*pgxpool.Config)) *Store {
	t.Helper()
	var (
		s   *Store
		err error
	)
	if len(configure) == 0 {
		s, err = Open(context.Background(), conn)
	} else {
		cfg, perr := parseConfig(conn)
		if perr != nil {
			t.Fatalf("parse URL: %v", perr)
		}
		for _, c := range configure {
			c(cfg)
		}
		s, err = open(context.Background(), cfg)
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
