package river

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nordkapp42/nordkapp42/internal/pgtest"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	testURL(t) // skip (or fail under CI) once, not per case
	runSuite(t, func(t *testing.T) opener {
		conn := freshSchema(t)
		return func(t *testing.T, fire FireFunc) *Scheduler {
			t.Helper()
			s, err := openPostgres(t, conn, fire)
			if err != nil {
				t.Fatalf("NewPostgres: %v", err)
			}
			return s
		}
	})

	t.Run("ExactlyOnceAcrossNodes", func(t *testing.T) {
		t.Parallel()
		conn := freshSchema(t)
		rec := newRecorder()
		// Two nodes, opened together as replicas start: they take turns
		// migrating.
		nodes := make([]*Scheduler, 2)
		errs := make([]error, len(nodes))
		fired := make([]atomic.Int32, len(nodes)) // by node, for the log
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() {
				nodes[i], errs[i] = openPostgres(t, conn, func(ctx context.Context, reminderID, token string) error {
					fired[i].Add(1)
					return rec.fire(ctx, reminderID, token)
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("NewPostgres: %v", err)
			}
		}
		stops := make([]func(), len(nodes))
		for i, n := range nodes {
			stops[i] = start(t, n)
		}
		at := time.Now()
		for i, sch := range burstSchedules() {
			if err := nodes[i%len(nodes)].Schedule(t.Context(), sch.ReminderID, sch.Token, at); err != nil {
				t.Fatalf("Schedule(%v): %v", sch, err)
			}
		}
		got := collect(t, rec.calls, burst, 30*time.Second)
		for _, stop := range stops {
			stop()
		}
		noMore(t, rec.calls)
		checkBurst(t, got, at, at)
		t.Logf("fired by node: %d, %d", fired[0].Load(), fired[1].Load())
	})
}

// openPostgres opens a Scheduler on conn, closed when the test ends if no
// Run closed it. It is safe to call from any goroutine.
func openPostgres(t *testing.T, conn string, fire FireFunc) (*Scheduler, error) {
	s, err := NewPostgres(context.Background(), conn, fire, testOptions(t))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

// server is the answer of the test server, asked once per test binary.
var server struct {
	once sync.Once
	url  string
	err  error
}

// testURL returns the URL of the test server: NORDKAPP42_TEST_DATABASE_URL,
// or the machine's own. When the server does not answer within 2 s the test
// is skipped, or fails under CI=true, where the server must be there.
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
// everything in it, when the test ends. It returns the URL of the test
// server with search_path set to it, so that River keeps its tables there.
// Each node's pool is kept small: the cases run in parallel, with other
// packages' tests, within the server's max_connections.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "nk_test_river_" + hex.EncodeToString(b)
	admin(t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, "DROP SCHEMA "+schema+" CASCADE") })
	return withParams(base, map[string]string{
		"search_path":      schema,
		"application_name": schema,
		"pool_max_conns":   "4",
	})
}

// admin runs one statement on a connection of its own, outside any test
// schema; it works in Cleanup too, after the test's context has ended.
func admin(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0], err)
	}
}
