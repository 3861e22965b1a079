// Package brokertest is the contract suite that every realtime.Broker adapter
// must pass: the in-process broker, Redis, Redis Cluster. It knows nothing of
// any adapter; each adapter's own test calls Run with a factory.
package brokertest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

// waitFor bounds every wait for a delivery; a network adapter without faults
// delivers far sooner.
const waitFor = 5 * time.Second

// Run runs the contract suite. newBroker is called once per subtest and must
// return a broker ready to use; it registers its own cleanup on t. Subtests
// run in parallel, each on topics no other subtest (and no other Run, even
// against a shared server) uses.
func Run(t *testing.T, newBroker func(t *testing.T) realtime.Broker) {
	t.Helper()
	ns := rand.Text() // separates concurrent runs against one shared server
	tests := []struct {
		name string
		run  func(t *testing.T, s *suite)
	}{
		{"PublishReachesSubscriber", testPublishReachesSubscriber},
		{"OnePublisherInOrder", testOnePublisherInOrder},
		{"TwoSubscriptionsOfOneTopicBothReceive", testTwoSubscriptionsBothReceive},
		{"TopicsAreIsolated", testTopicsAreIsolated},
		{"NothingArrivesAfterUnsubscribe", testNothingAfterUnsubscribe},
		{"UnsubscribeIsIdempotent", testUnsubscribeIsIdempotent},
		{"ConcurrentPublishersExactlyOnce", testConcurrentPublishers},
		{"PublishAfterSubscribeIsDelivered", testPublishAfterSubscribe},
		{"PublisherMayReuseItsBuffer", testPublisherMayReuseBuffer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, &suite{broker: newBroker(t), prefix: "brokertest:" + ns + ":" + tc.name + ":"})
		})
	}
}

// suite is what one subtest works with.
type suite struct {
	broker realtime.Broker
	prefix string
}

// topic returns a topic name private to the subtest.
func (s *suite) topic(name string) string { return s.prefix + name }

// publish publishes payload on topic and fails the test on error. It may be
// called from any goroutine.
func (s *suite) publish(t *testing.T, topic, payload string) {
	t.Helper()
	if err := s.broker.Publish(t.Context(), topic, []byte(payload)); err != nil {
		t.Errorf("Publish(%q, %q): %v", topic, payload, err)
	}
}

// subscribe subscribes a new recorder to topic; the subscription ends with
// the test, and the recorder's contract checks run after that.
func (s *suite) subscribe(t *testing.T, topic string, capacity int) (*recorder, func()) {
	t.Helper()
	r := &recorder{topic: topic, ch: make(chan []byte, capacity)}
	t.Cleanup(func() { r.check(t) })
	unsubscribe, err := s.broker.Subscribe(t.Context(), topic, realtime.DeliverFunc(r.deliver))
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	unsub := func() {
		unsubscribe()
		r.unsubscribed.Store(true)
	}
	t.Cleanup(unsub)
	return r, unsub
}

// recorder is a deliver function that never blocks: it copies each payload
// (deliver must not keep it) into a buffered channel, and notes every breach
// of the Broker contract it can see from inside deliver.
type recorder struct {
	topic        string
	ch           chan []byte
	inDeliver    atomic.Int32
	unsubscribed atomic.Bool

	overflowed atomic.Bool // the test's buffer was too small: a bug in the test
	concurrent atomic.Bool // deliver was entered while already running
	late       atomic.Bool // deliver was called after unsubscribe returned
}

func (r *recorder) deliver(payload []byte) {
	if r.inDeliver.Add(1) != 1 {
		r.concurrent.Store(true)
	}
	defer r.inDeliver.Add(-1)
	if r.unsubscribed.Load() {
		r.late.Store(true)
	}
	select {
	case r.ch <- bytes.Clone(payload):
	default:
		r.overflowed.Store(true)
	}
}

