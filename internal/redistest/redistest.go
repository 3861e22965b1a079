// Package redistest gives tests real Redis servers: the shared one named by
// NORDKAPP42_TEST_REDIS_URL, private redis-server processes that a test may
// kill and restart, and private three-master Redis Clusters. It is test
// support only; no production code imports it.
//
// A test that cannot get what it asked for (the shared server does not
// answer, the redis-server or redis-cli binary is missing) is skipped with one
// line saying why, or fails with that line when CI=true, so that CI never
// passes by skipping.
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// URLVariable names the environment variable holding the shared test server.
const URLVariable = "NORDKAPP42_TEST_REDIS_URL"

// DefaultURL is the shared test server when URLVariable is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// reachWithin bounds how long a test waits for a server before it gives up.
const reachWithin = 2 * time.Second

// URL returns the shared test server's URL.
func URL() string {
	if u := os.Getenv(URLVariable); u != "" {
		return u
	}
	return DefaultURL
}

// Unavailable skips t with msg, or fails it with msg when CI=true: on a
// laptop a missing Redis is the developer's choice, in CI it is a broken
// setup.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Client returns a client of the shared test server, closed when t ends. It
// calls Unavailable when the server does not answer within 2 s.
func Client(t testing.TB) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(URL())
	if err != nil {
		t.Fatalf("parse %s=%q: %v", URLVariable, URL(), err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), reachWithin)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		Unavailable(t, fmt.Sprintf("redis at %s (set %s) did not answer within %v: %v", URL(), URLVariable, reachWithin, err))
	}
	return c
}

// Prefix returns a prefix for keys and channels that no other test run, even
// against the same server, uses; name says whose it is in a MONITOR dump.
func Prefix(name string) string {
	return "test:" + name + ":" + strings.ToLower(rand.Text()[:10]) + ":"
}
