package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// placeAttempts bounds how often one placement tries to subscribe a channel
// before it gives up; between attempts a cluster client refreshes its slot
// map, so a MOVED answer is followed to the new owner.
const placeAttempts = 4

// Backoff between placement attempts, and between rebalancer passes that
// could not place every topic.
const (
	minRetryWait = 50 * time.Millisecond
	maxRetryWait = 2 * time.Second
)

// checkTimeout bounds one rebalancer pass's wait for a connection's barrier.
const checkTimeout = 5 * time.Second

// place subscribes t on the connection of the Redis server that owns it and
// waits until Redis has confirmed it; t.placeMu is held. It retries a few
// times when Redis refuses (in a cluster: the slot moved) or the connection
// fails.
func (b *Broker) place(ctx context.Context, t *topic) error {
	for attempt := 1; ; attempt++ {
		sh, err := b.shardFor(ctx, t.name)
		if err == nil {
			err = b.subscribeOn(ctx, sh, t)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("subscribe to %s: %w", t.name, context.Cause(ctx))
		}
		if b.isClosed() || attempt == placeAttempts {
			return fmt.Errorf("subscribe to %s: %w", t.name, err)
		}
		if b.cluster != nil {
			b.cluster.ReloadState(ctx)
		}
		if !sleep(ctx, b.stop, backoff(attempt, minRetryWait, maxRetryWait)) {
			return fmt.Errorf("subscribe to %s: %w", t.name, err)
		}
	}
}

// subscribeOn subscribes t's channel on sh and verifies it with a barrier.
// On failure it takes the channel off sh again, so that go-redis does not
// subscribe it after a reconnect.
func (b *Broker) subscribeOn(ctx context.Context, sh *shard, t *topic) error {
	b.mu.Lock()
	if sh.closed {
		b.mu.Unlock()
		return errShardClosed
	}
	sh.topics[t.name] = t
	t.shard = sh
	t.live = false
	b.mu.Unlock()

	// The caller's context bounds the wait, not the write (see barrier).
	err := b.flavor.subscribe(context.WithoutCancel(ctx), sh.ps, t.name)
	if err != nil {
		err = unavailable("subscribe on "+sh.addr, err)
	} else {
		err = sh.barrier(ctx)
	}

	b.mu.Lock()
	if err == nil && !sh.confirmed[t.name] {
		err = domain.Errorf(domain.ErrUnavailable, "%s did not confirm the subscription", sh.addr)
	}
	if err == nil {
		t.live, t.lost = true, false
		b.mu.Unlock()
		return nil
	}
	b.detachLocked(t)
	b.mu.Unlock()
	_ = b.flavor.unsubscribe(context.Background(), sh.ps, t.name)
	return err
}

// detachLocked takes t off its connection's topics; Broker.mu is held.
func (b *Broker) detachLocked(t *topic) {
	if sh := t.shard; sh != nil && sh.topics[t.name] == t {
		delete(sh.topics, t.name)
	}
	t.shard = nil
	t.live = false
}

// ownerOf returns the address of the server a channel belongs on.
func (b *Broker) ownerOf(ctx context.Context, channel string) (string, error) {
	if b.cluster == nil {
		return b.single.addr, nil
	}
	node, err := b.cluster.MasterForKey(ctx, channel)
	if err != nil {
		return "", unavailable("find the master of "+channel, err)
	}
	return node.Options().Addr, nil
}

// shardFor returns the connection a channel belongs on: the only one for a
// single server, the one to the master owning the channel's slot in a
// cluster (opened on first use).
func (b *Broker) shardFor(ctx context.Context, channel string) (*shard, error) {
	if b.cluster == nil {
		return b.single, nil
	}
	node, err := b.cluster.MasterForKey(ctx, channel)
	if err != nil {
		return nil, unavailable("find the master of "+channel, err)
	}
	addr := node.Options().Addr
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errBrokerClosed
	}
	sh := b.shards[addr]
	if sh == nil {
		// SSubscribe without channels opens nothing yet; the reader dials.
		// Built from the node's client, the connection goes to that node and
		// nowhere else, reconnects included.
		sh = b.newShardLocked(addr, node.SSubscribe(context.WithoutCancel(ctx)))
		b.shards[addr] = sh
	}
	return sh, nil
}