// check reports the contract breaches deliver saw.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	if r.overflowed.Load() {
		t.Errorf("topic %q: more payloads than the test expected (recorder buffer of %d overflowed)", r.topic, cap(r.ch))
	}
	if r.concurrent.Load() {
		t.Errorf("topic %q: deliver was called concurrently with itself", r.topic)
	}
	if r.late.Load() {
		t.Errorf("topic %q: deliver was called after unsubscribe returned", r.topic)
	}
}

// next waits for the next payload.
func (r *recorder) next(t *testing.T) string {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case p := <-r.ch:
		return string(p)
	case <-timeout.C:
		t.Fatalf("topic %q: no payload within %v", r.topic, waitFor)
		return ""
	}
}

// nextN waits for the next n payloads, all within one deadline.
func (r *recorder) nextN(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	got := make([]string, 0, n)
	for len(got) < n {
		select {
		case p := <-r.ch:
			got = append(got, string(p))
		case <-timeout.C:
			t.Fatalf("topic %q: %d of %d payloads within %v", r.topic, len(got), n, waitFor)
		}
	}
	return got
}

// assertNothingQueued fails if a payload is waiting. It does not wait: the
// callers first make sure, with a marker, that delivery has happened.
func (r *recorder) assertNothingQueued(t *testing.T) {
	t.Helper()
	select {
	case p := <-r.ch:
		t.Errorf("topic %q: unexpected payload %q", r.topic, p)
	default:
	}
}

func testPublishReachesSubscriber(t *testing.T, s *suite) {
	topic := s.topic("t")
	r, _ := s.subscribe(t, topic, 1)
	s.publish(t, topic, "hello")
	if got := r.next(t); got != "hello" {
		t.Errorf("got %q, want %q", got, "hello")
	}
}

func testOnePublisherInOrder(t *testing.T, s *suite) {
	const n = 1000
	topic := s.topic("t")
	r, _ := s.subscribe(t, topic, n)
	want := make([]string, n)
	for i := range n {
		want[i] = strconv.Itoa(i)
		s.publish(t, topic, want[i])
	}
	if diff := cmp.Diff(want, r.nextN(t, n)); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
}

// testTwoSubscriptionsBothReceive subscribes twice to one topic, as two nodes
// would.
func testTwoSubscriptionsBothReceive(t *testing.T, s *suite) {
	topic := s.topic("t")
	r1, _ := s.subscribe(t, topic, 2)
	r2, _ := s.subscribe(t, topic, 2)
	s.publish(t, topic, "a")
	s.publish(t, topic, "b")
	want := []string{"a", "b"}
	for i, r := range []*recorder{r1, r2} {
		if diff := cmp.Diff(want, r.nextN(t, 2)); diff != "" {
			t.Errorf("subscription %d (-want +got):\n%s", i+1, diff)
		}
	}
}

// testTopicsAreIsolated uses names that are prefixes of each other and names
// with glob characters, which a pattern-based adapter could confuse. Each
// subscription reads up to a marker published on its own topic after all the
// other payloads, so a misrouted payload would show up before the marker.
func testTopicsAreIsolated(t *testing.T, s *suite) {
	names := []string{"room:1", "room:10", "room:1*", "room:?", "room:[1]", "activity:1"}
	recorders := make([]*recorder, len(names))
	for i, name := range names {
		recorders[i], _ = s.subscribe(t, s.topic(name), 2)
	}
	s.publish(t, s.topic("room:unsubscribed"), "nobody")
	for _, name := range names {
		s.publish(t, s.topic(name), "payload of "+name)
	}
	for _, name := range names {
		s.publish(t, s.topic(name), "marker")
	}
	for i, name := range names {
		want := []string{"payload of " + name, "marker"}
		if diff := cmp.Diff(want, recorders[i].nextN(t, 2)); diff != "" {
			t.Errorf("topic %q (-want +got):\n%s", name, diff)
		}
	}
}

