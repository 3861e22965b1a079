package stream_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// recorder is an Observer that writes down every call.
type recorder struct {
	mu    sync.Mutex
	calls []string
	times []time.Time // the committed times given to Delivered
}

func (r *recorder) add(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

func (r *recorder) ConnectionOpened(transport string) { r.add("open " + transport) }
func (r *recorder) ConnectionClosed(transport string) { r.add("close " + transport) }
func (r *recorder) SubscriptionStarted(kind string)   { r.add("start " + kind) }
func (r *recorder) SubscriptionEnded(kind string)     { r.add("end " + kind) }
func (r *recorder) Delivered(transport string, committed time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "delivered "+transport)
	r.times = append(r.times, committed)
}

// await waits until the recorded calls are want, in any order: a delivery
// is recorded once written, which may be after the operation has ended.
func (r *recorder) await(t *testing.T, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(waitFor)
	for {
		r.mu.Lock()
		got := slices.Sorted(slices.Values(r.calls))
		r.mu.Unlock()
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observer calls (-want +got):\n%s", cmp.Diff(want, got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) committed() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.times)
}

func TestWebSocketObserverSeesConnectionSubscriptionAndDeliveries(t *testing.T) {
	t.Parallel()
	obs := &recorder{}
	pusher := &pushed{subs: make(chan pushedSub, 1)}
	ts, f := serve(t, &stream.WebSocket{Observer: obs, Pusher: pusher}, nil)
	c := dial(t, ts, transportWS)
	c.init("")

	// A query is no subscription and no delivery.
	c.subscribe("q", `{ name }`)
	c.expectNext("q", `{"data":{"name":"test"}}`)
	c.expectComplete("q")

	// A pushed result carries the commit time the Pusher gives.
	c.subscribe("1", events("pushed"))
	s := pusher.await(t)
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	s.sink.Result([]byte(`{"data":{"events":"live"}}`), at, nil)
	c.expectNext("1", `{"data":{"events":"live"}}`)
	s.sink.End(nil)
	c.expectComplete("1")

	// A pulled one has none.
	c.subscribe("2", events("a"))
	sub := f.await(t, "a")
	sub.publish(t, "pulled")
	c.expectNext("2", `{"data":{"events":"pulled"}}`)
	sub.end()
	c.expectComplete("2")
	obs.await(t, "open websocket", "start events", "delivered websocket", "end events",
		"start events", "delivered websocket", "end events")
	if diff := cmp.Diff([]time.Time{at, {}}, obs.committed()); diff != "" {
		t.Errorf("committed times (-want +got):\n%s", diff)
	}

	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	obs.await(t, "open websocket", "start events", "delivered websocket", "end events",
		"start events", "delivered websocket", "end events", "close websocket")
}

func TestSSEObserverSeesStreamAndDeliveries(t *testing.T) {
	t.Parallel()
	obs := &recorder{}
	pusher := &pushed{subs: make(chan pushedSub, 1)}
	ts, f := serve(t, nil, &stream.SSE{Observer: obs, Pusher: pusher})

	q := postSSE(t, ts, sseRequest(`{ name }`))
	q.expectNext(`{"data":{"name":"test"}}`)
	q.expectComplete()

	c := postSSE(t, ts, sseRequest(events("pushed")))
	s := pusher.await(t)
	for i := range 3 {
		s.sink.Result(fmt.Appendf(nil, `{"data":{"events":"%d"}}`, i), time.Unix(int64(1000+i), 0), nil)
		c.expectNext(fmt.Sprintf(`{"data":{"events":"%d"}}`, i))
	}
	s.sink.End(nil)
	c.expectComplete()

	c = postSSE(t, ts, sseRequest(events("a")))
	sub := f.await(t, "a")
	sub.publish(t, "pulled")
	c.expectNext(`{"data":{"events":"pulled"}}`)
	sub.end()
	c.expectComplete()

	obs.await(t, "open sse", "start events", "delivered sse", "delivered sse", "delivered sse", "end events", "close sse",
		"open sse", "start events", "delivered sse", "end events", "close sse")
	want := []time.Time{time.Unix(1000, 0), time.Unix(1001, 0), time.Unix(1002, 0), {}}
	if diff := cmp.Diff(want, obs.committed()); diff != "" {
		t.Errorf("committed times (-want +got):\n%s", diff)
	}
}
