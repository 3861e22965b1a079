package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// wsConn is one accepted WebSocket. The reader (serve's goroutine) owns the
// fields marked "reader only"; everything shared is behind mu or a channel.
type wsConn struct {
	opts wsOptions
	conn *websocket.Conn
	d    dialect
	req  *http.Request
	exec graphql.GraphExecutor

	// ctx is the connection's base context, cancelled when the connection
	// ends; Authenticate derives the operations' context from it.
	ctx    context.Context
	cancel context.CancelFunc

	out      chan frame     // encoded frames for the writer
	done     chan struct{}  // closed when the connection starts ending
	initSeen chan struct{}  // closed by the reader on connection_init
	authed   chan time.Time // the credential's expiry, sent once after ack
	wg       sync.WaitGroup // writer, timer and operation goroutines

	endOnce sync.Once
	code    websocket.StatusCode // written before done is closed
	reason  string

	mu      sync.Mutex
	ops     map[string]*operation
	closing bool // no new operation may start

	// reader only
	initReceived bool
	acked        bool
	opened       bool
	opCtx        context.Context
}

func newWSConn(opts wsOptions, conn *websocket.Conn, r *http.Request, exec graphql.GraphExecutor) *wsConn {
	ctx, cancel := context.WithCancel(r.Context())
	return &wsConn{
		opts:     opts,
		conn:     conn,
		d:        dialectFor(conn.Subprotocol()),
		req:      r,
		exec:     exec,
		ctx:      ctx,
		cancel:   cancel,
		out:      make(chan frame, opts.sendQueue),
		done:     make(chan struct{}),
		initSeen: make(chan struct{}),
		authed:   make(chan time.Time, 1),
		ops:      map[string]*operation{},
		opCtx:    ctx,
	}
}

// serve runs the connection until it ends and every goroutine it started has
// returned; stop closes on server shutdown.
func (c *wsConn) serve(stop <-chan struct{}) {
	defer c.cancel()
	c.wg.Add(1)
	go c.writeLoop(stop)

	c.readLoop()
	c.wg.Wait()

	if c.opened && c.opts.onClose != nil {
		c.opts.onClose(context.WithoutCancel(c.opCtx))
	}
}

// end starts ending the connection with a close code and reason; only the
// first call counts. The writer flushes the frames already queued, then sends
// the close frame. Operations are cancelled after done is closed so that none
// of them mistakes the cancellation for a normal completion.
func (c *wsConn) end(code websocket.StatusCode, reason string) {
	c.endOnce.Do(func() {
		c.code, c.reason = code, closeReason(reason)
		close(c.done)

		c.mu.Lock()
		c.closing = true
		for _, op := range c.ops {
			op.cancel()
		}
		c.mu.Unlock()
		c.cancel()
	})
}

// ending reports whether end has been called.
func (c *wsConn) ending() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// readLoop reads and handles client messages until the connection ends. It
// reads with a context that is never cancelled because cancelling a read would
// tear the socket down without the close frame; the writer's Close unblocks it.
func (c *wsConn) readLoop() {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			// The peer closed or vanished, or we closed: either way this
			// connection is over. A normal close needs no further frame.
			c.end(websocket.StatusNormalClosure, "")
			return
		}
		if c.ending() {
			return
		}
		if !c.handle(data, graphql.Now()) {
			return
		}
	}
}

// handle dispatches one client message. It returns false when the connection
// is ending and no further message must be handled.
func (c *wsConn) handle(data []byte, received time.Time) bool {
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return c.reject(fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type))
		}
		return c.reject("invalid JSON")
	}

	switch {
	case m.Type == "":
		return c.reject("missing type")
	case m.Type == msgConnectionInit:
		return c.initialise(m)
	case m.Type == c.d.subscribe:
		return c.subscribe(m, received)
	case m.Type == c.d.stop:
		return c.stop(m)
	case m.Type == msgPing && !c.d.legacy:
		return c.send(outbound{Type: msgPong, Payload: m.Payload})
	case m.Type == msgPong && !c.d.legacy:
		return true
	case m.Type == msgConnectionTerminate && c.d.legacy:
		c.end(websocket.StatusNormalClosure, "")
		return false
	default:
		return c.reject(fmt.Sprintf("unknown type %q", m.Type))
	}
}

// reject ends the connection because of a malformed message.
func (c *wsConn) reject(problem string) bool {
	c.end(closeBadRequest, reasonInvalidMessage+problem)
	return false
}

