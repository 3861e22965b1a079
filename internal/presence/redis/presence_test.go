package redis_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/presence/presencetest"
	"github.com/nordkapp42/nordkapp42/internal/presence/redis"
	"github.com/nordkapp42/nordkapp42/internal/redistest"
)

var _ app.Presence = (*redis.Presence)(nil)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for something a node should do.
const waitFor = 10 * time.Second

// TestPresence runs the suite on the shared Redis server.
func TestPresence(t *testing.T) {
	t.Parallel()
	runSuite(t, redistest.Client(t), false)
}

// TestPresenceOnPrivateServer runs the tests that disturb the server as a
// whole on a private one.
func TestPresenceOnPrivateServer(t *testing.T) {
	t.Parallel()
	t.Run("ScriptsLostByRedis", func(t *testing.T) {
		testScriptsLostByRedis(t, redistest.StartServer(t).Client(t), redistest.Prefix("presence"))
	})
}

// TestPresenceOnCluster runs the suite on a private Redis Cluster.
func TestPresenceOnCluster(t *testing.T) {
	t.Parallel()
	runSuite(t, redistest.StartCluster(t).Client(t), true)
}

// runSuite runs the tests on client; private says that the server is the
// test's own, so tests that flush its script cache may run too.
func runSuite(t *testing.T, client goredis.UniversalClient, private bool) {
	t.Helper()
	tests := []struct {
		name    string
		run     func(t *testing.T, client goredis.UniversalClient, prefix string)
		private bool
	}{
		{"ConnectAndDisconnectAcrossNodes", testConnectAndDisconnectAcrossNodes, false},
		{"OnlineOfMany", testOnlineOfMany, false},
		{"DeadNodeExpiresOnce", testDeadNodeExpiresOnce, false},
		{"LiveNodeKeepsItsMembers", testLiveNodeKeepsItsMembers, false},
		{"ScriptsLostByRedis", testScriptsLostByRedis, true},
	}
	t.Run("Contract", func(t *testing.T) {
		presencetest.Run(t, func(*testing.T) app.Presence {
			return newPresence(client, redistest.Prefix("presence"), "A", time.Minute)
		})
	})
	for _, tc := range tests {
		if tc.private && !private {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, client, redistest.Prefix("presence"))
		})
	}
}

func newPresence(client goredis.UniversalClient, prefix, node string, ttl time.Duration) *redis.Presence {
	return redis.New(client, redis.Options{NodeID: node, TTL: ttl, KeyPrefix: prefix})
}

// step is one call on one node and what it must report.
type step struct {
	node   string // "A" or "B"
	op     string // "connect" or "disconnect"
	member string
	want   bool // cameOnline or wentOffline
	online bool // whether the member is online afterwards, asked of the other node
}

func testConnectAndDisconnectAcrossNodes(t *testing.T, client goredis.UniversalClient, prefix string) {
	nodes := map[string]*redis.Presence{
		"A": newPresence(client, prefix, "A", time.Minute),
		"B": newPresence(client, prefix, "B", time.Minute),
	}
	other := map[string]string{"A": "B", "B": "A"}
	steps := []step{
		{"A", "connect", "m1", true, true},      // first connection anywhere
		{"B", "connect", "m1", false, true},     // online already through A
		{"A", "connect", "m1", false, true},     // A's second connection
		{"A", "disconnect", "m1", false, true},  // A still holds one
		{"A", "disconnect", "m1", false, true},  // A holds none, B still does
		{"B", "disconnect", "m1", true, false},  // the last connection anywhere
		{"B", "disconnect", "m1", false, false}, // without a Connect: ignored
		{"B", "connect", "m1", true, true},      // online again
		{"A", "disconnect", "m2", false, false}, // never connected
		{"A", "connect", "m2", true, true},      // another member is independent
		{"B", "disconnect", "m1", true, false},  // m1 leaves, m2 stays
		{"A", "disconnect", "m2", true, false},  // m2 leaves
	}
	for i, s := range steps {
		var got bool
		var err error
		switch s.op {
		case "connect":
			got, err = nodes[s.node].Connect(t.Context(), s.member)
		case "disconnect":
			got, err = nodes[s.node].Disconnect(t.Context(), s.member)
		}
		if err != nil {
			t.Fatalf("step %d %+v: %v", i, s, err)
		}
		if got != s.want {
			t.Errorf("step %d: %s %s on %s reported %v, want %v", i, s.op, s.member, s.node, got, s.want)
		}
		online, err := nodes[other[s.node]].Online(t.Context(), []string{s.member})
		if err != nil {
			t.Fatalf("step %d: Online: %v", i, err)
		}
		if diff := cmp.Diff(map[string]bool{s.member: s.online}, online); diff != "" {
			t.Errorf("step %d: Online on %s after %s %s on %s (-want +got):\n%s", i, other[s.node], s.op, s.member, s.node, diff)
		}
	}
}

func testOnlineOfMany(t *testing.T, client goredis.UniversalClient, prefix string) {
	a := newPresence(client, prefix, "A", time.Minute)
	b := newPresence(client, prefix, "B", time.Minute)
	want := map[string]bool{}
	var ids []string
	for i := range 600 { // more than one batch
		id := "m" + strconv.Itoa(i)
		ids = append(ids, id)
		want[id] = i%3 == 0
		if i%3 == 0 {
			node := a
			if i%2 == 0 {
				node = b
			}
			if _, err := node.Connect(t.Context(), id); err != nil {
				t.Fatalf("Connect(%s): %v", id, err)
			}
		}
	}
	got, err := a.Online(t.Context(), ids)
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Online (-want +got):\n%s", diff)
	}
	if got, err := a.Online(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("Online(nil) = %v, %v; want an empty map", got, err)
	}
}

