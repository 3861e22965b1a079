package redis

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// pingPrefix marks the PINGs the broker sends as barriers.
const pingPrefix = "nordkapp42-barrier:"

// Backoff of a reader whose connection keeps failing, so that a Redis that is
// down is not dialled in a tight loop.
const (
	minReconnectWait = 50 * time.Millisecond
	maxReconnectWait = 2 * time.Second
)

// shard is one pub/sub connection to one Redis server and the goroutine that
// reads it.
//
// The barrier: replies on one connection come back in the order of the
// commands, so when the PONG of a PING arrives, Redis has processed every
// command written on that connection before the PING. If the connection was
// replaced in between, go-redis wrote a SUBSCRIBE of every channel it tracks
// on the new connection before anything else, and a channel is tracked from
// the moment its SUBSCRIBE was written. Hence the PONG of any PING written
// after a channel's SUBSCRIBE returned proves that Redis has processed a
// subscription of the channel on the current connection; whether Redis
// accepted it is in confirmed, which the reader has updated by then.
type shard struct {
	b    *Broker
	addr string
	ps   *goredis.PubSub

	// Guarded by Broker.mu.
	closed    bool                  // Close or the rebalancer closed ps
	topics    map[string]*topic     // the topics placed on this connection
	confirmed map[string]bool       // channels Redis confirmed on the current connection
	waiters   map[uint64]chan error // barriers waiting for a PONG, by PING number
	lastPing  uint64                // the number of the last barrier PING
}

// newShardLocked starts the reader of a new shard over ps; Broker.mu is held.
func (b *Broker) newShardLocked(addr string, ps *goredis.PubSub) *shard {
	sh := &shard{
		b:         b,
		addr:      addr,
		ps:        ps,
		topics:    make(map[string]*topic),
		confirmed: make(map[string]bool),
		waiters:   make(map[uint64]chan error),
	}
	b.wg.Add(1)
	go sh.read()
	return sh
}

// read receives from the connection until the shard is closed: payloads go to
// their topic, confirmations to confirmed, PONGs to the barriers.
func (sh *shard) read() {
	defer sh.b.wg.Done()
	failures := 0 // consecutive failed reads
	for {
		msg, err := sh.ps.Receive(context.Background())
		if err != nil {
			if sh.isClosed() {
				return
			}
			var reply goredis.Error
			if errors.As(err, &reply) {
				// A command on the connection failed (MOVED for a SSUBSCRIBE
				// on a node that lost the slot); the connection is fine. The
				// barrier of that subscription sees it unconfirmed.
				sh.b.log.Debug("redis broker: pub/sub command failed", slog.String("addr", sh.addr), slog.Any("error", err))
				sh.b.requestCheck()
				continue
			}
			failures++
			if failures == 1 {
				sh.connectionLost(err)
			}
			if failures > 1 && !sh.wait(backoff(failures-1, minReconnectWait, maxReconnectWait)) {
				return
			}
			sh.repingWaiters()
			continue
		}
		if failures > 0 {
			failures = 0
			sh.b.log.Info("redis broker: pub/sub connection re-established", slog.String("addr", sh.addr))
			if sh.b.onReconnect != nil {
				sh.b.onReconnect()
			}
		}
		switch m := msg.(type) {
		case *goredis.Message:
			sh.deliver(m.Channel, m.Payload)
		case *goredis.Subscription:
			sh.confirmation(m)
		case *goredis.Pong:
			sh.pong(m.Payload)
		}
	}
}

// isClosed reports whether the shard's connection was closed on purpose.
func (sh *shard) isClosed() bool {
	sh.b.mu.Lock()
	defer sh.b.mu.Unlock()
	return sh.closed
}

// wait sleeps for d unless the broker closes first; it reports whether the
// reader should go on.
func (sh *shard) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return !sh.isClosed()
	case <-sh.b.stop:
		return false
	}
}

// connectionLost records that the connection broke: whatever Redis had
// confirmed on it is gone, and go-redis subscribes again on a new one.
func (sh *shard) connectionLost(err error) {
	b := sh.b
	b.mu.Lock()
	clear(sh.confirmed)
	b.mu.Unlock()
	b.log.Warn("redis broker: pub/sub connection lost; its topics resync once it is back",
		slog.String("addr", sh.addr), slog.Any("error", err))
	// In a cluster the master may be gone for good, its slots served by a
	// promoted replica elsewhere.
	b.requestCheck()
}

