package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// DefaultQueueSize is the queue length of a subscription when HubOptions
// leaves it zero.
const DefaultQueueSize = 1024

// subscribeConcurrency bounds how many topics one Subscribe joins at once, so
// that a member of hundreds of rooms connects in a few broker round trips
// without flooding the broker.
const subscribeConcurrency = 16

// HubOptions configures a Hub.
type HubOptions struct {
	// QueueSize is the number of envelopes a subscription may have waiting
	// before it is ended as a slow consumer; DefaultQueueSize when zero.
	QueueSize int
	// Logger receives the hub's warnings; slog.Default() when nil.
	Logger *slog.Logger
	// OnSlowConsumers is told how many subscriptions were just ended as slow
	// consumers, for metrics; nil does nothing. It must not block.
	OnSlowConsumers func(n int)
}

// Hub is the real-time fan-out of one node. It multiplexes any number of
// local subscriptions onto one Broker subscription per topic, decodes each
// payload once, and hands the same *Envelope to every local subscriber of the
// topic through that subscriber's bounded queue. A subscriber that lets its
// queue fill up is ended (see Subscription) rather than allowed to slow down
// the broker or the other subscribers.
//
// A Hub starts no goroutines of its own and needs no closing; it is safe for
// concurrent use.
type Hub struct {
	broker    Broker
	queueSize int
	log       *slog.Logger
	slowErr   error // shared by every slow consumer, so ending one does not allocate
	onSlow    func(n int)

	// mu guards topics, every topicState's refs and lifecycle fields, and every
	// Subscription's topics map. It is never held while calling the broker.
	// Lock order: Hub.mu, then topicState.mu, then Subscription.mu.
	mu     sync.Mutex
	topics map[string]*topicState

	onWait func(topic string) // test hook: a subscriber waits for a pending upstream subscription
}

// NewHub returns a Hub over b.
func NewHub(b Broker, opts HubOptions) *Hub {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Hub{
		broker:    b,
		queueSize: opts.QueueSize,
		log:       opts.Logger,
		slowErr:   domain.Errorf(domain.ErrSlowConsumer, "subscription fell more than %d events behind and was ended", opts.QueueSize),
		onSlow:    opts.OnSlowConsumers,
		topics:    make(map[string]*topicState),
	}
}

// Publish encodes env once and publishes it on topic through the broker. It
// returns when the broker has accepted it, which for the in-process broker is
// after every local subscriber has been offered it. The envelopes one caller
// publishes on one topic reach each subscriber in that order. Exactly one of
// env's fields must be set.
func (h *Hub) Publish(ctx context.Context, topic string, env Envelope) error {
	if !env.valid() {
		return domain.Errorf(domain.ErrInvalid, "an envelope carries exactly one event, signal or notification")
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode envelope for %s: %w", topic, err)
	}
	if err := h.broker.Publish(ctx, topic, payload); err != nil {
		return fmt.Errorf("publish on %s: %w", topic, err)
	}
	return nil
}

