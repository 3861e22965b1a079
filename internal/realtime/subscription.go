package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// errClosed is returned by Add on a subscription that was closed.
var errClosed = errors.New("subscription closed")

// Subscription is one local subscriber of a Hub: a set of topics whose
// envelopes all go through one bounded queue, read from C.
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
// ended at once: it stops receiving on every topic, C is closed after the
// envelopes already queued, and Err returns an error wrapping
// domain.ErrSlowConsumer. Nobody else is delayed.
//
// The owner must call Close when it stops using the subscription, also after
// the hub ended it: Close is what gives the topics back, and the hub keeps an
// upstream subscription for as long as one subscription holds the topic.
type Subscription struct {
	hub  *Hub
	ch   chan *Envelope
	done chan struct{} // closed with ch: lets a producer blocked elsewhere notice the end

	// topics is guarded by Hub.mu.
	topics map[string]*membership

	// mu guards the fields below and every send on and the close of ch, so a
	// send can never meet a closed channel.
	mu     sync.Mutex
	ended  bool  // ch is closed
	closed bool  // Close was called
	err    error // why the subscription ended, nil for Close
}

// C returns the queue of the subscription. Every subscriber of a topic
// receives the same *Envelope, which must be treated as read-only. C is closed
// when the subscription ends, by Close or by the hub.
func (s *Subscription) C() <-chan *Envelope { return s.ch }

// Done is closed when the subscription ends, like C, but without holding
// envelopes: a consumer busy elsewhere (blocked handing an earlier envelope
// on) selects on it to learn at once that the hub ended the subscription.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it is running and when it
// was ended by Close, otherwise an error wrapping domain.ErrSlowConsumer. Call
// it after C is closed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
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
// subscriptions it was the last local subscriber of. C is closed by the time
// Close returns; envelopes still queued can be drained. Close is idempotent
// and safe to call concurrently with dispatch and with the other methods.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	if !s.ended {
		s.ended = true
		close(s.ch)
		close(s.done)
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
	select {
	case s.ch <- env:
		return true
	default:
		s.ended = true
		s.err = s.hub.slowErr
		close(s.ch)
		close(s.done)
		return false
	}
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
