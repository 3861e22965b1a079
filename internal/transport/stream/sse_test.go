package stream_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// sseEvent is one parsed event; a comment (keep-alive) has only Comment set.
type sseEvent struct {
	Event   string
	Data    string
	Comment bool
}

// sseClient reads the event stream of one request.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// postSSE sends body as a graphql-sse request and returns the open stream.
func postSSE(t *testing.T, ts *httptest.Server, body string) *sseClient {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return doSSE(t, req)
}

func doSSE(t *testing.T, req *http.Request) *sseClient {
	t.Helper()
	// The deadline bounds every read of the stream.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	req = req.WithContext(ctx)
	req.Header.Set("Accept", "text/event-stream")
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return &sseClient{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// read returns the next event or comment.
func (c *sseClient) read() sseEvent {
	c.t.Helper()
	var ev sseEvent
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read event: %v (partial %+v)", err, ev)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return ev
		case strings.HasPrefix(line, ":"):
			ev.Comment = true
		case strings.HasPrefix(line, "event:"):
			ev.Event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			ev.Data = strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		default:
			c.t.Fatalf("unexpected line %q", line)
		}
	}
}

// readEvent returns the next event, skipping keep-alive comments.
func (c *sseClient) readEvent() sseEvent {
	c.t.Helper()
	for {
		if ev := c.read(); !ev.Comment {
			return ev
		}
	}
}

// expectNext asserts a next event carrying data (compared as JSON).
func (c *sseClient) expectNext(data string) {
	c.t.Helper()
	ev := c.readEvent()
	if ev.Event != "next" {
		c.t.Fatalf("got event %+v, want next %s", ev, data)
	}
	if diff := jsonDiff(c.t, data, ev.Data); diff != "" {
		c.t.Fatalf("next data mismatch (-want +got):\n%s", diff)
	}
}

// expectComplete asserts the complete event and the end of the stream.
func (c *sseClient) expectComplete() {
	c.t.Helper()
	if diff := cmp.Diff(sseEvent{Event: "complete"}, c.readEvent()); diff != "" {
		c.t.Fatalf("complete mismatch (-want +got):\n%s", diff)
	}
	if rest, err := io.ReadAll(c.r); err != nil || len(rest) != 0 {
		c.t.Fatalf("after complete: %q, %v; want end of stream", rest, err)
	}
}

func sseRequest(query string) string {
	return `{"query":` + quote(query) + `}`
}

func TestSSEStreamsNextEventsThenComplete(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, nil, &stream.SSE{})
	c := postSSE(t, ts, sseRequest(events("a")))

	want := http.Header{
		"Content-Type":      {"text/event-stream"},
		"Cache-Control":     {"no-cache"},
		"X-Accel-Buffering": {"no"},
	}
	got := http.Header{}
	for name := range want {
		got[name] = c.resp.Header.Values(name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers mismatch (-want +got):\n%s", diff)
	}
	if c.resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", c.resp.StatusCode)
	}

	sub := f.await(t, "a")
	sub.publish(t, "one")
	c.expectNext(`{"data":{"events":"one"}}`)
	sub.publish(t, "two")
	c.expectNext(`{"data":{"events":"two"}}`)
	sub.end()
	c.expectComplete()
}

func TestSSEQuery(t *testing.T) {
	t.Parallel()
	ts, _ := serve(t, nil, &stream.SSE{})
	c := postSSE(t, ts, sseRequest(`{ name }`))
	c.expectNext(`{"data":{"name":"test"}}`)
	c.expectComplete()
}

func TestSSEGetRequest(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, nil, &stream.SSE{})
	q := url.Values{
		"query":     {`subscription($t: String!) { events(topic: $t) }`},
		"variables": {`{"t":"a"}`},
	}
	req, err := http.NewRequest(http.MethodGet, ts.URL+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	c := doSSE(t, req)
	sub := f.await(t, "a")
	sub.publish(t, "one")
	c.expectNext(`{"data":{"events":"one"}}`)
	sub.end()
	c.expectComplete()
}

func TestSSEFailSendsErrorsThenComplete(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, nil, &stream.SSE{})
	c := postSSE(t, ts, sseRequest(events("a")))
	sub := f.await(t, "a")
	sub.fail(&gqlerror.Error{Message: "signed out", Extensions: map[string]any{"code": "UNAUTHENTICATED"}})
	c.expectNext(`{"errors":[{"message":"signed out","extensions":{"code":"UNAUTHENTICATED"}}]}`)
	c.expectComplete()
}

