package stream

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Pusher serves subscriptions by pushing their results into a Sink instead of
// having the transport pull them from the executor. A pushed subscription
// costs the connection no goroutine, and a result that many subscribers share
// can be executed and encoded once for all of them (see the graphql
// package's cohorts).
type Pusher interface {
	// Push starts the subscription of rc and reports true, or reports false
	// and leaves rc to the executor. ctx is the operation's context: it is
	// cancelled when the client stops the operation or the connection ends,
	// and it carries the connection's values but not rc, so that keeping ctx
	// does not keep the parsed request; Push adds rc where it needs it.
	// Once Push has reported true it calls sink.End exactly once, possibly
	// before returning, and no Result after it.
	Push(ctx context.Context, rc *graphql.OperationContext, sink Sink) bool
}

// Sink takes the results of one pushed subscription.
type Sink interface {
	// Result queues one result, the encoded JSON of a whole GraphQL response
	// ({"data":…}). The transport writes it as it is, without a copy, some
	// time after Result returns: resp must not change afterwards, and may be
	// shared by any number of subscriptions. committed is when the result's event
	// committed, zero if unknown. Result blocks while the connection's queue
	// is full and returns false, dropping the result, when the operation or
	// connection ends or abort closes first.
	Result(resp []byte, committed time.Time, abort <-chan struct{}) bool
	// End ends the subscription: normally with a nil err, else with err as
	// its terminal error, as Fail does for pulled subscriptions.
	End(err *gqlerror.Error)
}

// wsSink is the Sink of one pushed WebSocket operation.
type wsSink struct {
	c      *wsConn
	op     *operation
	done   <-chan struct{} // the operation's context is done
	prefix []byte
	f      *fate
	once   sync.Once
}

func (s *wsSink) Result(resp []byte, committed time.Time, abort <-chan struct{}) bool {
	// A stopped operation takes no more results, even with room in the queue.
	select {
	case <-s.done:
		return false
	default:
	}
	return s.c.enqueue(frame{head: s.prefix, body: resp, tail: '}', result: true, committed: committed}, s.done, abort)
}

func (s *wsSink) End(err *gqlerror.Error) {
	s.once.Do(func() {
		if err != nil {
			s.f.set(err)
		}
		s.c.finish(s.op, s.f)
	})
}
