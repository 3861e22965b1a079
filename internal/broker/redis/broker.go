// Package redis is the realtime.Broker adapter over Redis pub/sub, for
// nodes that share one Redis server (PUBLISH/SUBSCRIBE) or a Redis Cluster
// (sharded pub/sub: SPUBLISH/SSUBSCRIBE, so topics spread over the masters).
//
// A Broker holds one pub/sub connection per Redis server it listens to: one
// for a single server, one per master that owns a subscribed topic's slot in
// a cluster. Each connection has one reader goroutine, which delivers every
// payload of the connection's topics in the order Redis sent them.
//
// Subscribe returns only when Redis has confirmed the subscription: it sends
// the SUBSCRIBE, then a PING on the same connection, and waits for the PONG,
// which Redis sends after it has processed the SUBSCRIBE; the reader then
// checks that Redis did confirm the channel (in a cluster a SSUBSCRIBE sent to
// a node that no longer owns the slot fails with MOVED instead).
//
// Loss: go-redis re-establishes a broken pub/sub connection and subscribes
// again to every channel, but what was published in between is gone. The
// reader recognises the re-subscription by Redis confirming a channel that was
// already live, and calls that topic's Handler.Resync, after which every
// publish is delivered again. A connection that dies silently (no RST, no
// FIN) is noticed only by TCP keepalive, which go-redis's dialer enables
// (minutes, not seconds); the broker sends no heartbeats of its own.
//
// Resharding (cluster): when a slot moves, the old owner drops the shard
// channels of the slot and says so with an unsolicited sunsubscribe. The
// broker then subscribes the topic on the new owner (found through the
// cluster client's refreshed slot map), verifies it as above and calls
// Resync. A SSUBSCRIBE answered with MOVED (a stale slot map) is retried on
// the refreshed map. A connection that fails makes the broker re-check where
// each topic belongs, so when a master dies and a replica takes over its
// slots, the topics move to the replica, with Resync. The same check, on a
// single server too, subscribes again any live topic that Redis did not
// confirm after a reconnect. Payloads published on a topic while it moves
// are lost and covered by Resync; a topic whose new owner cannot be reached
// is retried with backoff (up to 2 s apart) until it can, or until it is
// unsubscribed. While a slot is MIGRATING, Redis keeps serving its shard
// channels on the old owner, so there is nothing to do until the
// sunsubscribe. Not detected: an old master cut off from the cluster but not
// from this node keeps this node's subscription while publishers move to the
// promoted replica; the topic then misses payloads, without Resync, until
// that master drops the subscription or the connection to it fails. Tested
// against a real cluster: a slot moved between masters, a master killed and
// restarted in place, and the contract suite; a failover to a replica is not.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

var _ realtime.Broker = (*Broker)(nil)

// Options configures a Broker.
type Options struct {
	// Logger receives the broker's warnings (a lost connection, a topic moved
	// to another master); slog.Default() when nil.
	Logger *slog.Logger
	// OnReconnect is called each time a lost pub/sub connection is
	// re-established, for metrics; nil does nothing. It must not block.
	OnReconnect func()
}

// Broker is a realtime.Broker over Redis pub/sub. It is safe for concurrent
// use. Close stops its goroutines and closes its pub/sub connections; the
// Redis client stays the caller's.
type Broker struct {
	log         *slog.Logger
	onReconnect func()
	flavor      flavor
	publish     func(ctx context.Context, channel string, message any) *goredis.IntCmd
	cluster     *goredis.ClusterClient // nil for a single server

	ctx    context.Context // ends with Close; bounds the rebalancer's work
	cancel context.CancelFunc
	stop   <-chan struct{} // ctx.Done()
	kick   chan struct{}   // one pending request for a placement check
	wg     sync.WaitGroup  // the readers and the rebalancer

	// mu guards the fields below, every topic's placement fields and every
	// shard's bookkeeping. It is never held while talking to Redis or calling
	// a Handler.
	mu     sync.Mutex
	closed bool
	topics map[string]*topic
	single *shard            // the only shard of a single server; never idle
	shards map[string]*shard // by server address
}