// requestCheck asks the rebalancer for a pass; requests made while one is
// pending merge.
func (b *Broker) requestCheck() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// rebalancer runs placement checks on request until Close, repeating a check
// with backoff while some topic could not be placed.
func (b *Broker) rebalancer() {
	defer b.wg.Done()
	ctx := b.ctx
	for {
		select {
		case <-b.kick:
		case <-b.stop:
			return
		}
		for attempt := 1; !b.check(ctx); attempt++ {
			if !sleep(ctx, b.stop, backoff(attempt, minRetryWait, maxRetryWait)) {
				return
			}
		}
	}
}

// check is one rebalancer pass: it refreshes a cluster's slot map, verifies every
// reachable connection with a barrier, moves each topic that Redis dropped,
// did not confirm, or whose slot now belongs to another master, and closes
// connections left without topics. It reports whether every topic is placed.
func (b *Broker) check(ctx context.Context) bool {
	if b.cluster != nil {
		b.cluster.ReloadState(ctx)
	}

	b.mu.Lock()
	shards := make([]*shard, 0, len(b.shards))
	for _, sh := range b.shards {
		shards = append(shards, sh)
	}
	b.mu.Unlock()
	verified := make(map[*shard]bool, len(shards))
	ok := true
	for _, sh := range shards {
		bctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := sh.barrier(bctx)
		cancel()
		if err == nil {
			verified[sh] = true
		} else if !errors.Is(err, errShardClosed) {
			ok = false // unreachable now; its topics are checked again later
		}
	}

	b.mu.Lock()
	topics := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		select {
		case <-t.ready:
			// A topic still being placed for the first time is verified by
			// that placement.
			if !t.closing {
				topics = append(topics, t)
			}
		default:
		}
	}
	b.mu.Unlock()
	for _, t := range topics {
		owner, err := b.ownerOf(ctx, t.name)
		if err != nil {
			ok = false
			continue
		}
		b.mu.Lock()
		sh := t.shard
		misplaced := t.lost || sh == nil || sh.addr != owner || (verified[sh] && !sh.confirmed[t.name])
		b.mu.Unlock()
		if misplaced && !b.move(ctx, t) {
			ok = false
		}
	}
	b.closeIdleShards()
	return ok
}

// move subscribes t again wherever it belongs now, and resyncs it: payloads
// published while it was not subscribed are lost. It reports whether t is
// placed (or needs no placing any more).
func (b *Broker) move(ctx context.Context, t *topic) bool {
	t.placeMu.Lock()
	defer t.placeMu.Unlock()
	b.mu.Lock()
	select {
	case <-t.ready:
	default:
		// Its first placement is still running (placeMu is free between
		// the topic's creation and that placement taking it).
		b.mu.Unlock()
		return false
	}
	if t.closing {
		b.mu.Unlock()
		return true
	}
	old := t.shard
	b.detachLocked(t)
	t.lost = true // until placed again
	b.mu.Unlock()
	if old != nil {
		_ = b.flavor.unsubscribe(context.Background(), old.ps, t.name)
	}
	if err := b.place(ctx, t); err != nil {
		b.log.Warn("redis broker: could not move a topic; retrying", slog.String("topic", t.name), slog.Any("error", err))
		return false
	}
	b.mu.Lock()
	where := t.shard.addr
	b.mu.Unlock()
	b.log.Info("redis broker: topic subscribed again", slog.String("topic", t.name), slog.String("addr", where))
	t.resync()
	return true
}

// closeIdleShards closes the cluster connections that hold no topic, such as
// one to a master that lost its slots or died.
func (b *Broker) closeIdleShards() {
	b.mu.Lock()
	var idle []*shard
	for addr, sh := range b.shards {
		if sh != b.single && len(sh.topics) == 0 {
			sh.closed = true
			delete(b.shards, addr)
			idle = append(idle, sh)
		}
	}
	b.mu.Unlock()
	for _, sh := range idle {
		_ = sh.ps.Close()
		sh.failWaiters(errShardClosed)
	}
}

// sleep waits for d unless ctx ends or stop closes first; it reports whether
// the full wait passed.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
