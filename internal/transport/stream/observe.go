package stream

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Transport names given to an Observer.
const (
	TransportWebSocket = "websocket"
	TransportSSE       = "sse"
)

// Observer hears what the transports do, for metrics. Its methods are called
// from many goroutines and must not block.
type Observer interface {
	// ConnectionOpened and ConnectionClosed bracket a WebSocket connection or
	// an SSE subscription stream.
	ConnectionOpened(transport string)
	ConnectionClosed(transport string)
	// SubscriptionStarted and SubscriptionEnded bracket a subscription; kind
	// is its root field, so it is bounded by the schema.
	SubscriptionStarted(kind string)
	SubscriptionEnded(kind string)
	// Delivered is called once a subscription result has been written to the
	// client. committed is when its event committed (see Committed), zero
	// when nobody said.
	Delivered(transport string, committed time.Time)
}

// noObserver is the Observer of transports that were given none.
type noObserver struct{}

func (noObserver) ConnectionOpened(string)     {}
func (noObserver) ConnectionClosed(string)     {}
func (noObserver) SubscriptionStarted(string)  {}
func (noObserver) SubscriptionEnded(string)    {}
func (noObserver) Delivered(string, time.Time) {}

func observerOr(o Observer) Observer {
	if o == nil {
		return noObserver{}
	}
	return o
}

// commitTimes queues the commit times of the events a subscription's
// resolver has handed to the executor but the transport has not written
// yet. Every event becomes exactly one result, in order, so the transport
// takes the oldest time after each result it pulls.
type commitTimes struct {
	mu    sync.Mutex
	times []time.Time
}

type commitTimesKey struct{}

// withCommitTimes gives a subscription's context a queue of commit times.
func withCommitTimes(ctx context.Context) (context.Context, *commitTimes) {
	c := &commitTimes{}
	return context.WithValue(ctx, commitTimesKey{}, c), c
}

// Committed tells the transport serving the subscription of ctx when the
// event behind its next result was committed, so that the result's delivery
// latency can be measured once it is written. Call it once per event, in
// order, before handing the event over; outside these transports it does
// nothing.
func Committed(ctx context.Context, at time.Time) {
	c, ok := ctx.Value(commitTimesKey{}).(*commitTimes)
	if !ok {
		return
	}
	c.mu.Lock()
	c.times = append(c.times, at)
	c.mu.Unlock()
}

// next takes the commit time of the result just pulled; zero when none was
// recorded.
func (c *commitTimes) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.times) == 0 {
		return time.Time{}
	}
	at := c.times[0]
	c.times = c.times[1:]
	if len(c.times) == 0 {
		c.times = nil // let the backing array go between bursts
	}
	return at
}

// subscriptionKind is the root field of a subscription operation, or "" for
// queries and mutations.
func subscriptionKind(rc *graphql.OperationContext) string {
	if rc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return ""
	}
	for _, sel := range rc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			return f.Name
		}
	}
	return "unknown"
}