// New returns a Broker over one Redis server (or a Sentinel-less primary)
// using PUBLISH and SUBSCRIBE. All its subscriptions share one pub/sub
// connection, opened at once in the background.
func New(client *goredis.Client, opts Options) *Broker {
	b := newBroker(opts, plain, client.Publish, nil)
	b.mu.Lock()
	b.single = b.newShardLocked(client.Options().Addr, client.Subscribe(context.Background()))
	b.shards[b.single.addr] = b.single
	b.mu.Unlock()
	b.wg.Add(1)
	go b.rebalancer()
	return b
}

// NewCluster returns a Broker over a Redis Cluster using sharded pub/sub
// (SPUBLISH, SSUBSCRIBE). It keeps one pub/sub connection per master that
// owns a subscribed topic, and moves topics when their slots move (see the
// package comment).
func NewCluster(client *goredis.ClusterClient, opts Options) *Broker {
	b := newBroker(opts, sharded, client.SPublish, client)
	b.wg.Add(1)
	go b.rebalancer()
	return b
}

func newBroker(opts Options, f flavor, publish func(context.Context, string, any) *goredis.IntCmd, cluster *goredis.ClusterClient) *Broker {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{
		log:         opts.Logger,
		onReconnect: opts.OnReconnect,
		flavor:      f,
		publish:     publish,
		cluster:     cluster,
		ctx:         ctx,
		cancel:      cancel,
		stop:        ctx.Done(),
		kick:        make(chan struct{}, 1),
		topics:      make(map[string]*topic),
		shards:      make(map[string]*shard),
	}
}

// Publish sends payload to the subscribers of topic on every node. It returns
// once Redis has accepted it; Redis is done with payload by then, so the
// caller may reuse it. A Redis that does not answer yields an error wrapping
// domain.ErrUnavailable.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := b.publish(ctx, topic, payload).Err(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("publish on %s: %w", topic, context.Cause(ctx))
		}
		return unavailable("publish on "+topic, err)
	}
	return nil
}

// Subscribe starts delivering the payloads published on topic to h. It
// returns once Redis has confirmed the subscription, so every later Publish
// reaches h (unless Redis loses it, which h.Resync reports). Several
// subscriptions of one topic on one Broker share one Redis subscription.
//
// h is called from the reader goroutine of the topic's connection, one call
// at a time and in order; it must not block, and must not call the returned
// unsubscribe of its own topic (that waits for the delivery in progress). The
// returned unsubscribe is idempotent; once it returns, h is not called again.
// When the last subscription of a topic ends, the broker sends UNSUBSCRIBE.
func (b *Broker) Subscribe(ctx context.Context, topicName string, h realtime.Handler) (func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("subscribe to %s: %w", topicName, context.Cause(ctx))
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, domain.Errorf(domain.ErrUnavailable, "subscribe to %s: the broker is closed", topicName)
		}
		t := b.topics[topicName]
		if t != nil && t.closing {
			// The topic's last subscription ended, or its first placement
			// failed; its UNSUBSCRIBE must reach Redis before a new SUBSCRIBE.
			gone := t.gone
			b.mu.Unlock()
			select {
			case <-gone:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("subscribe to %s: %w", topicName, context.Cause(ctx))
			}
		}
		creator := t == nil
		if creator {
			t = newTopic(topicName)
			b.topics[topicName] = t
		}
		t.refs++
		s := &subscription{h: h}
		t.addLocked(s)
		b.mu.Unlock()

		err := b.join(ctx, t, creator)
		if err == nil {
			var once sync.Once
			return func() { once.Do(func() { b.release(t, s) }) }, nil
		}
		b.release(t, s)
		var retry *retryError
		if errors.As(err, &retry) {
			continue
		}
		return nil, err
	}
}

// retryError is what a subscriber that waited for another one's placement
// gets when that placement failed only because its maker gave up: the
// subscriber tries again itself.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }

func (e *retryError) Unwrap() error { return e.err }