// Subscribe returns a subscription to topics (possibly none; see
// Subscription.Add). It returns once the upstream broker subscription of every
// topic is live, so every envelope published on them after Subscribe returns
// reaches the subscription (unless the broker loses it or the subscription
// ends). ctx bounds only this call: the subscription lasts until Close.
//
// If joining any topic fails, Subscribe releases the topics it had joined and
// returns the error. A failure of the broker's Subscribe is returned to every
// caller that was waiting for the same upstream subscription, except when it
// failed only because the caller making it gave up (its ctx ended): then a
// waiter whose ctx is still live makes the upstream subscription itself.
func (h *Hub) Subscribe(ctx context.Context, topics ...string) (*Subscription, error) {
	s := &Subscription{
		hub:    h,
		ready:  make(chan struct{}, 1),
		done:   make(chan struct{}),
		topics: make(map[string]*membership, len(topics)),
	}
	s.queue = s.inline[:0]
	var err error
	if len(topics) <= 1 {
		for _, topic := range topics {
			err = s.Add(ctx, topic)
		}
	} else {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(subscribeConcurrency)
		for _, topic := range topics {
			g.Go(func() error { return s.Add(gctx, topic) })
		}
		err = g.Wait()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// topicState is the hub's side of one topic: the upstream subscription and
// the local subscribers. Its lifecycle is pending (ready open) → live → closing
// (done open) → gone, or pending → failed.
type topicState struct {
	hub  *Hub
	name string

	// Guarded by Hub.mu.
	refs        int           // subscriptions holding the topic, including ended ones not yet closed
	ready       chan struct{} // closed when the upstream Subscribe has returned
	err         error         // why the upstream Subscribe failed; read after ready is closed
	retryable   bool          // err came from the creator's own context, not from the broker
	unsubscribe func()        // set when live
	done        chan struct{} // non-nil while closing; closed once unsubscribed

	// mu guards members and every membership's idx. deliver holds it while
	// offering an envelope to the members.
	mu      sync.Mutex
	members []*membership
}

// membership is one subscription's place in one topic.
type membership struct {
	ts  *topicState
	sub *Subscription
	idx int // position in ts.members, or -1 when not dispatched to
}

// acquire returns the live topicState of topic with one reference taken for
// the caller, making the upstream subscription if the topic has none. Exactly
// one caller makes it; the others wait for it. The caller gives the reference
// back with release.
func (h *Hub) acquire(ctx context.Context, topic string) (*topicState, error) {
	for {
		h.mu.Lock()
		ts := h.topics[topic]
		switch {
		case ts == nil:
			ts = &topicState{hub: h, name: topic, refs: 1, ready: make(chan struct{})}
			h.topics[topic] = ts
			h.mu.Unlock()
			if err := h.subscribeUpstream(ctx, ts); err != nil {
				return nil, err
			}
			return ts, nil

		case ts.done != nil:
			// The last subscriber left and the upstream subscription is being
			// dropped; a new one must not overlap it (a network broker could
			// apply the old unsubscribe after the new subscribe).
			done := ts.done
			h.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("subscribe to %s: %w", topic, context.Cause(ctx))
			}

		default:
			ts.refs++
			ready := ts.ready
			h.mu.Unlock()
			select {
			case <-ready:
			default:
				if h.onWait != nil {
					h.onWait(topic)
				}
				select {
				case <-ready:
				case <-ctx.Done():
					h.release(ts)
					return nil, fmt.Errorf("subscribe to %s: %w", topic, context.Cause(ctx))
				}
			}
			if ts.err == nil {
				return ts, nil
			}
			// The failed topicState is already out of the map; the reference
			// taken on it needs no release.
			if ts.retryable && ctx.Err() == nil {
				// Only the subscriber that made the upstream call gave up; this
				// one still wants the topic, so it tries itself.
				continue
			}
			return nil, ts.err
		}
	}
}

// subscribeUpstream makes the broker subscription of a new topicState and
// publishes the outcome to the waiters by closing ready. On failure the
// topicState leaves the map, so the next subscriber starts afresh.
func (h *Hub) subscribeUpstream(ctx context.Context, ts *topicState) error {
	unsubscribe, err := h.broker.Subscribe(ctx, ts.name, ts)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		ts.err = fmt.Errorf("subscribe to %s: %w", ts.name, err)
		ts.retryable = ctx.Err() != nil
		delete(h.topics, ts.name)
		close(ts.ready)
		return ts.err
	}
	ts.unsubscribe = unsubscribe
	close(ts.ready)
	return nil
}

// release gives back a reference taken by acquire, and drops the upstream
// subscription with the last one.
func (h *Hub) release(ts *topicState) {
	h.mu.Lock()
	last := h.releaseLocked(ts)
	h.mu.Unlock()
	if last {
		h.unsubscribeUpstream(ts)
	}
}