// repingWaiters sends a new barrier PING when barriers are waiting: their own
// PINGs may have been lost with the connection. If it cannot be sent, Redis is
// unreachable and the waiting subscriptions fail.
func (sh *shard) repingWaiters() {
	b := sh.b
	b.mu.Lock()
	if len(sh.waiters) == 0 {
		b.mu.Unlock()
		return
	}
	sh.lastPing++
	n := sh.lastPing
	b.mu.Unlock()
	if err := sh.ps.Ping(context.Background(), pingPrefix+strconv.FormatUint(n, 10)); err != nil {
		sh.failWaiters(unavailable("confirm subscriptions on "+sh.addr, err))
	}
}

// deliver hands a payload to its topic, if the topic is still placed here.
func (sh *shard) deliver(channel, payload string) {
	b := sh.b
	b.mu.Lock()
	t := sh.topics[channel]
	b.mu.Unlock()
	if t != nil {
		t.deliver([]byte(payload))
	}
}

// confirmation records what Redis says about a channel. A confirmation of a
// channel that is already live means go-redis subscribed again after a
// reconnect: payloads may have been lost, and the topic resyncs. A server's
// unsubscription of a live channel means its slot moved to another master.
func (sh *shard) confirmation(m *goredis.Subscription) {
	b := sh.b
	subscribed := m.Kind == b.flavor.subscribed
	if !subscribed && m.Kind != b.flavor.unsubscribed {
		return
	}
	b.mu.Lock()
	if subscribed {
		sh.confirmed[m.Channel] = true
	} else {
		delete(sh.confirmed, m.Channel)
	}
	t := sh.topics[m.Channel]
	live := t != nil && t.live
	if live && !subscribed {
		t.live = false
		t.lost = true
	}
	b.mu.Unlock()
	switch {
	case !live:
	case subscribed:
		b.log.Debug("redis broker: resubscribed after reconnect", slog.String("topic", t.name), slog.String("addr", sh.addr))
		t.resync()
	default:
		b.log.Info("redis broker: Redis dropped a subscription; moving it", slog.String("topic", t.name), slog.String("addr", sh.addr))
		b.requestCheck()
	}
}

// pong releases the barriers up to the PING it answers.
func (sh *shard) pong(payload string) {
	n, err := strconv.ParseUint(strings.TrimPrefix(payload, pingPrefix), 10, 64)
	if err != nil || !strings.HasPrefix(payload, pingPrefix) {
		return
	}
	b := sh.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for seq, ch := range sh.waiters {
		if seq <= n {
			ch <- nil
			delete(sh.waiters, seq)
		}
	}
}

// failWaiters ends every waiting barrier with err.
func (sh *shard) failWaiters(err error) {
	b := sh.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for seq, ch := range sh.waiters {
		ch <- err
		delete(sh.waiters, seq)
	}
}

// barrier returns once Redis has processed every command written on the
// connection before it was called (see shard).
func (sh *shard) barrier(ctx context.Context) error {
	b := sh.b
	ch := make(chan error, 1)
	b.mu.Lock()
	if sh.closed {
		b.mu.Unlock()
		return errShardClosed
	}
	sh.lastPing++
	n := sh.lastPing
	sh.waiters[n] = ch
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(sh.waiters, n)
		b.mu.Unlock()
	}
	// The caller's context bounds the wait, not the write: a write that times
	// out makes go-redis replace the connection, which would cost every topic
	// on it a resync.
	if err := sh.ps.Ping(context.WithoutCancel(ctx), pingPrefix+strconv.FormatUint(n, 10)); err != nil {
		forget()
		return unavailable("confirm subscription on "+sh.addr, err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		forget()
		return context.Cause(ctx)
	case <-b.stop:
		forget()
		return errBrokerClosed
	}
}

var (
	errShardClosed  = domain.Errorf(domain.ErrUnavailable, "the pub/sub connection was closed")
	errBrokerClosed = domain.Errorf(domain.ErrUnavailable, "the broker is closed")
)

// backoff returns the wait before retry number n (from 1): doubling from min,
// capped at max.
func backoff(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}