// join makes t's first placement (creator) or waits for it.
func (b *Broker) join(ctx context.Context, t *topic, creator bool) error {
	if creator {
		t.placeMu.Lock()
		err := b.place(ctx, t)
		b.mu.Lock()
		if err != nil {
			t.err = err
			t.retryable = ctx.Err() != nil
			t.closing = true // latecomers wait for it to go, then start afresh
		}
		close(t.ready)
		b.mu.Unlock()
		t.placeMu.Unlock()
		return err
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return fmt.Errorf("subscribe to %s: %w", t.name, context.Cause(ctx))
	}
	// t.err and t.retryable were written before ready was closed.
	if t.err == nil {
		return nil
	}
	if t.retryable && ctx.Err() == nil {
		return &retryError{t.err}
	}
	return t.err
}

// release ends subscription s of t. With t's last subscription it drops the
// Redis subscription.
func (b *Broker) release(t *topic, s *subscription) {
	b.mu.Lock()
	t.removeLocked(s)
	t.refs--
	last := t.refs == 0
	if last {
		t.closing = true
	}
	b.mu.Unlock()

	// A delivery that loaded the old list holds deliverMu until it is done;
	// every later one loads the new list.
	t.deliverMu.Lock()
	t.deliverMu.Unlock() //nolint:staticcheck // SA2001: the empty critical section is the point: it waits.

	if last {
		b.drop(t)
	}
}

// drop unsubscribes t in Redis and forgets it.
func (b *Broker) drop(t *topic) {
	t.placeMu.Lock()
	defer t.placeMu.Unlock()
	b.mu.Lock()
	sh := t.shard
	b.detachLocked(t)
	b.mu.Unlock()
	if sh != nil {
		if err := b.flavor.unsubscribe(context.Background(), sh.ps, t.name); err != nil {
			// go-redis has already taken the channel out of the set it
			// re-subscribes to, and a broken connection holds no
			// subscriptions, so nothing stays subscribed.
			b.log.Debug("redis broker: unsubscribe failed", slog.String("topic", t.name), slog.Any("error", err))
		}
	}
	b.mu.Lock()
	if b.topics[t.name] == t {
		delete(b.topics, t.name)
	}
	close(t.gone)
	b.mu.Unlock()
}

// Close stops the readers and the rebalancer and closes the pub/sub
// connections. Subscriptions end without Resync; unsubscribe functions may
// still be called. The Redis client is not closed: it is the caller's.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var shards []*shard
	for _, sh := range b.shards {
		shards = append(shards, sh)
	}
	for _, sh := range shards {
		sh.closed = true
	}
	b.mu.Unlock()

	b.cancel()
	var errs []error
	for _, sh := range shards {
		if err := sh.ps.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			errs = append(errs, fmt.Errorf("close pub/sub connection to %s: %w", sh.addr, err))
		}
	}
	b.wg.Wait()
	return errors.Join(errs...)
}

// isClosed reports whether Close has been called.
func (b *Broker) isClosed() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// unavailable wraps a Redis failure as domain.ErrUnavailable, keeping the
// cause for logs and errors.Is.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
}

// flavor is what differs between plain and sharded pub/sub.
type flavor struct {
	subscribed   string // the confirmation kind of a subscription
	unsubscribed string // the confirmation kind of an unsubscription
	subscribe    func(ctx context.Context, ps *goredis.PubSub, channel string) error
	unsubscribe  func(ctx context.Context, ps *goredis.PubSub, channel string) error
}

var (
	plain = flavor{
		subscribed:   "subscribe",
		unsubscribed: "unsubscribe",
		subscribe:    func(ctx context.Context, ps *goredis.PubSub, ch string) error { return ps.Subscribe(ctx, ch) },
		unsubscribe:  func(ctx context.Context, ps *goredis.PubSub, ch string) error { return ps.Unsubscribe(ctx, ch) },
	}
	sharded = flavor{
		subscribed:   "ssubscribe",
		unsubscribed: "sunsubscribe",
		subscribe:    func(ctx context.Context, ps *goredis.PubSub, ch string) error { return ps.SSubscribe(ctx, ch) },
		unsubscribe:  func(ctx context.Context, ps *goredis.PubSub, ch string) error { return ps.SUnsubscribe(ctx, ch) },
	}
)
