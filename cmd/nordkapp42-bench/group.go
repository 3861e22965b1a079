package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
)

// groupSpec is what one process needs to run a share of the subscribers; a
// child process receives it as JSON on its stdin.
type groupSpec struct {
	Transport       string        `json:"transport"`
	URL             string        `json:"url"`
	Secret          string        `json:"secret"`
	SourceAddrs     []string      `json:"source_addrs,omitempty"`
	Rooms           []roomRef     `json:"rooms"`
	Subs            []subSpec     `json:"subs"`
	Probe           string        `json:"probe"`
	DialConcurrency int           `json:"dial_concurrency"`
	ConnectTimeout  time.Duration `json:"connect_timeout"`
	ReadyTimeout    time.Duration `json:"ready_timeout"`
	DrainTimeout    time.Duration `json:"drain_timeout"`
}

// roomRef is a room to subscribe to, and the cursor to subscribe after: the
// room's latest event at setup, so that nothing sent later can be missed
// whenever the subscription reaches the server.
type roomRef struct {
	ID    string `json:"id"`
	After string `json:"after"`
}

// subSpec is one subscriber: a member with one connection and one
// roomEvents subscription to Rooms[Room].
type subSpec struct {
	Member string `json:"m"`
	Room   int    `json:"r"`
}

// groupStatus answers connect and waitReady.
type groupStatus struct {
	Connected int      `json:"connected"`
	Failed    int      `json:"failed"`
	Ready     int      `json:"ready"`
	Errors    []string `json:"errors,omitempty"`
}

// groupResult is what a group's subscribers saw.
type groupResult struct {
	Subscribers  int          `json:"subscribers"`
	Ended        int          `json:"ended"` // streams that ended before the run did
	Deliveries   int64        `json:"deliveries"`
	Expected     int64        `json:"expected"`
	Duplicates   int64        `json:"duplicates"`
	Gaps         int64        `json:"gaps"`
	LastDelivery int64        `json:"last_delivery"` // unix nanos
	Latency      histSnapshot `json:"latency"`
	Errors       []string     `json:"errors,omitempty"`
}

// merge adds another group's result.
func (r groupResult) merge(o groupResult) groupResult {
	return groupResult{
		Subscribers:  r.Subscribers + o.Subscribers,
		Ended:        r.Ended + o.Ended,
		Deliveries:   r.Deliveries + o.Deliveries,
		Expected:     r.Expected + o.Expected,
		Duplicates:   r.Duplicates + o.Duplicates,
		Gaps:         r.Gaps + o.Gaps,
		LastDelivery: max(r.LastDelivery, o.LastDelivery),
		Latency:      r.Latency.merge(o.Latency),
		Errors:       firstErrors(append(r.Errors, o.Errors...)),
	}
}

// subGroup is a share of the subscribers, run in this process or in a child.
// Its calls come in this order: connect, waitReady, drain, close.
type subGroup interface {
	// connect dials every subscriber and subscribes it.
	connect(ctx context.Context) (groupStatus, error)
	// waitReady waits until every connected subscriber got the probe.
	waitReady(ctx context.Context) (groupStatus, error)
	// drain waits until each subscriber of room i got expect[i] measured
	// messages (or the drain timeout passes), closes every connection and
	// returns what was seen.
	drain(ctx context.Context, expect []int64) (groupResult, error)
	// close releases everything; safe after any step.
	close() error
}

// group runs subscribers in this process.
type group struct {
	spec    groupSpec
	subs    []*subscriber
	clients []*http.Client // one per source address
	latency histogram
	errs    errorSample
	readers sync.WaitGroup
	ctx     context.Context // the subscriptions' lifetime
	cancel  context.CancelFunc
	closed  sync.Once
}

var _ subGroup = (*group)(nil)

func newGroup(spec groupSpec) (*group, error) {
	clients, err := httpClients(spec.SourceAddrs, len(spec.Subs))
	if err != nil {
		return nil, err
	}
	g := &group{spec: spec, clients: clients}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	for i, s := range spec.Subs {
		if s.Room < 0 || s.Room >= len(spec.Rooms) {
			return nil, fmt.Errorf("subscriber %d: room %d out of range", i, s.Room)
		}
		g.subs = append(g.subs, &subscriber{g: g, spec: s})
	}
	return g, nil
}

// subscriber is one connection with one subscription. Its reader goroutine
// alone touches seq and last; drain reads them after the readers stopped.
type subscriber struct {
	g         *group
	spec      subSpec
	connected bool
	probed    atomic.Bool
	ended     atomic.Bool
	received  atomic.Int64 // measured messages, each counted once
	seq       seqTracker
	last      int64 // unix nanos of its latest measured delivery
	close     func()
}

