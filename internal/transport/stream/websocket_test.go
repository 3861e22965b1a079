package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

func TestWebSocketSubscriptionStreamsUntilComplete(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, f := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", events("a"))
			sub := f.await(t, "a")
			sub.publish(t, "one")
			c.expectNext("1", `{"data":{"events":"one"}}`)
			sub.publish(t, "two")
			c.expectNext("1", `{"data":{"events":"two"}}`)
			sub.end()
			c.expectComplete("1")
		})
	}
}

// TestWebSocketOperationsSeeTheNamedHeaders: operations see the upgrade
// request's headers named in OperationHeaders, and no other, while
// Authenticate sees them all.
func TestWebSocketOperationsSeeTheNamedHeaders(t *testing.T) {
	t.Parallel()
	authSaw := make(chan string, 1)
	ts, f := serve(t, &stream.WebSocket{
		OperationHeaders: []string{"traceparent", "X-Absent"},
		Authenticate: func(ctx context.Context, r *http.Request, payload map[string]any) (context.Context, time.Time, error) {
			authSaw <- r.Header.Get("Cookie")
			return withIdentity(ctx, r, payload)
		},
	}, nil)
	header := http.Header{}
	header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	header.Set("Cookie", "session=secret")
	c := dialWithHeader(t, ts, transportWS, header)
	c.init("")
	if got := <-authSaw; got != "session=secret" {
		t.Errorf("Authenticate saw Cookie %q, want the request's", got)
	}
	c.subscribe("1", events("h"))
	got := graphql.GetOperationContext(f.await(t, "h").ctx).Headers
	want := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operation headers (-want +got):\n%s", diff)
	}
}

func TestWebSocketMultiplexesOperations(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, f := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", events("a"))
			a := f.await(t, "a")
			c.subscribe("2", events("b"))
			b := f.await(t, "b")

			b.publish(t, "b1")
			c.expectNext("2", `{"data":{"events":"b1"}}`)
			a.publish(t, "a1")
			c.expectNext("1", `{"data":{"events":"a1"}}`)
			a.end()
			c.expectComplete("1")
			b.publish(t, "b2")
			c.expectNext("2", `{"data":{"events":"b2"}}`)
			b.end()
			c.expectComplete("2")
		})
	}
}

func TestWebSocketClientStopCancelsOperation(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, f := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", events("a"))
			first := f.await(t, "a")
			c.stopOp("1")
			first.awaitCancel(t)
			if p.legacy {
				// subscriptions-transport-ws answers stop with complete.
				c.expectComplete("1")
			} else {
				// graphql-transport-ws sends nothing back.
				c.expectNothingPending()
			}

			// The id is free again at once.
			c.subscribe("1", events("a"))
			second := f.await(t, "a")
			second.publish(t, "again")
			c.expectNext("1", `{"data":{"events":"again"}}`)
		})
	}
}

func TestWebSocketQueriesAndMutations(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("q", `query { name }`)
			c.expectNext("q", `{"data":{"name":"test"}}`)
			c.expectComplete("q")
			c.subscribe("m", `mutation { name }`)
			c.expectNext("m", `{"data":{"name":"renamed"}}`)
			c.expectComplete("m")
		})
	}
}

func TestWebSocketServesGqlgenTestServer(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ws := &stream.WebSocket{}
			srv := testserver.New()
			srv.AddTransport(ws)
			ts := httptestServer(t, srv)
			t.Cleanup(func() { shutdown(t, ws) })
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", `query { name }`)
			c.expectNext("1", `{"data":{"name":"test"}}`)
			c.expectComplete("1")
		})
	}
}

func TestWebSocketOperationErrorSendsErrorWithoutComplete(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", `subscription { nope }`)
			c.expectErrors("1",
				`Cannot query field "nope" on type "Subscription".`,
				`[{"message":"Cannot query field \"nope\" on type \"Subscription\".","locations":[{"line":1,"column":16}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]`)
			c.expectNothingPending()
		})
	}
}

func TestWebSocketFailSendsTerminalError(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, f := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			c.subscribe("1", events("a"))
			sub := f.await(t, "a")
			sub.publish(t, "one")
			c.expectNext("1", `{"data":{"events":"one"}}`)
			sub.fail(&gqlerror.Error{
				Message:    "subscriber fell behind",
				Extensions: map[string]any{"code": "SLOW_CONSUMER"},
			})
			c.expectErrors("1", "subscriber fell behind",
				`[{"message":"subscriber fell behind","extensions":{"code":"SLOW_CONSUMER"}}]`)
			c.expectNothingPending()
		})
	}
}