func testNothingAfterUnsubscribe(t *testing.T, s *suite) {
	topic := s.topic("t")
	gone, unsubscribe := s.subscribe(t, topic, 3)
	witness, _ := s.subscribe(t, topic, 3)
	s.publish(t, topic, "before")
	if got := gone.next(t); got != "before" {
		t.Fatalf("before unsubscribe got %q, want %q", got, "before")
	}
	if got := witness.next(t); got != "before" {
		t.Fatalf("witness got %q, want %q", got, "before")
	}

	unsubscribe()
	s.publish(t, topic, "after")
	s.publish(t, topic, "marker")
	// Once the witness has the marker, "after" has been delivered wherever it
	// was going to be.
	if diff := cmp.Diff([]string{"after", "marker"}, witness.nextN(t, 2)); diff != "" {
		t.Errorf("witness (-want +got):\n%s", diff)
	}
	gone.assertNothingQueued(t)
}

// testUnsubscribeIsIdempotent also checks that a second unsubscribe does not
// remove somebody else's subscription, and that the topic can be subscribed
// to again.
func testUnsubscribeIsIdempotent(t *testing.T, s *suite) {
	topic := s.topic("t")
	_, unsubscribe := s.subscribe(t, topic, 1)
	other, _ := s.subscribe(t, topic, 1)
	unsubscribe()
	unsubscribe()

	again, _ := s.subscribe(t, topic, 1)
	s.publish(t, topic, "still here")
	for name, r := range map[string]*recorder{"other": other, "again": again} {
		if got := r.next(t); got != "still here" {
			t.Errorf("%s subscription got %q, want %q", name, got, "still here")
		}
	}
}

// testConcurrentPublishers checks that every payload of 8 concurrent
// publishers arrives exactly once, and each publisher's in its order.
func testConcurrentPublishers(t *testing.T, s *suite) {
	const publishers, perPublisher = 8, 250
	topic := s.topic("t")
	r, _ := s.subscribe(t, topic, publishers*perPublisher)

	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				s.publish(t, topic, fmt.Sprintf("%d/%d", p, i))
			}
		})
	}
	wg.Wait()

	got := make([][]int, publishers)
	want := make([][]int, publishers)
	for p := range publishers {
		for i := range perPublisher {
			want[p] = append(want[p], i)
		}
	}
	for _, payload := range r.nextN(t, publishers*perPublisher) {
		var p, i int
		if _, err := fmt.Sscanf(payload, "%d/%d", &p, &i); err != nil || p < 0 || p >= publishers {
			t.Fatalf("unexpected payload %q", payload)
		}
		got[p] = append(got[p], i)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payload indexes per publisher (-want +got):\n%s", diff)
	}
}

// testPublishAfterSubscribe catches an adapter whose Subscribe returns before
// the subscription is live upstream: every fresh topic gets one publish right
// after Subscribe returns, and it must arrive.
func testPublishAfterSubscribe(t *testing.T, s *suite) {
	for i := range 100 {
		topic := s.topic("t" + strconv.Itoa(i))
		r, unsubscribe := s.subscribe(t, topic, 1)
		s.publish(t, topic, "first")
		if got := r.next(t); got != "first" {
			t.Fatalf("topic %d: got %q, want %q", i, got, "first")
		}
		unsubscribe()
	}
}

// testPublisherMayReuseBuffer checks that the broker is done with the
// publisher's slice when Publish returns.
func testPublisherMayReuseBuffer(t *testing.T, s *suite) {
	topic := s.topic("t")
	r, _ := s.subscribe(t, topic, 2)
	buf := []byte("first")
	if err := s.broker.Publish(t.Context(), topic, buf); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	copy(buf, "XXXXX")
	if err := s.broker.Publish(t.Context(), topic, buf); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if diff := cmp.Diff([]string{"first", "XXXXX"}, r.nextN(t, 2)); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
}
