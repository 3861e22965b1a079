package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// queueStep is the first size a subscription's queue grows to beyond its
// inline slots.
const queueStep = 64

// errClosed is returned by Add on a subscription that was closed.
var errClosed = errors.New("subscription closed")

// Subscription is one local subscriber of a Hub: a set of topics whose
// envelopes all go through one bounded queue, read with Next (non-blocking,
// with Ready to wait on) or Receive (blocking).
//
// Ordering: the envelopes of one topic arrive in the order the broker
// delivered them; envelopes of different topics are interleaved in no
// promised order. Duplicates: an envelope reaches a subscription at most once
// per topic it was published on, however often the topic was added. Loss: an
// envelope can be missed (the broker loses it, or it was published while the
// topic was being added or removed), so a consumer that needs every event
// detects gaps by sequence.
//
// Slow consumers: when an envelope finds the queue full, the subscription is
// ended at once: it stops receiving on every topic, the envelopes already
// queued can still be read, and Err returns an error wrapping
// domain.ErrSlowConsumer. Nobody else is delayed.
//
// Memory: the queue grows only while envelopes wait, up to the hub's queue
// size, and goes back to a few inline slots once drained, so an idle
// subscription costs no buffer however large the bound.
//
// The owner must call Close when it stops using the subscription, also after
// the hub ended it: Close is what gives the topics back, and the hub keeps an
// upstream subscription for as long as one subscription holds the topic.
type Subscription struct {
	hub   *Hub
	ready chan struct{} // one token: envelopes were queued, or the subscription ended
	done  chan struct{} // closed when the subscription ends

	// topics is guarded by Hub.mu.
	topics map[string]*membership

	// mu guards the fields below.
	mu     sync.Mutex
	queue  []*Envelope
	inline [4]*Envelope // the queue's backing array while it is short
	ended  bool         // done is closed
	closed bool         // Close was called
	err    error        // why the subscription ended, nil for Close
	notify func()       // called with every token left on ready
}

// Ready receives a value when envelopes have been queued since Next last
// found the queue empty, or when the subscription has ended. Wait on it, then
// call Next until it reports false.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// OnReady has fn called whenever Ready would receive a value: envelopes
// were queued, or the subscription ended. It lets a consumer run only while
// there is work instead of keeping a goroutine parked on Ready. If envelopes
// are queued or the subscription has ended already, fn is called at once.
// fn runs with the subscription's lock held, on the publisher's goroutine:
// it must return quickly and must not call the subscription's methods.
func (s *Subscription) OnReady(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notify = fn
	if len(s.queue) > 0 || s.ended {
		fn()
	}
}

// Pending reports whether Next has an envelope to return or the
// subscription has ended: whether a consumer woken by OnReady has work.
func (s *Subscription) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 || s.ended
}

// Next returns the next queued envelope without blocking, and false when the
// queue is empty. Every subscriber of a topic receives the same *Envelope,
// which must be treated as read-only. The envelopes queued before the
// subscription ended can still be read after it.
func (s *Subscription) Next() (*Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false
	}
	env := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = s.inline[:0] // give a grown array back to the collector
	}
	return env, true
}

// Receive returns the next envelope, waiting for one. It returns false when
// ctx is done or the subscription has ended and its queue is drained; Err then
// tells why it ended.
func (s *Subscription) Receive(ctx context.Context) (*Envelope, bool) {
	for {
		if env, ok := s.Next(); ok {
			return env, true
		}
		select {
		case <-s.ready:
		case <-s.done:
			return s.Next()
		case <-ctx.Done():
			return nil, false
		}
	}
}

// Done is closed when the subscription ends: a consumer busy elsewhere
// (blocked handing an earlier envelope on) selects on it to learn at once
// that the hub ended the subscription.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it is running and when it
// was ended by Close, otherwise an error wrapping domain.ErrSlowConsumer.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// signal leaves a token on ready unless one is there already, and tells
// the OnReady callback; mu is held.
func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
	if s.notify != nil {
		s.notify()
	}
}

