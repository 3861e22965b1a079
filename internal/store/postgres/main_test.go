package postgres

import (
	"context"
	"testing"

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

// freshSchema creates an empty schema for one test, dropped when it ends,
// and returns it with the URL of the test server pointed at it.
func freshSchema(t testing.TB) (conn, schema string) {
	t.Helper()
	return pgtest.FreshSchema(t, "nk_test_", testPoolConns)
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
