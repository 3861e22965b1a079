package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// bench holds what every scenario shares.
type bench struct {
	cfg   config
	gql   *gqlClient
	setup *setup
	probe serverProbe
	log   io.Writer
}

func newBench(c config, log io.Writer) *bench {
	gql := newGQLClient(c.url, max(c.setupConc, c.senders, c.clients))
	return &bench{
		cfg:   c,
		gql:   gql,
		setup: &setup{gql: gql, secret: []byte(c.secret), run: c.run, log: log, conc: c.setupConc},
		probe: serverProbe{pid: c.serverPID, debugURL: c.debugURL, http: &http.Client{}},
		log:   log,
	}
}

func (b *bench) close() {
	b.gql.close()
	b.probe.http.CloseIdleConnections()
}

func (b *bench) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(b.log, format+"\n", args...)
}

func (b *bench) runScenario(ctx context.Context) (result, error) {
	switch b.cfg.scenario {
	case scenarioConns:
		return b.conns(ctx)
	case scenarioFanout:
		return b.fanout(ctx)
	case scenarioRooms:
		return b.roomsScenario(ctx)
	case scenarioSend:
		return b.send(ctx)
	default:
		return b.history(ctx)
	}
}

// newResult starts a result with the run's identity.
func (b *bench) newResult(n int) result {
	return result{Scenario: b.cfg.scenario, Run: b.cfg.run, N: n, OK: true}
}

// subscribers runs subscribers over this process or its children.
type subscribers struct {
	groups []subGroup
	status groupStatus
}

// startSubscribers spreads subs over -procs groups and connects them all.
func (b *bench) startSubscribers(ctx context.Context, rooms []roomRef, subs []subSpec, probe string) (*subscribers, error) {
	addrs, err := sourceAddrs(b.cfg.sourceAddrs, len(subs))
	if err != nil {
		return nil, err
	}
	s := &subscribers{}
	for _, part := range splitSubs(subs, b.cfg.procs) {
		spec := groupSpec{
			Transport: b.cfg.transport, URL: b.cfg.url, Secret: b.cfg.secret, SourceAddrs: addrs,
			Rooms: rooms, Subs: part, Probe: probe, DialConcurrency: b.cfg.dialConcurrency,
			ConnectTimeout: b.cfg.connectTimeout, ReadyTimeout: b.cfg.readyTimeout, DrainTimeout: b.cfg.drainTimeout,
		}
		var g subGroup
		if b.cfg.procs == 1 {
			g, err = newGroup(spec)
		} else {
			g, err = startChild(spec, b.log)
		}
		if err != nil {
			s.close()
			return nil, err
		}
		s.groups = append(s.groups, g)
	}
	b.logf("connecting %d subscribers (%s, %d process(es), %d source address(es))", len(subs), b.cfg.transport, b.cfg.procs, max(len(addrs), 1))
	start := time.Now()
	st, err := s.each(ctx, subGroup.connect)
	if err != nil {
		s.close()
		return nil, err
	}
	s.status = st
	b.logf("connected %d, failed %d in %.1fs", st.Connected, st.Failed, time.Since(start).Seconds())
	return s, nil
}

// each runs step on every group at once and sums the statuses.
func (s *subscribers) each(ctx context.Context, step func(subGroup, context.Context) (groupStatus, error)) (groupStatus, error) {
	sts := make([]groupStatus, len(s.groups))
	errs := make([]error, len(s.groups))
	var wg sync.WaitGroup
	for i, g := range s.groups {
		wg.Go(func() { sts[i], errs[i] = step(g, ctx) })
	}
	wg.Wait()
	var sum groupStatus
	for _, st := range sts {
		sum.Connected += st.Connected
		sum.Failed += st.Failed
		sum.Ready += st.Ready
		sum.Errors = firstErrors(append(sum.Errors, st.Errors...))
	}
	return sum, errors.Join(errs...)
}

// ready sends a probe into every room and waits until every subscriber
// saw it: only then is each subscription known to be live.
func (b *bench) ready(ctx context.Context, s *subscribers, token, probe string, rooms []roomRef) (groupStatus, error) {
	start := time.Now()
	if err := b.setup.sendProbes(ctx, token, probe, rooms); err != nil {
		return groupStatus{}, err
	}
	st, err := s.each(ctx, subGroup.waitReady)
	if err != nil {
		return st, err
	}
	b.logf("%d of %d subscriptions live (probe seen) in %.1fs", st.Ready, st.Connected, time.Since(start).Seconds())
	return st, nil
}

// drain asks every group for its result.
func (s *subscribers) drain(ctx context.Context, expect []int64) (groupResult, error) {
	res := make([]groupResult, len(s.groups))
	errs := make([]error, len(s.groups))
	var wg sync.WaitGroup
	for i, g := range s.groups {
		wg.Go(func() { res[i], errs[i] = g.drain(ctx, expect) })
	}
	wg.Wait()
	var sum groupResult
	for _, r := range res {
		sum = sum.merge(r)
	}
	return sum, errors.Join(errs...)
}