// initialise handles connection_init: authenticate, acknowledge, open.
func (c *wsConn) initialise(m inbound) bool {
	if c.initReceived {
		c.end(closeTooManyInits, reasonTooManyInits)
		return false
	}
	c.initReceived = true
	close(c.initSeen)

	var initPayload map[string]any
	if m.hasPayload() {
		if err := json.Unmarshal(m.Payload, &initPayload); err != nil {
			return c.reject(fmt.Sprintf("%q payload is not an object", msgConnectionInit))
		}
	}

	ctx, expires := c.ctx, time.Time{}
	if c.opts.authenticate != nil {
		authCtx, exp, err := c.opts.authenticate(c.ctx, c.req, initPayload)
		if err != nil {
			return c.forbid(err.Error())
		}
		if authCtx != nil {
			ctx = authCtx
		}
		expires = exp
	}
	if !expires.IsZero() && !time.Now().Before(expires) {
		return c.forbid(reasonTokenExpired)
	}
	if c.ending() {
		// The init timeout or a shutdown won the race against Authenticate.
		return false
	}

	c.opCtx = ctx
	c.acked = true
	if !c.send(outbound{Type: msgConnectionAck}) {
		return false
	}
	if c.d.legacy && !c.sendEncoded(c.d.keepAlive) {
		return false
	}
	c.authed <- expires
	c.opened = true
	if c.opts.onOpen != nil {
		c.opts.onOpen(ctx)
	}
	return true
}

// forbid refuses the connection's credential.
func (c *wsConn) forbid(reason string) bool {
	if c.d.legacy {
		payload, err := json.Marshal(map[string]string{"message": reason})
		if err == nil {
			c.send(outbound{Type: msgConnectionError, Payload: payload})
		}
	}
	c.end(closeForbidden, reason)
	return false
}

// send queues a frame for the writer, blocking while the queue is full. It
// returns false when the connection ended first.
func (c *wsConn) send(m outbound) bool {
	b, err := json.Marshal(m)
	if err != nil {
		// Payloads are encoded JSON by construction; failing here is a bug.
		c.end(websocket.StatusInternalError, "internal error")
		return false
	}
	return c.sendEncoded(b)
}

// sendEncoded queues an encoded frame; see send.
func (c *wsConn) sendEncoded(b []byte) bool {
	select {
	case c.out <- frame{b: b}:
		return true
	case <-c.done:
		return false
	}
}

// sendErrors queues an error message for operation id.
func (c *wsConn) sendErrors(id string, errs gqlerror.List) bool {
	payload, err := c.d.errorPayload(errs)
	if err != nil {
		payload, _ = c.d.errorPayload(gqlerror.List{{Message: "internal error"}})
	}
	return c.send(outbound{ID: id, Type: msgError, Payload: payload})
}

// writeLoop is the connection's only writer of messages, so frames never
// interleave and a slow client costs one blocked goroutine (coder/websocket
// itself answers WebSocket-level pings and close frames, under its own lock).
// It also keeps the connection's time: the initialisation timeout, the
// keep-alive, the credential's expiry, and server shutdown (stop), so that a
// connection needs no goroutine of its own for timers. Once the connection is
// ending it flushes what was queued before (a connection_error must precede
// the close frame) and performs the close handshake.
func (c *wsConn) writeLoop(stop <-chan struct{}) {
	defer c.wg.Done()

	initTimer := time.NewTimer(c.opts.initTimeout)
	defer initTimer.Stop()
	initTimeout, initSeen, authed := initTimer.C, c.initSeen, c.authed
	var ping *time.Ticker
	var expiry *time.Timer
	var keepAlive, expired <-chan time.Time
	defer func() {
		if ping != nil {
			ping.Stop()
		}
		if expiry != nil {
			expiry.Stop()
		}
	}()

	for {
		select {
		case f := <-c.out:
			if err := c.write(f); err != nil {
				c.abort()
				return
			}
		case <-c.done:
			for n := len(c.out); n > 0; n-- {
				if err := c.write(<-c.out); err != nil {
					c.abort()
					return
				}
			}
			// Close waits a bounded time (5s in coder/websocket) for the
			// peer's close frame, then drops the connection, which also ends
			// the reader's Read.
			_ = c.conn.Close(c.code, c.reason)
			return
		case <-initSeen:
			initSeen, initTimeout = nil, nil
			initTimer.Stop()
		case <-initTimeout:
			initTimeout = nil
			c.end(closeInitTimeout, reasonInitTimeout)
		case expires := <-authed:
			authed = nil
			ping = time.NewTicker(c.opts.pingInterval)
			keepAlive = ping.C
			if !expires.IsZero() {
				expiry = time.NewTimer(time.Until(expires))
				expired = expiry.C
			}
		case <-keepAlive:
			// Frames waiting to be written keep the connection alive anyway.
			if len(c.out) == 0 {
				if err := c.write(frame{b: c.d.keepAlive}); err != nil {
					c.abort()
					return
				}
			}
		case <-expired:
			expired = nil
			c.end(closeForbidden, reasonTokenExpired)
		case <-stop:
			stop = nil
			c.end(websocket.StatusServiceRestart, reasonServiceRestart)
		}
	}
}

// frame is an encoded message queued for the writer.
type frame struct {
	b []byte
	// result marks a subscription result, counted as a delivery once
	// written; committed is when its event committed, if known.
	result    bool
	committed time.Time
}

// write sends one frame within the write timeout. On timeout coder/websocket
// drops the connection.
func (c *wsConn) write(f frame) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.writeTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, f.b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if f.result {
		c.opts.observer.Delivered(TransportWebSocket, f.committed)
	}
	return nil
}

// abort drops a connection that can no longer be written to.
func (c *wsConn) abort() {
	c.end(websocket.StatusGoingAway, "write failed")
	_ = c.conn.CloseNow()
}
