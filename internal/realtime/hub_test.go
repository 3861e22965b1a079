package realtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for something the hub should do.
const waitFor = 5 * time.Second

// countingBroker wraps a Broker and counts upstream subscriptions per topic.
// Its Subscribe can be held at a gate, and made to fail, to stage races.
type countingBroker struct {
	realtime.Broker

	mu           sync.Mutex
	subscribes   map[string]int // Subscribe calls
	unsubscribes map[string]int // unsubscribe calls that took effect
	live         map[string]int // upstream subscriptions currently live
	overlapped   bool           // two upstream subscriptions of one topic were live at once
	gate         chan struct{}  // when non-nil, Subscribe waits for it to close
	fail         error          // when non-nil, Subscribe returns it after the gate
	entered      chan string    // when non-nil, receives each topic as Subscribe is entered
}

func newCountingBroker() *countingBroker {
	return &countingBroker{
		Broker:       memory.New(),
		subscribes:   make(map[string]int),
		unsubscribes: make(map[string]int),
		live:         make(map[string]int),
	}
}

func (c *countingBroker) Subscribe(ctx context.Context, topic string, deliver realtime.Handler) (func(), error) {
	c.mu.Lock()
	c.subscribes[topic]++
	gate, fail, entered := c.gate, c.fail, c.entered
	c.mu.Unlock()
	if entered != nil {
		entered <- topic
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	unsubscribe, err := c.Broker.Subscribe(ctx, topic, deliver)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.live[topic]++
	if c.live[topic] > 1 {
		c.overlapped = true
	}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			unsubscribe()
			c.mu.Lock()
			c.live[topic]--
			c.unsubscribes[topic]++
			c.mu.Unlock()
		})
	}, nil
}

// upstream is what the counting broker saw of one topic.
type upstream struct {
	Subscribes, Unsubscribes, Live int
}

func (c *countingBroker) upstream(topic string) upstream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return upstream{c.subscribes[topic], c.unsubscribes[topic], c.live[topic]}
}

func (c *countingBroker) assertUpstream(t *testing.T, topic string, want upstream) {
	t.Helper()
	if diff := cmp.Diff(want, c.upstream(topic)); diff != "" {
		t.Errorf("upstream of %q (-want +got):\n%s", topic, diff)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overlapped {
		t.Errorf("two upstream subscriptions of one topic were live at once")
	}
}

func event(seq int64) realtime.Envelope {
	return realtime.Envelope{Event: &domain.Event{RoomID: "r1", Seq: seq, Type: domain.EventMessageSent}}
}

func publish(t *testing.T, h *realtime.Hub, topic string, seqs ...int64) {
	t.Helper()
	for _, seq := range seqs {
		if err := h.Publish(t.Context(), topic, event(seq)); err != nil {
			t.Fatalf("Publish(%q, %d): %v", topic, seq, err)
		}
	}
}

func subscribe(t *testing.T, h *realtime.Hub, topics ...string) *realtime.Subscription {
	t.Helper()
	s, err := h.Subscribe(t.Context(), topics...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topics, err)
	}
	t.Cleanup(s.Close)
	return s
}

// seqs returns 1..n.
func seqs(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// next waits for the next envelope of s and returns its event's seq.
func next(t *testing.T, s *realtime.Subscription) int64 {
	t.Helper()
	return nextN(t, s, 1)[0]
}

// nextN waits for the next n envelopes of s and returns their events' seqs.
func nextN(t *testing.T, s *realtime.Subscription, n int) []int64 {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	got := make([]int64, 0, n)
	for len(got) < n {
		if env, ok := s.Next(); ok {
			got = append(got, env.Event.Seq)
			continue
		}
		select {
		case <-s.Ready():
		case <-s.Done():
			if env, ok := s.Next(); ok {
				got = append(got, env.Event.Seq)
				continue
			}
			t.Fatalf("subscription ended after %d of %d envelopes: %v", len(got), n, s.Err())
		case <-timeout.C:
			t.Fatalf("%d of %d envelopes within %v", len(got), n, waitFor)
		}
	}
	return got
}

// drain waits for s to end and returns the seqs that were still queued.
func drain(t *testing.T, s *realtime.Subscription) []int64 {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitFor):
		t.Fatalf("subscription not ended within %v", waitFor)
	}
	var got []int64
	for env, ok := s.Next(); ok; env, ok = s.Next() {
		got = append(got, env.Event.Seq)
	}
	return got
}

