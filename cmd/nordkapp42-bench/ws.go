package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// Transports the tool speaks.
const (
	transportWS     = "ws"     // graphql-transport-ws
	transportLegacy = "legacy" // graphql-ws (Apollo subscriptions-transport-ws)
	transportSSE    = "sse"    // graphql-sse, distinct connections mode
)

// wsFrame is one protocol message of either WebSocket subprotocol.
type wsFrame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var (
	nextType = []byte(`"type":"next"`)
	dataType = []byte(`"type":"data"`)
)

// dialWS connects s over WebSocket, initialises the connection with its token,
// starts its subscription and its reader goroutine.
func (g *group) dialWS(ctx context.Context, s *subscriber, client *http.Client, token string, vars map[string]any) error {
	legacy := g.spec.Transport == transportLegacy
	proto, start := "graphql-transport-ws", "subscribe"
	if legacy {
		proto, start = "graphql-ws", "start"
	}
	u := "ws" + strings.TrimPrefix(g.spec.URL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{ //nolint:bodyclose // the handshake response has no body left to read
		HTTPClient:   client,
		Subprotocols: []string{proto},
	})
	if err != nil {
		return fmt.Errorf("websocket dial: %w", err)
	}
	fail := func(err error) error {
		_ = conn.CloseNow()
		return err
	}
	if err := writeFrame(ctx, conn, wsFrame{Type: "connection_init", Payload: mustJSON(map[string]string{"Authorization": "Bearer " + token})}); err != nil {
		return fail(fmt.Errorf("connection_init: %w", err))
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return fail(fmt.Errorf("wait for connection_ack: %w", err))
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return fail(fmt.Errorf("wait for connection_ack: %w", err))
		}
		if f.Type == "connection_ack" {
			break
		}
		if f.Type != "ka" && f.Type != "ping" {
			return fail(fmt.Errorf("want connection_ack, got %.200s", data))
		}
	}
	sub := wsFrame{ID: "1", Type: start, Payload: mustJSON(map[string]any{"query": roomEventsQuery, "variables": vars})}
	if err := writeFrame(ctx, conn, sub); err != nil {
		return fail(fmt.Errorf("subscribe: %w", err))
	}
	s.close = func() { _ = conn.CloseNow() }
	g.readers.Go(func() { s.end(g.readWS(conn, s)) })
	return nil
}

// readWS reads s's frames until the subscription or the connection ends;
// it returns nil when the server completed the subscription.
func (g *group) readWS(conn *websocket.Conn, s *subscriber) error {
	for {
		_, data, err := conn.Read(g.ctx)
		if err != nil {
			return err
		}
		if bytes.Contains(data, nextType) || bytes.Contains(data, dataType) {
			s.handle(data)
			continue
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("bad frame %.200s: %w", data, err)
		}
		switch f.Type {
		case "ping":
			if err := writeFrame(g.ctx, conn, wsFrame{Type: "pong"}); err != nil {
				return err
			}
		case "ka", "pong":
		case "complete":
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return nil
		default:
			_ = conn.CloseNow()
			return fmt.Errorf("frame %.300s", data)
		}
	}
}

func writeFrame(ctx context.Context, conn *websocket.Conn, f wsFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only ever called with maps of strings
	}
	return b
}