func TestFailWithoutTransportIsNoOp(t *testing.T) {
	t.Parallel()
	// Nothing to observe but the absence of a panic.
	stream.Fail(context.Background(), &gqlerror.Error{Message: "x"})
}

func TestWebSocketSubscriptionLimit(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts, f := serve(t, &stream.WebSocket{}, nil)
			c := dial(t, ts, p)
			c.init("")

			for i := 1; i <= 100; i++ {
				c.subscribe(fmt.Sprint(i), events(fmt.Sprint("t", i)))
			}
			c.subscribe("101", events("t101"))
			c.expectErrors("101", "too many subscriptions on one connection (limit 100)",
				`[{"message":"too many subscriptions on one connection (limit 100)","extensions":{"code":"RATE_LIMITED"}}]`)

			// The socket is still usable: freeing a slot lets a new one in.
			c.stopOp("1")
			f.await(t, "t1").awaitCancel(t)
			if p.legacy {
				c.expectComplete("1")
			}
			c.subscribe("101", events("t101"))
			sub := f.await(t, "t101")
			sub.publish(t, "in")
			c.expectNext("101", `{"data":{"events":"in"}}`)
		})
	}
}

func TestWebSocketSubscriptionLimitIsConfigurable(t *testing.T) {
	t.Parallel()
	ts, _ := serve(t, &stream.WebSocket{MaxSubscriptions: 1}, nil)
	c := dial(t, ts, transportWS)
	c.init("")

	c.subscribe("1", events("a"))
	c.subscribe("2", events("b"))
	c.expectErrors("2", "", `[{"message":"too many subscriptions on one connection (limit 1)","extensions":{"code":"RATE_LIMITED"}}]`)
}

func TestWebSocketCloseCodes(t *testing.T) {
	t.Parallel()
	refuse := func(context.Context, *http.Request, map[string]any) (context.Context, time.Time, error) {
		return nil, time.Time{}, errors.New("invalid token")
	}
	shortLived := func(ctx context.Context, _ *http.Request, _ map[string]any) (context.Context, time.Time, error) {
		return ctx, time.Now().Add(100 * time.Millisecond), nil
	}
	fixed := func(reason string) func(protocol) string {
		return func(protocol) string { return reason }
	}
	tests := []struct {
		name   string
		ws     func() *stream.WebSocket // nil: defaults
		steps  func(c *wsClient)
		code   websocket.StatusCode
		reason func(p protocol) string
	}{
		{
			name:   "subscribe before ack",
			steps:  func(c *wsClient) { c.subscribe("1", events("a")) },
			code:   4401,
			reason: fixed("Unauthorized"),
		},
		{
			name: "unknown message type",
			steps: func(c *wsClient) {
				c.init("")
				c.send(`{"type":"hello"}`)
			},
			code:   4400,
			reason: fixed(`Invalid message received: unknown type "hello"`),
		},
		{
			name:   "invalid JSON",
			steps:  func(c *wsClient) { c.send(`{"type":`) },
			code:   4400,
			reason: fixed("Invalid message received: invalid JSON"),
		},
		{
			name:   "message without type",
			steps:  func(c *wsClient) { c.send(`{"id":"1"}`) },
			code:   4400,
			reason: fixed("Invalid message received: missing type"),
		},
		{
			name:   "id of the wrong type",
			steps:  func(c *wsClient) { c.send(`{"id":1,"type":"connection_init"}`) },
			code:   4400,
			reason: fixed(`Invalid message received: field "id" must be a string`),
		},
		{
			name: "subscribe without id",
			steps: func(c *wsClient) {
				c.init("")
				c.send(`{"type":"` + c.p.subscribe + `","payload":{"query":"{ name }"}}`)
			},
			code: 4400,
			reason: func(p protocol) string {
				return fmt.Sprintf("Invalid message received: %q without id", p.subscribe)
			},
		},
		{
			name: "subscribe without payload",
			steps: func(c *wsClient) {
				c.init("")
				c.send(`{"id":"1","type":"` + c.p.subscribe + `"}`)
			},
			code: 4400,
			reason: func(p protocol) string {
				return fmt.Sprintf("Invalid message received: %q without payload", p.subscribe)
			},
		},
		{
			name: "subscribe payload that is not a request",
			steps: func(c *wsClient) {
				c.init("")
				c.send(`{"id":"1","type":"` + c.p.subscribe + `","payload":"{ name }"}`)
			},
			code: 4400,
			reason: func(p protocol) string {
				return fmt.Sprintf("Invalid message received: %q payload is not a GraphQL request", p.subscribe)
			},
		},
		{
			name: "second connection_init",
			steps: func(c *wsClient) {
				c.init("")
				c.send(`{"type":"connection_init"}`)
			},
			code:   4429,
			reason: fixed("Too many initialisation requests"),
		},
		{
			name: "id already active",
			steps: func(c *wsClient) {
				c.init("")
				c.subscribe("1", events("a"))
				c.subscribe("1", events("b"))
			},
			code:   4409,
			reason: fixed("Subscriber for 1 already exists"),
		},
		{
			name:   "no connection_init in time",
			ws:     func() *stream.WebSocket { return &stream.WebSocket{InitTimeout: 100 * time.Millisecond} },
			steps:  func(*wsClient) {},
			code:   4408,
			reason: fixed("Connection initialisation timeout"),
		},
		{
			name: "Authenticate refuses",
			ws:   func() *stream.WebSocket { return &stream.WebSocket{Authenticate: refuse} },
			steps: func(c *wsClient) {
				c.send(`{"type":"connection_init","payload":{"token":"bad"}}`)
				if c.p.legacy {
					c.expect(`{"type":"connection_error","payload":{"message":"invalid token"}}`)
				}
			},
			code:   4403,
			reason: fixed("invalid token"),
		},
		{
			name: "credential expires while open",
			ws:   func() *stream.WebSocket { return &stream.WebSocket{Authenticate: shortLived} },
			steps: func(c *wsClient) {
				c.init("")
				c.subscribe("1", events("a"))
			},
			code:   4403,
			reason: fixed("token expired"),
		},
	}
	for _, tt := range tests {
		for _, p := range protocols {
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				ws := &stream.WebSocket{}
				if tt.ws != nil {
					ws = tt.ws()
				}
				ts, _ := serve(t, ws, nil)
				c := dial(t, ts, p)
				tt.steps(c)
				c.expectClose(tt.code, tt.reason(p))
			})
		}
	}
}

