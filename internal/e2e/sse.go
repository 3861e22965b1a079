package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSEEvent is one Server-Sent Event: its type (next or complete) and data.
type SSEEvent struct {
	Event string
	Data  string
}

// SSEStream is one GraphQL operation streamed over Server-Sent Events, the
// "distinct connections" mode of graphql-sse. A reader goroutine parses the
// events as they arrive into a buffer the test consumes, so the connection
// is always read promptly.
type SSEStream struct {
	// Status and Header are those of the response.
	Status int
	Header http.Header

	cancel context.CancelFunc
	events chan SSEEvent
	done   chan struct{}
	mu     sync.Mutex
	err    error // why the reader stopped; io.EOF when the server ended
}

// SSE posts an operation to /graphql with Accept: text/event-stream and
// the token (if any) in the Authorization header, and returns once the
// response headers arrived. The stream is closed when the test ends.
func (s *Server) SSE(t testing.TB, token, query string, vars map[string]any) *SSEStream {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	headers := time.AfterFunc(Wait, cancel) // bounds the wait for headers only
	resp, err := s.client.Do(req)           //nolint:bodyclose // the reader goroutine owns and closes the streaming body
	headers.Stop()
	if err != nil {
		cancel()
		t.Fatalf("SSE request: %v", err)
	}
	st := &SSEStream{
		Status: resp.StatusCode,
		Header: resp.Header,
		cancel: cancel,
		events: make(chan SSEEvent, 100_000),
		done:   make(chan struct{}),
	}
	go st.read(resp.Body)
	t.Cleanup(func() { st.Close(); <-st.done })
	return st
}

// read parses the event stream until it ends, then closes done.
func (st *SSEStream) read(body io.ReadCloser) {
	defer close(st.done)
	defer func() { _ = body.Close() }()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev SSEEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" || len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				st.events <- ev
			}
			ev, data = SSEEvent{}, nil
		case strings.HasPrefix(line, ":"):
			// A comment: keep-alive.
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				ev.Event = value
			case "data":
				data = append(data, value)
			}
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	st.mu.Lock()
	st.err = err
	st.mu.Unlock()
}

// Next returns the next event, failing the test when the stream ends or
// nothing arrives within Wait.
func (st *SSEStream) Next(t testing.TB) SSEEvent {
	t.Helper()
	select {
	case ev := <-st.events:
		return ev
	case <-st.done:
		select {
		case ev := <-st.events:
			return ev
		default:
		}
		t.Fatalf("SSE stream ended: %v", st.Err())
	case <-time.After(Wait):
		t.Fatalf("no SSE event within %s", Wait)
	}
	return SSEEvent{}
}

// NextResponse returns the next event, which must be a next event, as a
// GraphQL response.
func (st *SSEStream) NextResponse(t testing.TB) Response {
	t.Helper()
	ev := st.Next(t)
	if ev.Event != "next" {
		t.Fatalf("want a next event, got %q with data %q", ev.Event, ev.Data)
	}
	var r Response
	if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
		t.Fatalf("decode next event %q: %v", ev.Data, err)
	}
	return r
}

// NextData decodes the data of the next result into v, failing on errors.
func (st *SSEStream) NextData(t testing.TB, v any) {
	t.Helper()
	st.NextResponse(t).Decode(t, v)
}

// Ended waits until the server ends the stream, failing the test after
// Wait; events not consumed yet stay readable with Next.
func (st *SSEStream) Ended(t testing.TB) {
	t.Helper()
	select {
	case <-st.done:
	case <-time.After(Wait):
		t.Fatalf("SSE stream still open after %s", Wait)
	}
	if err := st.Err(); !errors.Is(err, io.EOF) {
		t.Fatalf("SSE stream broke off: %v", err)
	}
}

// Err returns why the stream stopped (io.EOF when the server ended it), or
// nil while it is open.
func (st *SSEStream) Err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Close disconnects, as a client going away does.
func (st *SSEStream) Close() { st.cancel() }
