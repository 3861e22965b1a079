package stream

import (
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
	// client. committed is when its event committed, as the Pusher said
	// (Sink.Result); zero for results pulled from the executor.
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
