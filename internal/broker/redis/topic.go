package redis

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

// topic is one Redis channel the Broker is subscribed to, shared by all the
// local subscriptions of that channel. Its lifecycle: placing (ready open) →
// live → closing → gone, or placing → failed (closing) → gone. A topic stays
// in Broker.topics until its UNSUBSCRIBE has been sent, so a later
// subscription of the same channel cannot overtake it.
type topic struct {
	name string
	gone chan struct{} // closed once the topic has left Broker.topics

	// placeMu serialises everything the broker sends to Redis about this
	// channel (the first placement, moves, the final unsubscribe), so the
	// commands reach Redis in the order they were decided.
	placeMu sync.Mutex

	// Guarded by Broker.mu.
	refs      int
	ready     chan struct{} // closed when the first placement has finished
	err       error         // why the first placement failed; read after ready
	retryable bool          // err came from the placing caller's own context
	closing   bool          // the last subscription ended or placement failed
	shard     *shard        // the connection the channel is (being) subscribed on
	live      bool          // Redis confirmed it on shard and has not dropped it since
	lost      bool          // Redis dropped it or refused it: the rebalancer moves it

	// deliverMu is held for each delivery, which serialises the calls to the
	// handlers and keeps them in order, even while the topic moves from one
	// connection to another. It is never held with Broker.mu.
	deliverMu sync.Mutex
	// subs is replaced, never modified, under Broker.mu, so a delivery reads
	// it without Broker.mu.
	subs atomic.Pointer[[]*subscription]
}

// subscription is one Subscribe call; its identity is what unsubscribe removes.
type subscription struct {
	h realtime.Handler
}

func newTopic(name string) *topic {
	t := &topic{name: name, gone: make(chan struct{}), ready: make(chan struct{})}
	t.subs.Store(&[]*subscription{})
	return t
}

// addLocked adds s; Broker.mu is held.
func (t *topic) addLocked(s *subscription) {
	subs := append(slices.Clip(*t.subs.Load()), s)
	t.subs.Store(&subs)
}

// removeLocked removes s if it is there; Broker.mu is held.
func (t *topic) removeLocked(s *subscription) {
	old := *t.subs.Load()
	if i := slices.Index(old, s); i >= 0 {
		subs := slices.Delete(slices.Clone(old), i, i+1)
		t.subs.Store(&subs)
	}
}

// deliver hands payload to every subscription, one topic delivery at a time.
func (t *topic) deliver(payload []byte) {
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	for _, s := range *t.subs.Load() {
		s.h.Deliver(payload)
	}
}

// resync tells every subscription that payloads may have been lost.
func (t *topic) resync() {
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	for _, s := range *t.subs.Load() {
		s.h.Resync()
	}
}