// assertNothingQueued fails if an envelope is waiting; callers first make
// sure, with a marker, that dispatch has happened.
func assertNothingQueued(t *testing.T, s *realtime.Subscription) {
	t.Helper()
	if env, ok := s.Next(); ok {
		t.Errorf("unexpected envelope %+v", env.Event)
	}
	select {
	case <-s.Done():
		t.Errorf("subscription ended: %v", s.Err())
	default:
	}
}

func TestFanOutReachesEverySubscriberInOrder(t *testing.T) {
	t.Parallel()
	const subscribers, envelopes = 1000, 100
	b := newCountingBroker()
	h := realtime.NewHub(b, realtime.HubOptions{QueueSize: envelopes})
	subs := make([]*realtime.Subscription, subscribers)
	for i := range subs {
		subs[i] = subscribe(t, h, "room:r1")
	}

	publish(t, h, "room:r1", seqs(envelopes)...)

	for i, s := range subs {
		if diff := cmp.Diff(seqs(envelopes), nextN(t, s, envelopes)); diff != "" {
			t.Fatalf("subscriber %d (-want +got):\n%s", i, diff)
		}
	}
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 1, Live: 1})
}

func TestOneUpstreamSubscriptionPerTopic(t *testing.T) {
	t.Parallel()
	const subscribers = 100
	b := newCountingBroker()
	h := realtime.NewHub(b, realtime.HubOptions{})
	topics := []string{"room:r1", "activity:r1"}
	subs := make([]*realtime.Subscription, subscribers)
	for i := range subs {
		subs[i] = subscribe(t, h, topics...)
	}
	for _, topic := range topics {
		b.assertUpstream(t, topic, upstream{Subscribes: 1, Live: 1})
	}

	for _, s := range subs[1:] {
		s.Close()
	}
	for _, topic := range topics {
		b.assertUpstream(t, topic, upstream{Subscribes: 1, Live: 1})
	}

	// The last leaver drops the upstream subscriptions.
	subs[0].Close()
	for _, topic := range topics {
		b.assertUpstream(t, topic, upstream{Subscribes: 1, Unsubscribes: 1, Live: 0})
	}

	// A new first subscriber makes them again, and they work.
	again := subscribe(t, h, topics...)
	for _, topic := range topics {
		b.assertUpstream(t, topic, upstream{Subscribes: 2, Unsubscribes: 1, Live: 1})
	}
	publish(t, h, "activity:r1", 7)
	if got := next(t, again); got != 7 {
		t.Errorf("after re-subscribing got seq %d, want 7", got)
	}
}

// TestConcurrentFirstSubscribersShareOneUpstream holds the first upstream
// Subscribe until the 49 other first subscribers are waiting for it.
func TestConcurrentFirstSubscribersShareOneUpstream(t *testing.T) {
	t.Parallel()
	const subscribers = 50
	b := newCountingBroker()
	b.gate = make(chan struct{})
	b.entered = make(chan string, subscribers)
	h := realtime.NewHub(b, realtime.HubOptions{})
	waiting := make(chan string, subscribers)
	realtime.SetOnWait(h, func(topic string) { waiting <- topic })

	subs := make([]*realtime.Subscription, subscribers)
	errs := make([]error, subscribers)
	var wg sync.WaitGroup
	for i := range subscribers {
		wg.Go(func() { subs[i], errs[i] = h.Subscribe(t.Context(), "room:r1") })
	}
	t.Cleanup(func() {
		for _, s := range subs {
			if s != nil {
				s.Close()
			}
		}
	})
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for range subscribers - 1 {
		select {
		case <-waiting:
		case <-timeout.C:
			close(b.gate)
			wg.Wait()
			t.Fatalf("subscribers did not wait for the pending upstream subscription")
		}
	}
	close(b.gate)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
	}
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 1, Live: 1})
	publish(t, h, "room:r1", 1)
	for i, s := range subs {
		if got := next(t, s); got != 1 {
			t.Errorf("subscriber %d got seq %d, want 1", i, got)
		}
	}
}