func TestWebSocketExpiryCancelsOperations(t *testing.T) {
	t.Parallel()
	expires := make(chan time.Time, 1)
	ws := &stream.WebSocket{
		Authenticate: func(ctx context.Context, _ *http.Request, _ map[string]any) (context.Context, time.Time, error) {
			return ctx, <-expires, nil
		},
	}
	ts, f := serve(t, ws, nil)
	c := dial(t, ts, transportWS)
	expires <- time.Now().Add(200 * time.Millisecond)
	c.init("")
	c.subscribe("1", events("a"))
	sub := f.await(t, "a")

	c.expectClose(4403, "token expired")
	sub.awaitCancel(t)
}

func TestWebSocketLongCloseReasonIsTruncated(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	ws := &stream.WebSocket{
		Authenticate: func(context.Context, *http.Request, map[string]any) (context.Context, time.Time, error) {
			return nil, time.Time{}, errors.New(long)
		},
	}
	ts, _ := serve(t, ws, nil)
	c := dial(t, ts, transportWS)
	c.send(`{"type":"connection_init"}`)
	// 123 bytes fit in a close frame; the cut falls inside a 2-byte rune, so
	// the reason stops one byte earlier.
	c.expectClose(4403, strings.Repeat("é", 61))
}

func TestWebSocketPingPong(t *testing.T) {
	t.Parallel()
	ts, _ := serve(t, &stream.WebSocket{}, nil)
	c := dial(t, ts, transportWS)

	// ping is allowed before connection_init.
	c.send(`{"type":"ping","payload":{"seq":1}}`)
	c.expect(`{"type":"pong","payload":{"seq":1}}`)
	c.init("")
	c.send(`{"type":"pong"}`) // ignored
	c.send(`{"type":"ping"}`)
	c.expect(`{"type":"pong"}`)
}

func TestWebSocketServerKeepAlive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    protocol
		want string
	}{
		{transportWS, `{"type":"ping"}`},
		{legacyWS, `{"type":"ka"}`},
	}
	for _, tt := range tests {
		t.Run(tt.p.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := serve(t, &stream.WebSocket{PingInterval: 20 * time.Millisecond}, nil)
			c := dial(t, ts, tt.p)
			c.init("") // legacy: also asserts the ka right after the ack
			c.expect(tt.want)
			c.expect(tt.want)
		})
	}
}

func TestWebSocketWithoutSubprotocolIsLegacy(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, &stream.WebSocket{}, nil)
	c := dial(t, ts, protocol{name: "", legacy: true, subscribe: "start", stop: "stop", next: "data"})
	c.init("") // expects connection_ack then ka

	c.subscribe("1", events("a"))
	sub := f.await(t, "a")
	sub.publish(t, "one")
	c.expectNext("1", `{"data":{"events":"one"}}`)
	c.send(`{"type":"connection_terminate"}`)
	c.expectClose(websocket.StatusNormalClosure, "")
}