func TestSSEExpiryEndsStream(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, nil, &stream.SSE{
		Expiry: func(context.Context) time.Time { return time.Now().Add(100 * time.Millisecond) },
	})
	c := postSSE(t, ts, sseRequest(events("a")))
	sub := f.await(t, "a")
	c.expectNext(`{"errors":[{"message":"token expired","extensions":{"code":"UNAUTHENTICATED"}}]}`)
	c.expectComplete()
	sub.awaitCancel(t)
}

func TestSSEValidationErrorIsStreamed(t *testing.T) {
	t.Parallel()
	ts, _ := serve(t, nil, &stream.SSE{})
	c := postSSE(t, ts, sseRequest(`subscription { nope }`))
	if c.resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", c.resp.StatusCode)
	}
	c.expectNext(`{"errors":[{"message":"Cannot query field \"nope\" on type \"Subscription\".","locations":[{"line":1,"column":16}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`)
	c.expectComplete()
}

func TestSSEInvalidJSONIsBadRequest(t *testing.T) {
	t.Parallel()
	ts, _ := serve(t, nil, &stream.SSE{})
	c := postSSE(t, ts, `{"query":`)
	if c.resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", c.resp.StatusCode)
	}
	if ct := c.resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	body, err := io.ReadAll(c.resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if diff := jsonDiff(t, `{"errors":[{"message":"json request body could not be decoded: decode JSON: unexpected EOF"}]}`, string(body)); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

func TestSSEShutdownCompletesStreams(t *testing.T) {
	t.Parallel()
	sse := &stream.SSE{}
	ts, f := serve(t, nil, sse)
	c := postSSE(t, ts, sseRequest(events("a")))
	sub := f.await(t, "a")

	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- shutdownNow(sse) }()
	c.expectComplete()
	sub.awaitCancel(t)
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	late := postSSE(t, ts, sseRequest(events("b")))
	if late.resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status after shutdown %d, want 503", late.resp.StatusCode)
	}
}

func TestSSEKeepAlive(t *testing.T) {
	t.Parallel()
	ts, f := serve(t, nil, &stream.SSE{PingInterval: 10 * time.Millisecond})
	c := postSSE(t, ts, sseRequest(events("a")))
	f.await(t, "a")
	if diff := cmp.Diff(sseEvent{Comment: true}, c.read()); diff != "" {
		t.Fatalf("keep-alive mismatch (-want +got):\n%s", diff)
	}
}

func TestSSEOpenAndCloseHooksOnlyForSubscriptions(t *testing.T) {
	t.Parallel()
	var opened, closed atomic.Int32
	closedWith := make(chan context.Context, 2)
	sse := &stream.SSE{
		OnOpen: func(context.Context) { opened.Add(1) },
		OnClose: func(ctx context.Context) {
			closed.Add(1)
			closedWith <- ctx
		},
	}
	ts, f := serve(t, nil, sse)

	q := postSSE(t, ts, sseRequest(`{ name }`))
	q.expectNext(`{"data":{"name":"test"}}`)
	q.expectComplete()

	c := postSSE(t, ts, sseRequest(events("a")))
	sub := f.await(t, "a")
	if n := opened.Load(); n != 1 {
		t.Fatalf("OnOpen called %d times once the subscription started, want 1", n)
	}
	// The client goes away.
	if err := c.resp.Body.Close(); err != nil {
		t.Fatalf("close body: %v", err)
	}
	var ctx context.Context
	select {
	case ctx = <-closedWith:
	case <-time.After(waitFor):
		t.Fatal("OnClose was not called")
	}
	select {
	case <-sub.ctx.Done():
	default:
		t.Error("OnClose ran before the subscription was cancelled")
	}
	if ctx.Err() != nil {
		t.Errorf("OnClose context is cancelled: %v", ctx.Err())
	}
	if err := shutdownNow(sse); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if o, cl := opened.Load(), closed.Load(); o != 1 || cl != 1 {
		t.Errorf("OnOpen called %d times, OnClose %d times; want 1 and 1", o, cl)
	}
}