// TestFailedUpstreamSubscribeFailsEveryWaiter checks that the error reaches
// the subscriber that made the upstream call and those waiting for it, and
// that the hub is left as if nothing had happened.
func TestFailedUpstreamSubscribeFailsEveryWaiter(t *testing.T) {
	t.Parallel()
	const subscribers = 10
	errBroker := errors.New("broker down")
	b := newCountingBroker()
	b.gate = make(chan struct{})
	b.fail = errBroker
	h := realtime.NewHub(b, realtime.HubOptions{})
	waiting := make(chan string, subscribers)
	realtime.SetOnWait(h, func(topic string) { waiting <- topic })

	errs := make([]error, subscribers)
	var wg sync.WaitGroup
	for i := range subscribers {
		wg.Go(func() {
			s, err := h.Subscribe(t.Context(), "room:r1")
			if s != nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for range subscribers - 1 {
		select {
		case <-waiting:
		case <-timeout.C:
			close(b.gate)
			wg.Wait()
			t.Fatalf("subscribers did not wait for the pending upstream subscription")
		}
	}
	close(b.gate)
	wg.Wait()

	for i, err := range errs {
		if !errors.Is(err, errBroker) {
			t.Errorf("subscriber %d: got error %v, want %v", i, err, errBroker)
		}
	}
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 1, Live: 0})

	b.mu.Lock()
	b.fail = nil
	b.mu.Unlock()
	s := subscribe(t, h, "room:r1")
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 2, Live: 1})
	publish(t, h, "room:r1", 1)
	if got := next(t, s); got != 1 {
		t.Errorf("after the failure got seq %d, want 1", got)
	}
}

// TestWaiterOutlivesCancelledFirstSubscriber checks that a subscriber that
// gives up while making the upstream subscription does not fail the
// subscribers waiting for it: one of them makes it instead.
func TestWaiterOutlivesCancelledFirstSubscriber(t *testing.T) {
	t.Parallel()
	b := newCountingBroker()
	b.gate = make(chan struct{})
	b.entered = make(chan string, 2)
	h := realtime.NewHub(b, realtime.HubOptions{})
	waiting := make(chan string, 1)
	realtime.SetOnWait(h, func(topic string) { waiting <- topic })

	first, cancelFirst := context.WithCancel(t.Context())
	defer cancelFirst()
	firstErr := make(chan error, 1)
	go func() {
		_, err := h.Subscribe(first, "room:r1")
		firstErr <- err
	}()
	waitOn(t, b.entered, "the first upstream Subscribe")

	var waiter *realtime.Subscription
	waiterErr := make(chan error, 1)
	go func() {
		var err error
		waiter, err = h.Subscribe(t.Context(), "room:r1")
		waiterErr <- err
	}()
	waitOn(t, waiting, "the second subscriber to wait")

	cancelFirst()
	if err := waitOn(t, firstErr, "the first subscriber"); !errors.Is(err, context.Canceled) {
		t.Errorf("first subscriber: got %v, want context.Canceled", err)
	}
	waitOn(t, b.entered, "the second upstream Subscribe")
	close(b.gate)
	if err := waitOn(t, waiterErr, "the waiter"); err != nil {
		t.Fatalf("waiter: %v", err)
	}
	t.Cleanup(waiter.Close)
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 2, Live: 1})
}