// releaseLocked gives back a reference with h.mu held and reports whether the
// caller must now call unsubscribeUpstream (outside the lock).
func (h *Hub) releaseLocked(ts *topicState) bool {
	ts.refs--
	if ts.refs > 0 || ts.unsubscribe == nil || ts.done != nil {
		return false
	}
	ts.done = make(chan struct{})
	return true
}

// unsubscribeUpstream drops the broker subscription of a topicState whose last
// reference is gone. It runs outside h.mu because a broker's unsubscribe may
// wait for a delivery in progress, and that delivery may need h.mu.
func (h *Hub) unsubscribeUpstream(ts *topicState) {
	ts.unsubscribe()
	h.mu.Lock()
	if h.topics[ts.name] == ts {
		delete(h.topics, ts.name)
	}
	close(ts.done)
	h.mu.Unlock()
}

// Deliver is the broker's delivery of the topic. It decodes payload once
// into an Envelope that every member shares, offers it to each member
// without blocking, and ends the members whose queue is full. It allocates
// nothing per member.
func (ts *topicState) Deliver(payload []byte) {
	env := new(Envelope)
	if err := json.Unmarshal(payload, env); err != nil || !env.valid() {
		// The payload is not logged: it may carry message content.
		ts.hub.log.Warn("realtime: dropped an undecodable payload",
			slog.String("topic", ts.name),
			slog.Int("bytes", len(payload)),
			slog.String("error", decodeErrorKind(err)))
		return
	}
	ts.offer(env)
}

// Resync tells every member that envelopes of the topic may have been lost.
func (ts *topicState) Resync() {
	ts.offer(&Envelope{Resync: ts.name})
}

// offer hands env to every member, ending those whose queue is full.
func (ts *topicState) offer(env *Envelope) {
	var slow []*Subscription
	ts.mu.Lock()
	for _, m := range ts.members {
		if !m.sub.offer(env) {
			slow = append(slow, m.sub)
		}
	}
	ts.mu.Unlock()
	if len(slow) > 0 {
		ts.hub.detach(ts.name, slow)
	}
}

// decodeErrorKind describes a decoding failure without quoting the payload,
// which a json error message may do.
func decodeErrorKind(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "not exactly one of event and signal"
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("wrong JSON type for field %q", typ.Field)
	default:
		return fmt.Sprintf("%T", err)
	}
}

// detach stops dispatching to subscriptions ended as slow consumers, on every
// topic they had joined. Their references stay taken until their owner calls
// Close, because deliver must not call the broker's unsubscribe.
func (h *Hub) detach(topic string, subs []*Subscription) {
	h.mu.Lock()
	for _, s := range subs {
		for _, m := range s.topics {
			m.ts.mu.Lock()
			m.ts.removeLocked(m)
			m.ts.mu.Unlock()
		}
	}
	h.mu.Unlock()
	if h.onSlow != nil {
		h.onSlow(len(subs))
	}
	h.log.Warn("realtime: ended slow subscriptions",
		slog.String("topic", topic),
		slog.Int("count", len(subs)),
		slog.Int("queue_size", h.queueSize))
}

// addLocked starts dispatching to m; ts.mu is held.
func (ts *topicState) addLocked(m *membership) {
	m.idx = len(ts.members)
	ts.members = append(ts.members, m)
}

// removeLocked stops dispatching to m, if it still is; ts.mu is held. The
// order of members does not matter, so the last one fills the gap.
func (ts *topicState) removeLocked(m *membership) {
	if m.idx < 0 {
		return
	}
	last := len(ts.members) - 1
	moved := ts.members[last]
	ts.members[m.idx] = moved
	moved.idx = m.idx
	ts.members[last] = nil
	ts.members = ts.members[:last]
	m.idx = -1
}

// valid reports whether exactly one of the envelope's published fields is
// set.
func (e *Envelope) valid() bool {
	n := 0
	for _, set := range []bool{e.Event != nil, e.Signal != nil, e.Notification != nil} {
		if set {
			n++
		}
	}
	return n == 1
}