func (s *subscribers) close() {
	for _, g := range s.groups {
		_ = g.close()
	}
}

// applyStatus copies connection figures into r and fails it on any loss of
// a connection or subscription.
func applyStatus(r *result, st groupStatus) {
	r.Connected, r.Failed, r.Ready = st.Connected, st.Failed, st.Ready
	r.Errors = firstErrors(append(r.Errors, st.Errors...))
	if st.Failed > 0 || st.Ready < st.Connected {
		r.OK = false
	}
}

// applyDeliveries copies what subscribers saw into r and fails it on loss,
// duplicates, gaps or a subscription that ended.
func applyDeliveries(r *result, d groupResult, firstSend int64) {
	r.Ended = d.Ended
	r.Expected, r.Deliveries, r.Duplicates, r.Gaps = d.Expected, d.Deliveries, d.Duplicates, d.Gaps
	r.Loss = lossOf(d.Expected, d.Deliveries)
	if d.LastDelivery > firstSend && firstSend > 0 {
		r.DeliveriesPerS = round2(float64(d.Deliveries) / (float64(d.LastDelivery-firstSend) / 1e9))
	}
	r.setLatency(d.Latency)
	r.Errors = firstErrors(append(r.Errors, d.Errors...))
	if r.Loss > 0 || r.Duplicates > 0 || r.Gaps > 0 || r.Ended > 0 {
		r.OK = false
	}
}

// pacedSend offers total measured messages at rate per second, bounded by
// deadline, with senders concurrent requests; room picks the room of
// message i. Each message's text carries the time its request started.
type pacedSend struct {
	token   string
	rooms   []roomRef
	room    func(i int) int
	total   int
	rate    float64
	senders int
	until   time.Time
}

// sendStats is what the senders saw.
type sendStats struct {
	offered   int
	acked     []int64 // per room
	errors    atomic.Int64
	firstSend int64 // unix nanos
	elapsed   time.Duration
	ack       histogram
	errs      errorSample
}

func (st *sendStats) ackedTotal() int64 {
	var n int64
	for _, a := range st.acked {
		n += a
	}
	return n
}

func (b *bench) pacedSend(ctx context.Context, p pacedSend) *sendStats {
	st := &sendStats{acked: make([]int64, len(p.rooms))}
	acked := make([]atomic.Int64, len(p.rooms))
	jobs := make(chan int, p.senders)
	start := time.Now()
	st.firstSend = start.UnixNano()
	var wg sync.WaitGroup
	for range p.senders {
		wg.Go(func() {
			for i := range jobs {
				room := p.room(i)
				t0 := time.Now()
				err := b.gql.do(ctx, p.token, sendQuery, map[string]any{"r": p.rooms[room].ID, "t": measuredText(i, t0)}, nil)
				if err != nil {
					st.errors.Add(1)
					st.errs.add("send: " + err.Error())
					continue
				}
				st.ack.record(time.Since(t0).Microseconds())
				acked[room].Add(1)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / p.rate)
	timer := time.NewTimer(0)
offer:
	for i := range p.total {
		// The schedule and the clock both bound the offer: senders that
		// cannot keep the rate make the run offer less, not last longer.
		due := start.Add(time.Duration(i) * interval)
		if due.After(p.until) || time.Now().After(p.until) {
			break
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break offer
			}
		}
		select {
		case jobs <- i:
			st.offered++
		case <-ctx.Done():
			break offer
		}
	}
	timer.Stop()
	close(jobs)
	wg.Wait()
	st.elapsed = time.Since(start)
	for i := range acked {
		st.acked[i] = acked[i].Load()
	}
	return st
}

// applySends copies the senders' figures into r and fails it on any send
// error.
func applySends(r *result, st *sendStats, rate float64) {
	r.Offered, r.Acked, r.SendErrors = st.offered, st.ackedTotal(), st.errors.Load()
	r.RateTarget = rate
	if st.elapsed > 0 {
		r.RateReached = round2(float64(st.offered) / st.elapsed.Seconds())
	}
	ack := st.ack.snapshot()
	if ack.count() > 0 {
		r.AckP50Ms, r.AckP99Ms = ms(ack.percentile(50)), ms(ack.percentile(99))
	}
	r.Errors = firstErrors(append(r.Errors, st.errs.list()...))
	if r.SendErrors > 0 {
		r.OK = false
	}
}

// randomRoom picks a room uniformly.
func randomRoom(n int) func(int) int {
	return func(int) int { return rand.IntN(n) } //nolint:gosec // spreads load; nothing secret depends on it
}