// testDeadNodeExpiresOnce lets node A "die" (its Run stops, nobody
// disconnects) while B and C sweep: exactly one of them reports the member
// offline, and afterwards nothing is left that could make a second report.
func testDeadNodeExpiresOnce(t *testing.T, client goredis.UniversalClient, prefix string) {
	const ttl = time.Second
	a := newPresence(client, prefix, "A", ttl)
	stopA := run(t, a, func(string) {})
	if came, err := a.Connect(t.Context(), "m1"); err != nil || !came {
		t.Fatalf("Connect on A = %v, %v; want true", came, err)
	}
	// B holds another member, whose claim must survive the sweeps.
	b := newPresence(client, prefix, "B", ttl)
	if _, err := b.Connect(t.Context(), "m2"); err != nil {
		t.Fatalf("Connect on B: %v", err)
	}

	expired := make(chan string, 10)
	report := func(m string) { expired <- m }
	run(t, b, report)
	run(t, newPresence(client, prefix, "C", ttl), report)
	stopA()

	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case m := <-expired:
		if m != "m1" {
			t.Fatalf("onExpired(%q), want m1", m)
		}
	case <-timeout.C:
		t.Fatalf("no onExpired within %v of A's death (TTL %v)", waitFor, ttl)
	}
	online, err := b.Online(t.Context(), []string{"m1", "m2"})
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	if diff := cmp.Diff(map[string]bool{"m1": false, "m2": true}, online); diff != "" {
		t.Errorf("Online after A died (-want +got):\n%s", diff)
	}
	// A second report would need A's hint or A's claim; both are gone.
	hints, err := client.ZRange(t.Context(), prefix+"expiry", 0, -1).Result()
	if err != nil {
		t.Fatalf("read hints: %v", err)
	}
	if diff := cmp.Diff([]string{"m2\x00B"}, hints); diff != "" {
		t.Errorf("hints left (-want +got):\n%s", diff)
	}
	if n, err := client.Exists(t.Context(), prefix+"member:m1").Result(); err != nil || n != 0 {
		t.Errorf("m1's key exists = %d, %v; want 0", n, err)
	}
	select {
	case m := <-expired:
		t.Errorf("a second onExpired(%q)", m)
	default:
	}
}

// testLiveNodeKeepsItsMembers checks that Run's refresh keeps a live node's
// claims from expiring across several TTLs, while another node sweeps.
func testLiveNodeKeepsItsMembers(t *testing.T, client goredis.UniversalClient, prefix string) {
	const ttl = 600 * time.Millisecond
	a := newPresence(client, prefix, "A", ttl)
	b := newPresence(client, prefix, "B", ttl)
	expired := make(chan string, 1)
	run(t, a, func(m string) { expired <- m })
	run(t, b, func(m string) { expired <- m })
	if _, err := a.Connect(t.Context(), "m1"); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	// A witness claimed by C, which runs no Run, expires one TTL after it
	// connected; once it is reported, m1's first claim is older than TTL.
	c := newPresence(client, prefix, "C", ttl)
	if _, err := c.Connect(t.Context(), "witness"); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case m := <-expired:
		if m != "witness" {
			t.Fatalf("onExpired(%q), want only the witness", m)
		}
	case <-timeout.C:
		t.Fatalf("the witness did not expire within %v", waitFor)
	}
	online, err := b.Online(t.Context(), []string{"m1"})
	if err != nil || !online["m1"] {
		t.Errorf("Online(m1) after more than TTL = %v, %v; want true", online, err)
	}
}

// testScriptsLostByRedis checks that the pipelined scripts are loaded again
// when Redis has lost them, as after a restart.
func testScriptsLostByRedis(t *testing.T, client goredis.UniversalClient, prefix string) {
	a := newPresence(client, prefix, "A", time.Minute)
	if _, err := a.Connect(t.Context(), "m1"); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := flushScripts(t.Context(), client); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	online, err := a.Online(t.Context(), []string{"m1"})
	if err != nil || !online["m1"] {
		t.Errorf("Online after SCRIPT FLUSH = %v, %v; want m1 online", online, err)
	}
}

// flushScripts empties the script cache of every server behind client.
func flushScripts(ctx context.Context, client goredis.UniversalClient) error {
	if cc, ok := client.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.ScriptFlush(ctx).Err()
		})
	}
	return client.ScriptFlush(ctx).Err()
}

// TestRedisDown checks the error kind callers map to "try again later".
func TestRedisDown(t *testing.T) {
	t.Parallel()
	server := redistest.StartServer(t)
	client := goredis.NewClient(&goredis.Options{Addr: server.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	p := newPresence(client, redistest.Prefix("presence"), "A", time.Minute)
	server.Kill(t)

	if _, err := p.Connect(t.Context(), "m1"); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Connect with Redis down = %v, want an error wrapping domain.ErrUnavailable", err)
	}
	if _, err := p.Online(t.Context(), []string{"m1"}); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Online with Redis down = %v, want an error wrapping domain.ErrUnavailable", err)
	}
	// The failed Connect recorded nothing, so this Disconnect is ignored.
	if gone, err := p.Disconnect(t.Context(), "m1"); err != nil || gone {
		t.Errorf("Disconnect after a failed Connect = %v, %v; want false, nil", gone, err)
	}
}

// run runs p.Run until the returned stop is called or the test ends, and
// checks that it returns nil.
func run(t *testing.T, p *redis.Presence, onExpired func(string)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, onExpired) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