// handle takes one result of the subscription.
func (s *subscriber) handle(payload []byte) {
	now := time.Now().UnixNano()
	ev, err := parseEvent(payload)
	if err != nil {
		s.g.errs.add(err.Error())
		return
	}
	if ev.err != "" {
		s.g.errs.add("subscription result error: " + ev.err)
		return
	}
	if !s.seq.observe(ev.seq) {
		return
	}
	switch {
	case strings.HasPrefix(ev.text, measuredPrefix):
		if sent, ok := parseMeasured(ev.text); ok {
			s.g.latency.record((now - sent) / 1000)
			s.last = now
			s.received.Add(1)
		}
	case ev.text == s.g.spec.Probe:
		s.probed.Store(true)
	}
}

// end records that the stream stopped; err is why, nil for a complete.
func (s *subscriber) end(err error) {
	if s.g.ctx.Err() != nil {
		return // the tool closed it
	}
	s.ended.Store(true)
	if err == nil {
		err = errors.New("the server completed the subscription")
	}
	s.g.errs.add("subscription ended: " + err.Error())
}

func (g *group) connect(ctx context.Context) (groupStatus, error) {
	if err := checkOpenFiles(len(g.subs)); err != nil {
		return groupStatus{}, err
	}
	now := time.Now()
	sem := make(chan struct{}, max(g.spec.DialConcurrency, 1))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i, s := range g.subs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return groupStatus{}, fmt.Errorf("connect: %w", ctx.Err())
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := g.dial(ctx, s, g.clients[i%len(g.clients)], now); err != nil {
				failed.Add(1)
				g.errs.add(err.Error())
				return
			}
			s.connected = true
		})
	}
	wg.Wait()
	st := groupStatus{Failed: int(failed.Load()), Errors: g.errs.list()}
	st.Connected = len(g.subs) - st.Failed
	return st, nil
}

// dial opens s's connection and subscription over the spec's transport.
func (g *group) dial(ctx context.Context, s *subscriber, client *http.Client, now time.Time) error {
	token, err := auth.Issue([]byte(g.spec.Secret), s.spec.Member, s.spec.Member, 24*time.Hour, now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.spec.ConnectTimeout)
	defer cancel()
	room := g.spec.Rooms[s.spec.Room]
	vars := map[string]any{"r": room.ID, "a": room.After}
	switch g.spec.Transport {
	case transportSSE:
		return g.dialSSE(ctx, s, client, token, vars)
	default:
		return g.dialWS(ctx, s, client, token, vars)
	}
}

func (g *group) waitReady(ctx context.Context) (groupStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, g.spec.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st := groupStatus{}
		for _, s := range g.subs {
			switch {
			case !s.connected:
				st.Failed++
			case s.probed.Load():
				st.Connected++
				st.Ready++
			default:
				st.Connected++
			}
		}
		if st.Ready == st.Connected {
			return st, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			st.Errors = append(g.errs.list(), fmt.Sprintf("%d of %d subscriptions got no probe within %s", st.Connected-st.Ready, st.Connected, g.spec.ReadyTimeout))
			return st, nil
		}
	}
}

func (g *group) drain(ctx context.Context, expect []int64) (groupResult, error) {
	ctx, cancel := context.WithTimeout(ctx, g.spec.DrainTimeout)
	defer cancel()
	want := func(s *subscriber) int64 {
		if s.spec.Room < len(expect) {
			return expect[s.spec.Room]
		}
		return 0
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		done := true
		for _, s := range g.subs {
			if s.connected && !s.ended.Load() && s.received.Load() < want(s) {
				done = false
				break
			}
		}
		if done {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			break wait
		}
	}
	g.shutdown()
	r := groupResult{Subscribers: len(g.subs), Latency: g.latency.snapshot()}
	for _, s := range g.subs {
		if s.connected { // a failed connection is reported as such, not as loss
			r.Expected += want(s)
		}
		r.Deliveries += s.received.Load()
		r.Duplicates += s.seq.duplicates
		r.Gaps += s.seq.gaps
		r.LastDelivery = max(r.LastDelivery, s.last)
		if s.ended.Load() {
			r.Ended++
		}
	}
	r.Errors = g.errs.list()
	return r, nil
}

// shutdown closes every connection and waits for the readers.
func (g *group) shutdown() {
	g.closed.Do(func() {
		g.cancel()
		for _, s := range g.subs {
			if s.close != nil {
				s.close()
			}
		}
		g.readers.Wait()
		for _, c := range g.clients {
			c.CloseIdleConnections()
		}
	})
}

func (g *group) close() error {
	g.shutdown()
	return nil
}

// errorSample keeps the first few distinct errors and counts the rest.
type errorSample struct {
	mu    sync.Mutex
	seen  []string
	extra int
}

const keptErrors = 5

func (e *errorSample) add(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.seen {
		if s == msg {
			return
		}
	}
	if len(e.seen) < keptErrors {
		e.seen = append(e.seen, msg)
		return
	}
	e.extra++
}

func (e *errorSample) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]string(nil), e.seen...)
	if e.extra > 0 {
		out = append(out, fmt.Sprintf("… and %d more distinct errors", e.extra))
	}
	return out
}

// firstErrors bounds a merged error list.
func firstErrors(list []string) []string {
	if len(list) > 2*keptErrors {
		return list[:2*keptErrors]
	}
	return list
}
