package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// probeText is the run's probe message.
func (b *bench) probeText() string { return probePrefix + b.cfg.run }

// subscriberSpecs returns n subscribers, member "b<run>-s<i>" in room
// roomOf(i).
func (b *bench) subscriberSpecs(n int, roomOf func(int) int) []subSpec {
	out := make([]subSpec, n)
	for i := range out {
		out[i] = subSpec{Member: b.setup.member("s", i), Room: roomOf(i)}
	}
	return out
}

// publicRooms creates n public groups owned by token's member.
func (b *bench) publicRooms(ctx context.Context, token string, n int) ([]roomRef, error) {
	out := make([]roomRef, n)
	err := b.setup.parallel(ctx, "create rooms", n, func(ctx context.Context, i int) error {
		r, err := b.setup.createRoom(ctx, token, "PUBLIC_GROUP", fmt.Sprintf("bench %s %d", b.cfg.run, i), nil)
		out[i] = r.ref()
		return err
	})
	return out, err
}

// conns opens N connections with one subscription each and reads the
// server's resident set before and after, plain and after a forced GC.
func (b *bench) conns(ctx context.Context) (result, error) {
	c := b.cfg
	r := b.newResult(c.n)
	r.Transport, r.Rooms, r.Procs = c.transport, c.rooms, c.procs
	owner := b.setup.member("o", 0)
	tok, err := b.setup.token(owner)
	if err != nil {
		return r, err
	}
	rooms, err := b.publicRooms(ctx, tok, c.rooms)
	if err != nil {
		return r, err
	}
	if c.serverPID == 0 {
		r.Notes = append(r.Notes, "no -server-pid: resident set not measured")
	}
	// Before: plain, then after a GC, so that both figures have a baseline.
	if r.RSSBeforeKiB, err = b.probe.rss(); err != nil {
		return r, err
	}
	gcOK := b.gc(ctx, &r)
	if gcOK {
		if r.RSSBeforeGCKiB, err = b.probe.rss(); err != nil {
			return r, err
		}
	}
	r.GoroutinesBefore = b.goroutines(ctx, &r)

	subs, err := b.liveSubscribers(ctx, &r, tok, rooms, b.subscriberSpecs(c.n, func(i int) int { return i % c.rooms }))
	if err != nil {
		return r, err
	}
	defer subs.close()
	if c.settle > 0 {
		// Idle means no event in flight: the goroutines that delivered the
		// probe linger a moment for the next event (see workpool).
		b.logf("letting the connections settle for %s", c.settle)
		select {
		case <-time.After(c.settle):
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}

	if r.RSSAfterKiB, err = b.probe.rss(); err != nil {
		return r, err
	}
	r.Goroutines = b.goroutines(ctx, &r)
	if gcOK && b.gc(ctx, &r) {
		if r.RSSAfterGCKiB, err = b.probe.rss(); err != nil {
			return r, err
		}
	}
	if n := float64(r.Connected); n > 0 {
		per := func(after, before *int64) *float64 {
			if after == nil || before == nil {
				return nil
			}
			v := round2(float64(*after-*before) / n)
			return &v
		}
		r.KiBPerConn = per(r.RSSAfterKiB, r.RSSBeforeKiB)
		r.KiBPerConnAfterGC = per(r.RSSAfterGCKiB, r.RSSBeforeGCKiB)
		if r.Goroutines != nil && r.GoroutinesBefore != nil {
			v := round2(float64(*r.Goroutines-*r.GoroutinesBefore) / n)
			r.GoroutinesPerConn = &v
		}
	}
	if c.hold > 0 {
		b.logf("holding the connections for %s", c.hold)
		select {
		case <-time.After(c.hold):
		case <-ctx.Done():
		}
	}
	d, err := subs.drain(ctx, nil)
	if err != nil {
		return r, err
	}
	r.Ended = d.Ended
	r.Errors = firstErrors(append(r.Errors, d.Errors...))
	if d.Ended > 0 {
		r.OK = false
	}
	return r, nil
}

// gc forces a GC in the server; without a debug listener (or when it does
// not answer) it notes why the after-GC figures are missing.
func (b *bench) gc(ctx context.Context, r *result) bool {
	ok, err := b.probe.gc(ctx)
	switch {
	case err != nil:
		r.Notes = append(r.Notes, "no server GC, after-GC figures n/a: "+err.Error())
		b.probe.debugURL = ""
	case !ok && !containsPrefix(r.Notes, "no -debug-url"):
		r.Notes = append(r.Notes, "no -debug-url: after-GC figures and goroutines n/a")
	}
	return ok
}

func (b *bench) goroutines(ctx context.Context, r *result) *int64 {
	n, err := b.probe.goroutines(ctx)
	if err != nil {
		r.Notes = append(r.Notes, "goroutines n/a: "+err.Error())
	}
	return n
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// fanout: one public room, N subscribers, M messages offered at rate R.
func (b *bench) fanout(ctx context.Context) (result, error) {
	c := b.cfg
	r := b.newResult(c.n)
	r.Transport, r.Rooms, r.Procs = c.transport, 1, c.procs
	tok, err := b.setup.token(b.setup.member("o", 0))
	if err != nil {
		return r, err
	}
	rooms, err := b.publicRooms(ctx, tok, 1)
	if err != nil {
		return r, err
	}
	return b.deliver(ctx, r, tok, rooms, b.subscriberSpecs(c.n, func(int) int { return 0 }), func(int) int { return 0 })
}

// roomsScenario: N subscribers, each in its own chat with one sender member,
// messages to random chats at rate R for D.
func (b *bench) roomsScenario(ctx context.Context) (result, error) {
	c := b.cfg
	r := b.newResult(c.n)
	r.Transport, r.Rooms, r.Procs = c.transport, c.n, c.procs
	sender := b.setup.member("o", 0)
	tok, err := b.setup.token(sender)
	if err != nil {
		return r, err
	}
	subs := b.subscriberSpecs(c.n, func(i int) int { return i })
	ids := []string{sender}
	for _, s := range subs {
		ids = append(ids, s.Member)
	}
	b.logf("provisioning %d members and opening %d chats", len(ids), c.n)
	if err := b.setup.provision(ctx, ids); err != nil {
		return r, err
	}
	chats, err := b.setup.openChats(ctx, tok, ids[1:])
	if err != nil {
		return r, err
	}
	rooms := make([]roomRef, len(chats))
	for i, ch := range chats {
		rooms[i] = ch.ref()
	}
	return b.deliver(ctx, r, tok, rooms, subs, randomRoom(len(rooms)))
}

// liveSubscribers starts the subscribers of specs and waits until each is
// live (has delivered the probe), recording the source addresses and their
// status in r. The caller closes them.
func (b *bench) liveSubscribers(ctx context.Context, r *result, token string, rooms []roomRef, specs []subSpec) (*subscribers, error) {
	c := b.cfg
	subs, err := b.startSubscribers(ctx, rooms, specs, b.probeText())
	if err != nil {
		return nil, err
	}
	if addrs, _ := sourceAddrs(c.sourceAddrs, c.n); len(addrs) > 0 {
		r.Sources = len(addrs)
	}
	st, err := b.ready(ctx, subs, token, b.probeText(), rooms)
	if err != nil {
		subs.close()
		return nil, err
	}
	applyStatus(r, st)
	return subs, nil
}

// deliver runs the subscribers, the paced senders and the drain of fanout
// and rooms.
func (b *bench) deliver(ctx context.Context, r result, token string, rooms []roomRef, specs []subSpec, roomOf func(int) int) (result, error) {
	c := b.cfg
	subs, err := b.liveSubscribers(ctx, &r, token, rooms, specs)
	if err != nil {
		return r, err
	}
	defer subs.close()
	b.logf("offering %d messages at %.0f/s (bound %s)", c.messages, c.rate, c.duration)
	sent := b.pacedSend(ctx, pacedSend{
		token: token, rooms: rooms, room: roomOf, total: c.messages, rate: c.rate,
		senders: c.senders, until: time.Now().Add(c.duration),
	})
	applySends(&r, sent, c.rate)
	b.logf("offered %d, acked %d in %.1fs; draining", sent.offered, sent.ackedTotal(), sent.elapsed.Seconds())
	d, err := subs.drain(ctx, sent.acked)
	if err != nil {
		return r, err
	}
	applyDeliveries(&r, d, sent.firstSend)
	return r, nil
}

// send: C clients, each its own member, send into K rooms they all belong
// to, each as fast as its messages are acknowledged.
func (b *bench) send(ctx context.Context) (result, error) {
	c := b.cfg
	r := b.newResult(c.clients)
	r.Rooms = c.rooms
	members := make([]string, c.clients)
	for i := range members {
		members[i] = b.setup.member("c", i)
	}
	tokens, err := b.setup.tokens(members...)
	if err != nil {
		return r, err
	}
	if err := b.setup.provision(ctx, members); err != nil {
		return r, err
	}
	rooms := make([]roomRef, c.rooms)
	err = b.setup.parallel(ctx, "create rooms", c.rooms, func(ctx context.Context, i int) error {
		room, err := b.setup.createRoom(ctx, tokens[0], "PRIVATE_GROUP", fmt.Sprintf("bench %s send %d", c.run, i), members[1:])
		rooms[i] = room.ref()
		return err
	})
	if err != nil {
		return r, err
	}
	b.logf("%d clients sending into %d rooms for %s (at most %d messages)", c.clients, c.rooms, c.duration, c.messages)
	var next, acked, failed atomic.Int64
	var lat histogram
	var errs errorSample
	start := time.Now()
	until := start.Add(c.duration)
	var wg sync.WaitGroup
	for ci := range c.clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(until) {
				i := int(next.Add(1) - 1)
				if i >= c.messages {
					return
				}
				t0 := time.Now()
				err := b.gql.do(ctx, tokens[ci], sendQuery, map[string]any{"r": rooms[i%c.rooms].ID, "t": measuredText(i, t0)}, nil)
				if err != nil {
					failed.Add(1)
					errs.add("send: " + err.Error())
					continue
				}
				lat.record(time.Since(t0).Microseconds())
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.Acked, r.SendErrors = acked.Load(), failed.Load()
	r.Offered = int(r.Acked + r.SendErrors)
	r.MsgsPerS = round2(float64(r.Acked) / elapsed.Seconds())
	r.setLatency(lat.snapshot())
	r.Errors = errs.list()
	if r.SendErrors > 0 {
		r.OK = false
	}
	return r, nil
}
