package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// pushed is a Pusher that takes the subscriptions to topic "pushed" and
// hands each one's sink and context to the test.
type pushed struct {
	subs chan pushedSub
}

type pushedSub struct {
	ctx  context.Context
	sink stream.Sink
}

func (p *pushed) Push(ctx context.Context, rc *graphql.OperationContext, sink stream.Sink) bool {
	if rc.RawQuery != events("pushed") {
		return false
	}
	p.subs <- pushedSub{ctx: ctx, sink: sink}
	return true
}

func (p *pushed) await(t *testing.T) pushedSub {
	t.Helper()
	select {
	case s := <-p.subs:
		return s
	case <-time.After(waitFor):
		t.Fatal("no subscription was pushed")
		return pushedSub{}
	}
}

func TestWebSocketPushedSubscription(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			pusher := &pushed{subs: make(chan pushedSub, 4)}
			obs := &recorder{}
			ts, f := serve(t, &stream.WebSocket{Pusher: pusher, Observer: obs}, nil)
			c := dial(t, ts, p)
			c.init("")

			// Ends normally after two results.
			c.subscribe("1", events("pushed"))
			s := pusher.await(t)
			if graphql.HasOperationContext(s.ctx) {
				// A pushed subscription keeps its context: the parsed request
				// must not come with it.
				t.Error("the context given to Push carries the OperationContext")
			}
			if !s.sink.Result([]byte(`{"data":{"events":"one"}}`), time.Unix(7, 0), nil) {
				t.Fatal("Result refused on a live operation")
			}
			s.sink.Result([]byte(`{"data":{"events":"two"}}`), time.Time{}, nil)
			c.expectNext("1", `{"data":{"events":"one"}}`)
			c.expectNext("1", `{"data":{"events":"two"}}`)
			s.sink.End(nil)
			s.sink.End(nil) // only the first End counts
			c.expectComplete("1")

			// Ends with a terminal error.
			c.subscribe("2", events("pushed"))
			s = pusher.await(t)
			s.sink.End(&gqlerror.Error{Message: "too slow", Extensions: map[string]any{"code": "SLOW_CONSUMER"}})
			c.expectErrors("2", "too slow", `[{"message":"too slow","extensions":{"code":"SLOW_CONSUMER"}}]`)

			// Stopped by the client: its context ends, Result refuses.
			c.subscribe("3", events("pushed"))
			s = pusher.await(t)
			c.stopOp("3")
			select {
			case <-s.ctx.Done():
			case <-time.After(waitFor):
				t.Fatal("stop did not cancel the pushed operation")
			}
			if s.sink.Result([]byte(`{"data":null}`), time.Time{}, nil) {
				t.Error("Result accepted after the client stopped the operation")
			}
			s.sink.End(nil)
			if p.legacy {
				c.expectComplete("3")
			}

			// Other subscriptions are still pulled.
			c.subscribe("4", events("a"))
			sub := f.await(t, "a")
			sub.publish(t, "pulled")
			c.expectNext("4", `{"data":{"events":"pulled"}}`)
			sub.end()
			c.expectComplete("4")
			c.expectNothingPending()
		})
	}
}

func TestSSEPushedSubscription(t *testing.T) {
	t.Parallel()
	pusher := &pushed{subs: make(chan pushedSub, 4)}
	obs := &recorder{}
	ts, _ := serve(t, nil, &stream.SSE{Pusher: pusher, Observer: obs})

	c := postSSE(t, ts, sseRequest(events("pushed")))
	s := pusher.await(t)
	if !s.sink.Result([]byte(`{"data":{"events":"one"}}`), time.Unix(7, 0), nil) {
		t.Fatal("Result refused on a live stream")
	}
	c.expectNext(`{"data":{"events":"one"}}`)
	s.sink.End(nil)
	c.expectComplete()
	obs.await(t, "open sse", "start events", "delivered sse", "end events", "close sse")

	c = postSSE(t, ts, sseRequest(events("pushed")))
	s = pusher.await(t)
	s.sink.End(&gqlerror.Error{Message: "too slow", Extensions: map[string]any{"code": "SLOW_CONSUMER"}})
	c.expectNext(`{"errors":[{"message":"too slow","extensions":{"code":"SLOW_CONSUMER"}}]}`)
	c.expectComplete()
}