func TestWebSocketOpenAndCloseHooks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expires time.Duration
		end     func(t *testing.T, ws *stream.WebSocket, c *wsClient)
	}{
		{
			name: "client closes",
			end: func(t *testing.T, _ *stream.WebSocket, c *wsClient) {
				if err := c.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
					t.Fatalf("close: %v", err)
				}
			},
		},
		{
			name:    "credential expires",
			expires: 100 * time.Millisecond,
			end: func(_ *testing.T, _ *stream.WebSocket, c *wsClient) {
				c.expectClose(4403, "token expired")
			},
		},
		{
			name: "server shuts down",
			end: func(t *testing.T, ws *stream.WebSocket, c *wsClient) {
				shutdownErr := make(chan error, 1)
				go func() { shutdownErr <- shutdownNow(ws) }()
				c.expectClose(websocket.StatusServiceRestart, "service restart")
				if err := <-shutdownErr; err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opened, closed atomic.Int32
			closedWith := make(chan context.Context, 2)
			ws := &stream.WebSocket{
				Authenticate: func(ctx context.Context, r *http.Request, payload map[string]any) (context.Context, time.Time, error) {
					ctx, _, err := withIdentity(ctx, r, payload)
					var exp time.Time
					if tt.expires > 0 {
						exp = time.Now().Add(tt.expires)
					}
					return ctx, exp, err
				},
				OnOpen: func(ctx context.Context) {
					if ctx.Value(ctxKey{}) == "alice" {
						opened.Add(1)
					}
				},
				OnClose: func(ctx context.Context) {
					closed.Add(1)
					closedWith <- ctx
				},
			}
			ts, f := serve(t, ws, nil)
			c := dial(t, ts, transportWS)
			c.init(`{"token":"alice"}`)
			c.subscribe("1", events("a"))
			sub := f.await(t, "a")
			if got := sub.ctx.Value(ctxKey{}); got != "alice" {
				t.Errorf("resolver context identity = %v, want alice", got)
			}

			tt.end(t, ws, c)

			var ctx context.Context
			select {
			case ctx = <-closedWith:
			case <-time.After(waitFor):
				t.Fatal("OnClose was not called")
			}
			// OnClose runs after every operation has stopped.
			select {
			case <-sub.ctx.Done():
			default:
				t.Error("OnClose ran before the operation was cancelled")
			}
			if got := ctx.Value(ctxKey{}); got != "alice" {
				t.Errorf("OnClose context identity = %v, want alice", got)
			}
			if ctx.Err() != nil {
				t.Errorf("OnClose context is cancelled: %v", ctx.Err())
			}
			// Shutdown returns once every handler, OnClose included, is done.
			if err := shutdownNow(ws); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if o, cl := opened.Load(), closed.Load(); o != 1 || cl != 1 {
				t.Errorf("OnOpen called %d times, OnClose %d times; want 1 and 1", o, cl)
			}
		})
	}
}

func TestWebSocketHooksSkippedWithoutInit(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ws := &stream.WebSocket{
		OnOpen:  func(context.Context) { calls.Add(1) },
		OnClose: func(context.Context) { calls.Add(1) },
	}
	ts, _ := serve(t, ws, nil)
	c := dial(t, ts, transportWS)
	c.send(`{"type":"hello"}`)
	c.expectClose(4400, `Invalid message received: unknown type "hello"`)
	if err := shutdownNow(ws); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("hooks called %d times for a connection never opened", n)
	}
}

func TestWebSocketShutdownClosesWithServiceRestart(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ws := &stream.WebSocket{}
			ts, f := serve(t, ws, nil)
			c := dial(t, ts, p)
			c.init("")
			c.subscribe("1", events("a"))
			sub := f.await(t, "a")

			shutdownErr := make(chan error, 1)
			go func() { shutdownErr <- shutdownNow(ws) }()
			c.expectClose(websocket.StatusServiceRestart, "service restart")
			sub.awaitCancel(t)
			if err := <-shutdownErr; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			// Later connections are turned away the same way.
			late := dial(t, ts, p)
			late.expectClose(websocket.StatusServiceRestart, "service restart")
		})
	}
}

// shutdownNow shuts ws down, waiting at most waitFor.
func shutdownNow(ws interface{ Shutdown(context.Context) error }) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return ws.Shutdown(ctx)
}

// shutdown shuts a transport down from a cleanup.
func shutdown(t *testing.T, ws interface{ Shutdown(context.Context) error }) {
	t.Helper()
	if err := shutdownNow(ws); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
