package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/broker/brokertest"
	"github.com/nordkapp42/nordkapp42/internal/broker/redis"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for something Redis or the broker should do.
const waitFor = 10 * time.Second

func TestBroker(t *testing.T) {
	t.Parallel()
	client := redistest.Client(t)
	brokertest.Run(t, func(t *testing.T) realtime.Broker { return newBroker(t, client) })
}

// newBroker returns a broker over client, closed when t ends.
func newBroker(t *testing.T, client *goredis.Client) *redis.Broker {
	t.Helper()
	b := redis.New(client, redis.Options{})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// newClusterBroker returns a cluster broker over client, closed when t ends.
func newClusterBroker(t *testing.T, client *goredis.ClusterClient) *redis.Broker {
	t.Helper()
	b := redis.NewCluster(client, redis.Options{})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// TestOneRedisSubscriptionPerTopic checks that a hub's local subscribers
// share one Redis subscription, and that the last one to leave ends it.
func TestOneRedisSubscriptionPerTopic(t *testing.T) {
	t.Parallel()
	client := redistest.Client(t)
	topic := redistest.Prefix("broker") + "room:1"
	numSub := func(ctx context.Context) (int64, error) {
		counts, err := client.PubSubNumSub(ctx, topic).Result()
		return counts[topic], err
	}
	checkSharedSubscription(t, newBroker(t, client), topic, numSub)
}

// checkSharedSubscription subscribes three local subscribers of topic
// through a hub over b and checks with numSub that Redis counts one
// subscriber, then none once they have all closed.
func checkSharedSubscription(t *testing.T, b realtime.Broker, topic string, numSub func(context.Context) (int64, error)) {
	t.Helper()
	hub := realtime.NewHub(b, realtime.HubOptions{})
	var subs []*realtime.Subscription
	for range 3 {
		s, err := hub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		t.Cleanup(s.Close)
		subs = append(subs, s)
	}
	// Subscribe returned after Redis confirmed, so the count is exact now.
	if n, err := numSub(t.Context()); err != nil || n != 1 {
		t.Fatalf("Redis subscribers of %s with 3 local subscribers = %d, %v; want 1", topic, n, err)
	}
	for _, s := range subs {
		s.Close()
	}
	// The UNSUBSCRIBE was written on the broker's connection; this check
	// asks on another one, so it waits for Redis to have processed it.
	waitUntil(t, "Redis subscribers to drop to 0 after the last local subscriber closed", func() bool {
		n, err := numSub(t.Context())
		return err == nil && n == 0
	})
}

// TestResyncAfterRestart kills and restarts a private Redis under a live
// subscription: the broker must report the possible loss with Resync once it
// is subscribed again, and deliver what is published after that.
func TestResyncAfterRestart(t *testing.T) {
	t.Parallel()
	server := redistest.StartServer(t)
	client := server.Client(t)
	b := newBroker(t, client)
	topic := redistest.Prefix("broker") + "room:1"
	r := subscribe(t, b, topic)

	publish(t, b, topic, "before")
	r.expectPayload(t, "before")

	server.Kill(t)
	server.Restart(t)
	r.expectResync(t)

	publish(t, b, topic, "after")
	r.expectPayload(t, "after")
}

// TestPublishWhileRedisIsDown checks the error kind that callers map to
// "try again later".
func TestPublishWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	server := redistest.StartServer(t)
	client := goredis.NewClient(&goredis.Options{Addr: server.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	b := newBroker(t, client)
	server.Kill(t)

	err := b.Publish(t.Context(), "room:1", []byte("lost"))
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Publish with Redis down = %v, want an error wrapping domain.ErrUnavailable", err)
	}
	_, err = b.Subscribe(t.Context(), "room:1", realtime.DeliverFunc(func([]byte) {}))
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Subscribe with Redis down = %v, want an error wrapping domain.ErrUnavailable", err)
	}
}

// recorder is a Handler that queues what it is given for the test to wait on.
type recorder struct {
	topic    string
	payloads chan []byte
	resyncs  chan struct{}
}

func (r *recorder) Deliver(payload []byte) {
	select {
	case r.payloads <- bytes.Clone(payload):
	default: // the test reads far fewer; expectPayload reports what is missing
	}
}

func (r *recorder) Resync() {
	select {
	case r.resyncs <- struct{}{}:
	default: // one pending resync says the same as several
	}
}

// subscribe subscribes a recorder to topic on b until the test ends.
func subscribe(t *testing.T, b realtime.Broker, topic string) *recorder {
	t.Helper()
	r := &recorder{topic: topic, payloads: make(chan []byte, 16), resyncs: make(chan struct{}, 1)}
	unsubscribe, err := b.Subscribe(t.Context(), topic, r)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(unsubscribe)
	return r
}

func (r *recorder) expectPayload(t *testing.T, want string) {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case got := <-r.payloads:
		if string(got) != want {
			t.Fatalf("topic %s: got payload %q, want %q", r.topic, got, want)
		}
	case <-timeout.C:
		t.Fatalf("topic %s: no payload within %v, want %q", r.topic, waitFor, want)
	}
}

func (r *recorder) expectResync(t *testing.T) {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case <-r.resyncs:
	case <-timeout.C:
		t.Fatalf("topic %s: no Resync within %v", r.topic, waitFor)
	}
}

func publish(t *testing.T, b realtime.Broker, topic, payload string) {
	t.Helper()
	if err := b.Publish(t.Context(), topic, []byte(payload)); err != nil {
		t.Fatalf("Publish(%q, %q): %v", topic, payload, err)
	}
}

// waitUntil polls cond until it holds, failing the test after waitFor. It is
// for state in Redis, which announces nothing.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		<-tick.C
	}
}

// TestChurn subscribes and unsubscribes a few topics from many goroutines at
// once, as nodes whose clients come and go do. Every subscription must see a
// publish made right after it was made, and once all have ended Redis must
// hold no subscription of those topics.
func TestChurn(t *testing.T) {
	t.Parallel()
	client := redistest.Client(t)
	b := newBroker(t, client)
	prefix := redistest.Prefix("broker")
	topics := []string{prefix + "a", prefix + "b", prefix + "c"}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				topic := topics[(g+i)%len(topics)]
				marker := fmt.Sprintf("%d/%d", g, i)
				r := &recorder{topic: topic, payloads: make(chan []byte, 256), resyncs: make(chan struct{}, 1)}
				unsubscribe, err := b.Subscribe(t.Context(), topic, r)
				if err != nil {
					t.Errorf("Subscribe(%q): %v", topic, err)
					return
				}
				if err := b.Publish(t.Context(), topic, []byte(marker)); err != nil {
					t.Errorf("Publish: %v", err)
				}
				if !r.await(marker) {
					t.Errorf("subscription %s of %s did not get its own publish within %v", marker, topic, waitFor)
				}
				unsubscribe()
			}
		})
	}
	wg.Wait()
	waitUntil(t, "no Redis subscription left after the churn", func() bool {
		counts, err := client.PubSubNumSub(t.Context(), topics...).Result()
		if err != nil {
			return false
		}
		for _, n := range counts {
			if n != 0 {
				return false
			}
		}
		return true
	})
}

// await waits for payload want, skipping the others (other goroutines
// publish on the same topic).
func (r *recorder) await(want string) bool {
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for {
		select {
		case got := <-r.payloads:
			if string(got) == want {
				return true
			}
		case <-timeout.C:
			return false
		}
	}
}
