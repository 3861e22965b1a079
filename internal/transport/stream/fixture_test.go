package stream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// waitFor bounds every wait of a test on an event.
const waitFor = 5 * time.Second

// feed is an executable schema whose subscriptions the test drives one by one.
// It follows gqlgen's handler/testserver, whose single shared channel cannot
// address one of several subscriptions nor reach a resolver's context (which
// Fail needs).
//
//	type Query { name: String! }
//	type Mutation { name: String! }
//	type Subscription { events(topic: String!): String! }
type feed struct {
	mu     sync.Mutex
	topics map[string]chan *feedSub
}

// feedSub is one running subscription resolver.
type feedSub struct {
	ctx    context.Context // the resolver's context
	events chan string     // unbuffered: a publish is a handoff to the resolver
}

func newFeed() *feed {
	return &feed{topics: map[string]chan *feedSub{}}
}

// slot returns the channel announcing the subscriptions of topic.
func (f *feed) slot(topic string) chan *feedSub {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.topics[topic]
	if !ok {
		ch = make(chan *feedSub, 256)
		f.topics[topic] = ch
	}
	return ch
}

// await returns the next subscription started on topic.
func (f *feed) await(t *testing.T, topic string) *feedSub {
	t.Helper()
	select {
	case s := <-f.slot(topic):
		return s
	case <-time.After(waitFor):
		t.Fatalf("no subscription to %q started", topic)
		return nil
	}
}

// publish hands v to the resolver, which turns it into one response.
func (s *feedSub) publish(t *testing.T, v string) {
	t.Helper()
	select {
	case s.events <- v:
	case <-time.After(waitFor):
		t.Fatalf("subscription did not take %q", v)
	}
}

// end closes the source stream normally.
func (s *feedSub) end() { close(s.events) }

// fail ends the source stream with a terminal error, as a resolver would.
func (s *feedSub) fail(err *gqlerror.Error) {
	stream.Fail(s.ctx, err)
	close(s.events)
}

// awaitCancel waits until the transport has cancelled the resolver.
func (s *feedSub) awaitCancel(t *testing.T) {
	t.Helper()
	select {
	case <-s.ctx.Done():
	case <-time.After(waitFor):
		t.Fatal("the subscription was not cancelled")
	}
}

func (f *feed) schema() graphql.ExecutableSchema {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		type Query { name: String! }
		type Mutation { name: String! }
		type Subscription { events(topic: String!): String! }
	`})
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return schema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) {
			return 0, false
		},
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			opCtx := graphql.GetOperationContext(ctx)
			switch opCtx.Operation.Operation {
			case ast.Query:
				return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"name":"test"}`)})
			case ast.Mutation:
				return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"name":"renamed"}`)})
			default:
				field := opCtx.Operation.SelectionSet[0].(*ast.Field)
				topic, _ := field.ArgumentMap(opCtx.Variables)["topic"].(string)
				sub := &feedSub{ctx: ctx, events: make(chan string)}
				f.slot(topic) <- sub
				return func(ctx context.Context) *graphql.Response {
					select {
					case <-ctx.Done():
						return nil
					case v, ok := <-sub.events:
						if !ok {
							return nil
						}
						data, err := json.Marshal(map[string]string{"events": v})
						if err != nil {
							panic(err)
						}
						return &graphql.Response{Data: data}
					}
				}
			}
		},
	}
}

// serve starts an HTTP server with the given transports on a fresh feed; a
// nil transport is left out. Cleanup shuts the transports down (waiting for
// their handlers) and stops the server.
func serve(t *testing.T, ws *stream.WebSocket, sse *stream.SSE) (*httptest.Server, *feed) {
	t.Helper()
	f := newFeed()
	srv := handler.New(f.schema())
	if ws != nil {
		srv.AddTransport(ws)
	}
	if sse != nil {
		srv.AddTransport(sse)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if ws != nil {
			if err := ws.Shutdown(ctx); err != nil {
				t.Errorf("WebSocket.Shutdown: %v", err)
			}
		}
		if sse != nil {
			if err := sse.Shutdown(ctx); err != nil {
				t.Errorf("SSE.Shutdown: %v", err)
			}
		}
	})
	return ts, f
}

// wsURL turns an httptest URL into a WebSocket one.
func wsURL(ts *httptest.Server) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// jsonDiff compares two JSON documents by value.
func jsonDiff(t *testing.T, want, got string) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return "got is not JSON: " + got
	}
	return cmp.Diff(w, g)
}

// ctxKey carries an identity through Authenticate in tests.
type ctxKey struct{}

// withIdentity is an Authenticate that accepts everyone, puts the token of the
// init payload in the context and never expires.
func withIdentity(ctx context.Context, _ *http.Request, payload map[string]any) (context.Context, time.Time, error) {
	return context.WithValue(ctx, ctxKey{}, payload["token"]), time.Time{}, nil
}

// quote encodes s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// httptestServer serves h until the test ends.
func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
