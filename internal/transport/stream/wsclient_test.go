package stream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
)

// protocol describes one subprotocol as a raw client sees it.
type protocol struct {
	name      string // offered subprotocol, "" for none
	legacy    bool
	subscribe string
	stop      string
	next      string
}

var (
	transportWS = protocol{name: "graphql-transport-ws", subscribe: "subscribe", stop: "complete", next: "next"}
	legacyWS    = protocol{name: "graphql-ws", legacy: true, subscribe: "start", stop: "stop", next: "data"}
	protocols   = []protocol{transportWS, legacyWS}
)

// wsClient is a raw protocol client: it sends text frames and asserts the
// exact frames and close status it receives.
type wsClient struct {
	t    *testing.T
	p    protocol
	conn *websocket.Conn
}

func dial(t *testing.T, ts *httptest.Server, p protocol) *wsClient {
	t.Helper()
	return dialWithHeader(t, ts, p, nil)
}

// dialWithHeader dials with extra request headers.
func dialWithHeader(t *testing.T, ts *httptest.Server, p protocol, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: header}
	if p.name != "" {
		opts.Subprotocols = []string{p.name}
	}
	conn, _, err := websocket.Dial(ctx, wsURL(ts), opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := conn.Subprotocol(); got != p.name {
		t.Fatalf("negotiated subprotocol %q, want %q", got, p.name)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &wsClient{t: t, p: p, conn: conn}
}

// send writes one text frame.
func (c *wsClient) send(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("send %s: %v", frame, err)
	}
}

// read returns the next frame.
func (c *wsClient) read() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	return string(data), err
}

// expect asserts that the next frame equals want as JSON.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	got, err := c.read()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", want, err)
	}
	if diff := jsonDiff(c.t, want, got); diff != "" {
		c.t.Fatalf("frame mismatch (-want +got):\n%s", diff)
	}
}

// expectClose asserts that the server closes the socket with code and reason,
// sending no other frame first.
func (c *wsClient) expectClose(code websocket.StatusCode, reason string) {
	c.t.Helper()
	got, err := c.read()
	if err == nil {
		c.t.Fatalf("got frame %s, want close %d %q", got, code, reason)
	}
	if status := websocket.CloseStatus(err); status != code {
		c.t.Fatalf("close status %d (%v), want %d", status, err, code)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Reason != reason {
		c.t.Fatalf("close reason %q, want %q", ce.Reason, reason)
	}
}

// init performs connection_init and expects the acknowledgement (plus the
// legacy keep-alive that follows it).
func (c *wsClient) init(payload string) {
	c.t.Helper()
	if payload == "" {
		c.send(`{"type":"connection_init"}`)
	} else {
		c.send(`{"type":"connection_init","payload":` + payload + `}`)
	}
	c.expect(`{"type":"connection_ack"}`)
	if c.p.legacy {
		c.expect(`{"type":"ka"}`)
	}
}

// subscribe starts operation id with query.
func (c *wsClient) subscribe(id, query string) {
	c.t.Helper()
	c.send(`{"id":"` + id + `","type":"` + c.p.subscribe + `","payload":{"query":` + quote(query) + `}}`)
}

// stopOp stops operation id.
func (c *wsClient) stopOp(id string) {
	c.t.Helper()
	c.send(`{"id":"` + id + `","type":"` + c.p.stop + `"}`)
}

// expectNext asserts a result frame for id.
func (c *wsClient) expectNext(id, result string) {
	c.t.Helper()
	c.expect(`{"id":"` + id + `","type":"` + c.p.next + `","payload":` + result + `}`)
}

// expectComplete asserts a complete frame for id.
func (c *wsClient) expectComplete(id string) {
	c.t.Helper()
	c.expect(`{"id":"` + id + `","type":"complete"}`)
}

// expectErrors asserts an error frame for id carrying errs, a JSON array, in
// the shape of the subprotocol.
func (c *wsClient) expectErrors(id, firstMessage, errs string) {
	c.t.Helper()
	payload := errs
	if c.p.legacy {
		payload = `{"message":` + quote(firstMessage) + `,"errors":` + errs + `}`
	}
	c.expect(`{"id":"` + id + `","type":"error","payload":` + payload + `}`)
}

// expectNothingPending proves no frame is queued ahead of a fresh round trip:
// a ping in graphql-transport-ws, a query in legacy (which has no ping).
func (c *wsClient) expectNothingPending() {
	c.t.Helper()
	if c.p.legacy {
		c.subscribe("probe", `{ name }`)
		c.expectNext("probe", `{"data":{"name":"test"}}`)
		c.expectComplete("probe")
		return
	}
	c.send(`{"type":"ping"}`)
	c.expect(`{"type":"pong"}`)
}

// events is the subscription query on topic.
func events(topic string) string {
	return `subscription { events(topic: ` + quote(topic) + `) }`
}
