package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Subprotocols of GraphQL over WebSocket.
const (
	TransportWS = "graphql-transport-ws" // the graphql-ws npm client
	LegacyWS    = "graphql-ws"           // Apollo subscriptions-transport-ws
)

// Wait bounds every wait of a test client.
const Wait = 10 * time.Second

// Frame is one protocol message.
type Frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WS is a GraphQL WebSocket test client. A reader goroutine sorts incoming
// frames by operation id so several subscriptions can share the socket.
type WS struct {
	t      testing.TB
	proto  string
	conn   *websocket.Conn
	mu     sync.Mutex
	ops    map[string]chan Frame
	other  chan Frame
	closed chan struct{}
	err    error // why the reader stopped
}

// DialWS opens a socket with the subprotocol and sends connection_init with
// payload; it returns once the server acknowledged (or fails the test).
func (s *Server) DialWS(t testing.TB, proto string, payload map[string]any) *WS {
	t.Helper()
	w := s.DialWSRaw(t, proto)
	w.Send(Frame{Type: "connection_init", Payload: mustJSON(payload)})
	if f := w.NextOther(t); f.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", f)
	}
	return w
}

// DialWSRaw opens a socket without initialising it.
func (s *Server) DialWSRaw(t testing.TB, proto string) *WS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	conn, _, err := websocket.Dial( //nolint:bodyclose // the handshake response has no body left to read
		ctx, "ws://"+s.Addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(8 << 20)
	w := &WS{t: t, proto: proto, conn: conn, ops: map[string]chan Frame{}, other: make(chan Frame, 64), closed: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { _ = conn.CloseNow(); <-w.closed })
	return w
}

// BearerPayload is the connection_init payload carrying a token.
func BearerPayload(token string) map[string]any {
	return map[string]any{"Authorization": "Bearer " + token}
}

func (w *WS) read() {
	defer close(w.closed)
	for {
		_, data, err := w.conn.Read(context.Background())
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var f Frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		if f.Type == "ka" || f.Type == "ping" || f.Type == "pong" {
			if f.Type == "ping" {
				w.Send(Frame{Type: "pong"})
			}
			continue
		}
		ch := w.other
		if f.ID != "" {
			ch = w.op(f.ID)
		}
		ch <- f
	}
}

func (w *WS) op(id string) chan Frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.ops[id]
	if !ok {
		ch = make(chan Frame, 100_000)
		w.ops[id] = ch
	}
	return ch
}

// Send writes one frame.
func (w *WS) Send(f Frame) {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	b, _ := json.Marshal(f)
	_ = w.conn.Write(ctx, websocket.MessageText, b)
}

// SendRaw writes one text frame as given.
func (w *WS) SendRaw(text string) {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	_ = w.conn.Write(ctx, websocket.MessageText, []byte(text))
}

// Subscribe starts operation id.
func (w *WS) Subscribe(id, query string, vars map[string]any) {
	typ := "subscribe"
	if w.proto == LegacyWS {
		typ = "start"
	}
	w.op(id)
	w.Send(Frame{ID: id, Type: typ, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
}

// Stop ends operation id.
func (w *WS) Stop(id string) {
	typ := "complete"
	if w.proto == LegacyWS {
		typ = "stop"
	}
	w.Send(Frame{ID: id, Type: typ})
}

// Next returns the next frame of operation id: a next/data, error or complete.
func (w *WS) Next(t testing.TB, id string) Frame {
	t.Helper()
	select {
	case f := <-w.op(id):
		if f.Type == "data" {
			f.Type = "next"
		}
		return f
	case <-w.closed:
		select {
		case f := <-w.op(id):
			if f.Type == "data" {
				f.Type = "next"
			}
			return f
		default:
		}
		t.Fatalf("socket closed while waiting for %s: %v", id, w.Err())
	case <-time.After(Wait):
		t.Fatalf("no frame for %s within %s", id, Wait)
	}
	return Frame{}
}

// NextData returns the data of the next result of operation id, failing on
// anything else.
func (w *WS) NextData(t testing.TB, id string, v any) {
	t.Helper()
	f := w.Next(t, id)
	if f.Type != "next" {
		t.Fatalf("want next for %s, got %s %s", id, f.Type, f.Payload)
	}
	var r Response
	if err := json.Unmarshal(f.Payload, &r); err != nil {
		t.Fatal(err)
	}
	r.Decode(t, v)
}

// NextOther returns the next frame without an id (ack, connection_error).
func (w *WS) NextOther(t testing.TB) Frame {
	t.Helper()
	select {
	case f := <-w.other:
		return f
	case <-w.closed:
		t.Fatalf("socket closed: %v", w.Err())
	case <-time.After(Wait):
		t.Fatalf("no frame within %s", Wait)
	}
	return Frame{}
}

// Closed waits for the server to close the socket and returns the close code
// and reason.
func (w *WS) Closed(t testing.TB) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case <-w.closed:
	case <-time.After(Wait):
		t.Fatalf("socket still open after %s", Wait)
	}
	err := w.Err()
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return websocket.CloseStatus(err), ""
}

// Err returns why the socket stopped reading, or nil while it is open.
func (w *WS) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes the socket normally.
func (w *WS) Close() { _ = w.conn.Close(websocket.StatusNormalClosure, "") }

func mustJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// IsCode reports whether a frame's payload carries an error with code.
func IsCode(f Frame, code string) bool {
	return strings.Contains(string(f.Payload), `"code":"`+code+`"`)
}

// Errors returns the GraphQL errors a frame carries: the payload of an error
// frame (an array in graphql-transport-ws, {message, errors} in graphql-ws),
// the errors of a result, or the message of a legacy connection_error.
func (f Frame) Errors() []Error {
	var list []Error
	if json.Unmarshal(f.Payload, &list) == nil {
		return list
	}
	var obj struct {
		Message string  `json:"message"`
		Errors  []Error `json:"errors"`
	}
	if json.Unmarshal(f.Payload, &obj) != nil {
		return nil
	}
	if len(obj.Errors) == 0 && obj.Message != "" {
		return []Error{{Message: obj.Message}}
	}
	return obj.Errors
}

// Proto returns the subprotocol the socket speaks.
func (w *WS) Proto() string { return w.proto }

// Poll returns the next frame of operation id like Next, but reports false
// instead of failing when timeout fires or the socket closes first, for
// tests that repeat an action until the server reacts.
func (w *WS) Poll(id string, timeout <-chan time.Time) (Frame, bool) {
	select {
	case f := <-w.op(id):
		if f.Type == "data" {
			f.Type = "next"
		}
		return f, true
	case <-w.closed:
		return Frame{}, false
	case <-timeout:
		return Frame{}, false
	}
}