func waitOn[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// TestSlowConsumerIsEndedAlone publishes in lockstep with a reading
// subscriber while another subscriber of the topic never reads.
func TestSlowConsumerIsEndedAlone(t *testing.T) {
	t.Parallel()
	const queue, envelopes = 4, 20
	b := newCountingBroker()
	h := realtime.NewHub(b, realtime.HubOptions{QueueSize: queue})
	slow := subscribe(t, h, "room:r1", "activity:r1")
	reader := subscribe(t, h, "room:r1")

	var got []int64
	for _, seq := range seqs(envelopes) {
		publish(t, h, "room:r1", seq)
		got = append(got, next(t, reader))
	}
	if diff := cmp.Diff(seqs(envelopes), got); diff != "" {
		t.Errorf("reader (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(seqs(queue), drain(t, slow)); diff != "" {
		t.Errorf("slow consumer's queued envelopes (-want +got):\n%s", diff)
	}
	if err := slow.Err(); !errors.Is(err, domain.ErrSlowConsumer) {
		t.Errorf("slow consumer Err() = %v, want %v", err, domain.ErrSlowConsumer)
	}
	select {
	case <-slow.Done():
	default:
		t.Error("slow consumer's Done is still open after the hub ended it")
	}
	select {
	case <-reader.Done():
		t.Error("reader's Done closed, but the reader kept up")
	default:
	}
	if err := reader.Err(); err != nil {
		t.Errorf("reader Err() = %v, want nil", err)
	}
	if err := slow.Add(t.Context(), "member:m1"); !errors.Is(err, domain.ErrSlowConsumer) {
		t.Errorf("Add on the ended subscription = %v, want %v", err, domain.ErrSlowConsumer)
	}

	// The ended subscription holds its topics until Close.
	b.assertUpstream(t, "activity:r1", upstream{Subscribes: 1, Live: 1})
	slow.Close()
	b.assertUpstream(t, "activity:r1", upstream{Subscribes: 1, Unsubscribes: 1, Live: 0})
	b.assertUpstream(t, "room:r1", upstream{Subscribes: 1, Live: 1})
	if err := slow.Err(); !errors.Is(err, domain.ErrSlowConsumer) {
		t.Errorf("after Close, slow consumer Err() = %v, want %v", err, domain.ErrSlowConsumer)
	}
}

// TestOnReadyTellsOfWork checks the callback a consumer without a parked
// goroutine relies on: it hears of every envelope queued after the queue was
// drained and of the subscription's end, and Pending agrees with it.
func TestOnReadyTellsOfWork(t *testing.T) {
	t.Parallel()
	const queue = 2
	h := realtime.NewHub(newCountingBroker(), realtime.HubOptions{QueueSize: queue})
	s := subscribe(t, h, "room:r1")
	if s.Pending() {
		t.Fatal("Pending() on a new subscription")
	}
	publish(t, h, "room:r1", 1)
	waitPending(t, s)

	calls := make(chan struct{}, 16)
	s.OnReady(func() { calls <- struct{}{} })
	if len(calls) != 1 {
		t.Fatalf("OnReady with an envelope queued called fn %d times, want once at once", len(calls))
	}
	<-calls
	if got := next(t, s); got != 1 {
		t.Fatalf("next = %d, want 1", got)
	}
	if s.Pending() {
		t.Fatal("Pending() after the queue was drained")
	}

	publish(t, h, "room:r1", 2)
	awaitCall(t, calls, "an envelope queued")
	if !s.Pending() {
		t.Error("Pending() = false with an envelope queued")
	}
	// One more than the queue holds ends the subscription as a slow consumer.
	publish(t, h, "room:r1", 3, 4)
	awaitCall(t, calls, "the subscription's end")
	if diff := cmp.Diff([]int64{2, 3}, drain(t, s)); diff != "" {
		t.Errorf("queued envelopes (-want +got):\n%s", diff)
	}
	if !s.Pending() {
		t.Error("Pending() = false on an ended subscription")
	}
}

// waitPending waits until s has an envelope queued.
func waitPending(t *testing.T, s *realtime.Subscription) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !s.Pending() {
		if time.Now().After(deadline) {
			t.Fatalf("no envelope queued within %v", waitFor)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitCall waits for an OnReady call caused by what.
func awaitCall(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(waitFor):
		t.Fatalf("OnReady not called for %s within %v", what, waitFor)
	}
}

func TestAddAndRemove(t *testing.T) {
	t.Parallel()
	b := newCountingBroker()
	h := realtime.NewHub(b, realtime.HubOptions{})
	s := subscribe(t, h, "room:a")

	if err := s.Add(t.Context(), "room:b"); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := s.Add(t.Context(), "room:b"); err != nil {
		t.Fatalf("second Add: %v", err)
	}
	b.assertUpstream(t, "room:b", upstream{Subscribes: 1, Live: 1})

	// Added once however often: the envelope of room:b comes once, then the
	// marker of room:a.
	publish(t, h, "room:b", 1)
	publish(t, h, "room:a", 2)
	if diff := cmp.Diff([]int64{1, 2}, nextN(t, s, 2)); diff != "" {
		t.Errorf("after Add (-want +got):\n%s", diff)
	}
	assertNothingQueued(t, s)

	s.Remove("room:a")
	s.Remove("room:a")
	s.Remove("room:never-joined")
	b.assertUpstream(t, "room:a", upstream{Subscribes: 1, Unsubscribes: 1, Live: 0})
	publish(t, h, "room:a", 3)
	publish(t, h, "room:b", 4)
	if got := next(t, s); got != 4 {
		t.Errorf("after Remove got seq %d, want 4 (the marker)", got)
	}

	s.Close()
	s.Close()
	if got := drain(t, s); len(got) != 0 {
		t.Errorf("envelopes after Close: %v", got)
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
	b.assertUpstream(t, "room:b", upstream{Subscribes: 1, Unsubscribes: 1, Live: 0})
	if err := s.Add(t.Context(), "room:c"); err == nil {
		t.Errorf("Add after Close succeeded")
	}
	b.assertUpstream(t, "room:c", upstream{})
}

// TestCloseDuringHeavyDispatch closes subscribers from many goroutines while
// publishers keep dispatching to them; run with -race. Half the subscribers
// read, half never do and may be ended as slow consumers first.
func TestCloseDuringHeavyDispatch(t *testing.T) {
	t.Parallel()
	const publishers, subscribers = 4, 200
	b := newCountingBroker()
	h := realtime.NewHub(b, realtime.HubOptions{QueueSize: 16})
	topics := []string{"room:r1", "activity:r1"}
	subs := make([]*realtime.Subscription, subscribers)
	for i := range subs {
		subs[i] = subscribe(t, h, topics...)
	}

	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			for seq := int64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := h.Publish(context.Background(), topics[p%len(topics)], event(seq)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}

	// Readers signal their first envelope, so Close surely meets dispatch.
	var readers sync.WaitGroup
	started := make(chan struct{}, subscribers)
	for _, s := range subs[:subscribers/2] {
		readers.Go(func() {
			first := true
			for {
				if _, ok := s.Receive(context.Background()); !ok {
					return
				}
				if first {
					started <- struct{}{}
					first = false
				}
			}
		})
	}
	for range subscribers / 2 {
		waitOn(t, started, "every reader's first envelope")
	}

	var closers sync.WaitGroup
	for _, s := range subs {
		closers.Go(s.Close)
	}
	closers.Wait()
	readers.Wait()
	close(stop)
	pubs.Wait()

	for i, s := range subs {
		if err := s.Err(); err != nil && !errors.Is(err, domain.ErrSlowConsumer) {
			t.Errorf("subscriber %d: Err() = %v", i, err)
		}
		drain(t, s)
	}
	for _, topic := range topics {
		b.assertUpstream(t, topic, upstream{Subscribes: 1, Unsubscribes: 1, Live: 0})
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestUndecodablePayloadIsDroppedAndLogged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
	}{
		{"truncated JSON", `{"e":{"r":"secret-room","msg":{"body":"secret text`},
		{"not JSON", `secret text`},
		{"wrong field type", `{"e":{"r":"secret-room","s":"secret text"}}`},
		{"empty envelope", `{}`},
		{"both fields", `{"e":{"r":"secret-room","s":1},"s":{"r":"secret-room","t":"TYPING"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			b := memory.New()
			h := realtime.NewHub(b, realtime.HubOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			s := subscribe(t, h, "room:r1")

			if err := b.Publish(t.Context(), "room:r1", []byte(tc.payload)); err != nil {
				t.Fatalf("raw Publish: %v", err)
			}
			publish(t, h, "room:r1", 1)

			if got := next(t, s); got != 1 {
				t.Errorf("got seq %d, want 1", got)
			}
			assertNothingQueued(t, s)
			log := logs.String()
			if !strings.Contains(log, "undecodable") {
				t.Errorf("the drop was not logged; log:\n%s", log)
			}
			if strings.Contains(log, "secret") {
				t.Errorf("the log quotes the payload:\n%s", log)
			}
		})
	}
}

func TestPublishRejectsInvalidEnvelope(t *testing.T) {
	t.Parallel()
	h := realtime.NewHub(memory.New(), realtime.HubOptions{})
	tests := []struct {
		name string
		env  realtime.Envelope
	}{
		{"empty", realtime.Envelope{}},
		{"both", realtime.Envelope{Event: &domain.Event{}, Signal: &domain.Signal{}}},
	}
	for _, tc := range tests {
		if err := h.Publish(t.Context(), "room:r1", tc.env); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: Publish = %v, want %v", tc.name, err, domain.ErrInvalid)
		}
	}
}

// TestDispatchAllocationsDoNotGrowWithSubscribers: with subscribers that
// keep up (each reads what was queued before the next publish), a publish
// allocates as much for 1,000 subscribers as for one: the envelope is shared
// and a short queue lives in the subscription itself. It measures global
// allocations, so it does not run in parallel with other tests.
func TestDispatchAllocationsDoNotGrowWithSubscribers(t *testing.T) {
	allocs := func(subscribers int) float64 {
		h := realtime.NewHub(memory.New(), realtime.HubOptions{QueueSize: 256})
		subs := make([]*realtime.Subscription, subscribers)
		for i := range subs {
			subs[i] = subscribe(t, h, "room:r1")
		}
		env := event(1)
		return testing.AllocsPerRun(100, func() {
			if err := h.Publish(context.Background(), "room:r1", env); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			for _, s := range subs {
				if _, ok := s.Next(); !ok {
					t.Fatal("a subscriber got nothing")
				}
			}
		})
	}
	one, many := allocs(1), allocs(1000)
	if many > one {
		t.Errorf("a publish allocates %v times with 1 subscriber but %v with 1,000", one, many)
	}
}

// BenchmarkHubDispatch measures one Publish through the in-process broker:
// encode, decode once, and offer to every local subscriber. The queues are
// drained with the timer stopped, so only dispatch is measured.
func BenchmarkHubDispatch(b *testing.B) {
	for _, subscribers := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", subscribers), func(b *testing.B) {
			const queue = 1024
			h := realtime.NewHub(memory.New(), realtime.HubOptions{QueueSize: queue})
			subs := make([]*realtime.Subscription, subscribers)
			for i := range subs {
				s, err := h.Subscribe(b.Context(), "room:r1")
				if err != nil {
					b.Fatalf("Subscribe: %v", err)
				}
				defer s.Close()
				subs[i] = s
			}
			env := event(1)
			ctx := context.Background()
			b.ReportAllocs()
			queued := 0
			for b.Loop() {
				if queued == queue {
					b.StopTimer()
					for _, s := range subs {
						for range queue {
							s.Next()
						}
					}
					queued = 0
					b.StartTimer()
				}
				if err := h.Publish(ctx, "room:r1", env); err != nil {
					b.Fatalf("Publish: %v", err)
				}
				queued++
			}
		})
	}
}