// Add joins topic. It returns once the topic's upstream subscription is live,
// with the same guarantee as Hub.Subscribe, and blocks at most until ctx is
// done while another subscriber of the same topic is making it. Adding a topic
// the subscription has already joined does nothing. Add fails on a
// subscription that has ended.
func (s *Subscription) Add(ctx context.Context, topic string) error {
	s.hub.mu.Lock()
	_, joined := s.topics[topic]
	s.hub.mu.Unlock()
	if joined {
		return nil
	}
	if err := s.endedErr(); err != nil {
		return fmt.Errorf("join %s: %w", topic, err)
	}

	ts, err := s.hub.acquire(ctx, topic)
	if err != nil {
		return err
	}

	h := s.hub
	h.mu.Lock()
	_, joined = s.topics[topic] // a concurrent Add of the same topic won
	err = s.endedErr()
	if !joined && err == nil {
		m := &membership{ts: ts, sub: s}
		s.topics[topic] = m
		ts.mu.Lock()
		ts.addLocked(m)
		ts.mu.Unlock()
		h.mu.Unlock()
		return nil
	}
	last := h.releaseLocked(ts)
	h.mu.Unlock()
	if last {
		h.unsubscribeUpstream(ts)
	}
	if err != nil {
		return fmt.Errorf("join %s: %w", topic, err)
	}
	return nil
}

// Remove leaves topic; it does nothing if the subscription has not joined it.
// Envelopes of the topic already queued stay queued; none is queued after
// Remove returns (a dispatch in progress is waited for). The upstream
// subscription is dropped when this was its last local subscriber.
func (s *Subscription) Remove(topic string) {
	h := s.hub
	h.mu.Lock()
	m, joined := s.topics[topic]
	if !joined {
		h.mu.Unlock()
		return
	}
	delete(s.topics, topic)
	m.ts.mu.Lock()
	m.ts.removeLocked(m)
	m.ts.mu.Unlock()
	last := h.releaseLocked(m.ts)
	h.mu.Unlock()
	if last {
		h.unsubscribeUpstream(m.ts)
	}
}

// Close ends the subscription and leaves all its topics, dropping the upstream
// subscriptions it was the last local subscriber of. Done is closed by the
// time Close returns; envelopes still queued can be drained. Close is idempotent
// and safe to call concurrently with dispatch and with the other methods.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	if !s.ended {
		s.ended = true
		close(s.done)
		s.signal()
	}
	s.mu.Unlock()

	h := s.hub
	var drop []*topicState
	h.mu.Lock()
	for topic, m := range s.topics {
		delete(s.topics, topic)
		m.ts.mu.Lock()
		m.ts.removeLocked(m)
		m.ts.mu.Unlock()
		if h.releaseLocked(m.ts) {
			drop = append(drop, m.ts)
		}
	}
	h.mu.Unlock()
	for _, ts := range drop {
		h.unsubscribeUpstream(ts)
	}
}

// offer queues env without blocking. It reports false when the queue was full
// and the subscription has just been ended as a slow consumer, so the caller
// detaches it from its topics.
func (s *Subscription) offer(env *Envelope) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return true
	}
	if len(s.queue) >= s.hub.queueSize {
		s.ended = true
		s.err = s.hub.slowErr
		close(s.done)
		s.signal()
		return false
	}
	if len(s.queue) == cap(s.queue) {
		// Grow in few large steps: a subscriber falling behind costs a couple
		// of allocations, not one per doubling.
		grown := make([]*Envelope, len(s.queue), min(max(4*cap(s.queue), queueStep), s.hub.queueSize))
		copy(grown, s.queue)
		s.queue = grown
	}
	s.queue = append(s.queue, env)
	s.signal()
	return true
}

// endedErr returns a non-nil error if the subscription has ended.
func (s *Subscription) endedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errClosed
	case s.ended:
		return s.err
	}
	return nil
}
