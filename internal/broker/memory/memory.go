// Package memory is the in-process Broker: publish and subscribe within one
// node, for a single-machine deployment and for tests.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

var _ realtime.Broker = (*Broker)(nil)

// Broker delivers each payload published on a topic to the topic's current
// subscriptions, synchronously, inside Publish. It starts no goroutines.
//
// Guarantees: delivery is lossless and exactly once per subscription; the
// payloads of one topic are delivered one call at a time and in the order in
// which concurrent Publish calls got the topic's delivery lock (so in program
// order for one publisher); topics do not block each other.
//
// Copy semantics: deliver receives the publisher's own slice, without a copy,
// so it must treat payload as read-only and must not keep it after it
// returns; in exchange the publisher may reuse its slice as soon as Publish
// returns, because by then every delivery has finished.
type Broker struct {
	mu     sync.Mutex // guards topics and every topic's subs writes
	topics map[string]*topic
}

// topic holds the subscriptions of one topic.
type topic struct {
	// deliverMu is held for a whole Publish, which serialises the deliveries of
	// the topic and keeps them in order; holding it is cheap because deliver
	// never blocks. It is never taken while holding Broker.mu, so a deliver
	// function may publish on another topic.
	deliverMu sync.Mutex
	// subs is replaced, never modified, under Broker.mu, so Publish reads it
	// without taking Broker.mu and Subscribe never waits for a delivery.
	subs atomic.Pointer[[]*subscription]
}

// subscription is one Subscribe call; its identity is what unsubscribe removes.
type subscription struct {
	h realtime.Handler
}

// New returns an empty Broker.
func New() *Broker {
	return &Broker{topics: make(map[string]*topic)}
}

// Publish delivers payload to every subscription of topicName and returns
// when all of them have been called. Publishing on a topic nobody subscribes
// to does nothing. It fails only when ctx is already done.
func (b *Broker) Publish(ctx context.Context, topicName string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish on %s: %w", topicName, err)
	}
	b.mu.Lock()
	t := b.topics[topicName]
	b.mu.Unlock()
	if t == nil {
		return nil
	}
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	for _, s := range *t.subs.Load() {
		s.h.Deliver(payload)
	}
	return nil
}

// Subscribe registers h for topicName; it never calls h.Resync, since
// nothing is lost in process. Every Publish that starts after
// Subscribe returns reaches it; Subscribe itself never waits for a delivery in
// progress. The returned unsubscribe is idempotent; once it returns, no
// delivery to deliver is in progress and none will start. Because it waits
// for a delivery of the topic in progress, unsubscribe must not be called from
// inside a deliver function of the same topic.
func (b *Broker) Subscribe(ctx context.Context, topicName string, h realtime.Handler) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", topicName, err)
	}
	s := &subscription{h: h}
	b.mu.Lock()
	t := b.topics[topicName]
	if t == nil {
		t = &topic{}
		t.subs.Store(&[]*subscription{})
		b.topics[topicName] = t
	}
	subs := append(slices.Clip(*t.subs.Load()), s)
	t.subs.Store(&subs)
	b.mu.Unlock()

	var once sync.Once
	return func() { once.Do(func() { b.unsubscribe(topicName, t, s) }) }, nil
}

// unsubscribe removes s from t, forgets t once it has no subscription left (so
// that a node cycling through many topics does not grow the map forever), and
// then waits for a delivery of t that may still be using the old list.
func (b *Broker) unsubscribe(topicName string, t *topic, s *subscription) {
	b.mu.Lock()
	old := *t.subs.Load()
	if i := slices.Index(old, s); i >= 0 {
		subs := slices.Delete(slices.Clone(old), i, i+1)
		t.subs.Store(&subs)
		if len(subs) == 0 && b.topics[topicName] == t {
			delete(b.topics, topicName)
		}
	}
	b.mu.Unlock()

	// A Publish that loaded the old list holds deliverMu until it is done;
	// every later one loads the new list.
	t.deliverMu.Lock()
	t.deliverMu.Unlock() //nolint:staticcheck // SA2001: the empty critical section is the point: it waits.
}
