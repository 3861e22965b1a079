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
	"github.com/gobwas/ws"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// wsConn is one accepted WebSocket. The reader (serve's goroutine) owns the
// fields marked "reader only"; everything shared is behind mu or a channel.
type wsConn struct {
	opts wsOptions
	conn *wsIO
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
	code    ws.StatusCode // written before done is closed
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

func newWSConn(opts wsOptions, conn *wsIO, r *http.Request, exec graphql.GraphExecutor) *wsConn {
	ctx, cancel := context.WithCancel(r.Context())
	return &wsConn{
		opts:     opts,
		conn:     conn,
		d:        dialectFor(conn.protocol),
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
	_ = c.conn.conn.Close()

	if c.opened && c.opts.onClose != nil {
		c.opts.onClose(context.WithoutCancel(c.opCtx))
	}
}

// end starts ending the connection with a close code and reason; only the
// first call counts. The writer flushes the frames already queued, then sends
// the close frame. Operations are cancelled after done is closed so that none
// of them mistakes the cancellation for a normal completion.
func (c *wsConn) end(code ws.StatusCode, reason string) {
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

// readLoop reads and handles client messages until the connection ends: the
// peer closes or vanishes, or the writer, having sent our close frame, gives
// the peer a few seconds to answer and then closes the socket.
func (c *wsConn) readLoop() {
	for {
		in, err := c.conn.read()
		switch {
		case errors.Is(err, errMessageTooBig):
			c.end(ws.StatusMessageTooBig, "message too big")
			return
		case err != nil, in.op == ws.OpClose:
			// The peer closed or vanished, or we closed: either way this
			// connection is over. A close from the peer is answered with
			// a normal close.
			c.end(ws.StatusNormalClosure, "")
			return
		case in.op == ws.OpPing:
			c.trySend(frame{op: ws.OpPong, head: in.payload})
			continue
		case in.op == ws.OpPong:
			continue
		}
		if c.ending() {
			return
		}
		if !c.handleShallow(in.payload, graphql.Now()) {
			return
		}
	}
}

// handleShallow runs handle on a goroutine of its own and waits for it.
// Handling a message (parsing and validating an operation) needs a deep
// stack, and a goroutine's stack stays as large as it ever grew until the
// collector shrinks it, halving at most once per cycle: done here, the
// reader, which then waits idle for hours, keeps a minimal stack.
func (c *wsConn) handleShallow(data []byte, received time.Time) bool {
	result := make(chan bool, 1)
	go func() { result <- c.handle(data, received) }()
	return <-result
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
		c.end(ws.StatusNormalClosure, "")
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
		c.end(ws.StatusInternalServerError, "internal error")
		return false
	}
	return c.sendEncoded(b)
}

// sendEncoded queues an encoded frame; see send.
func (c *wsConn) sendEncoded(b []byte) bool {
	select {
	case c.out <- frame{head: b}:
		return true
	case <-c.done:
		return false
	}
}

// trySend queues a frame unless the queue is full: an answer to a ping may
// be dropped when frames are flowing anyway.
func (c *wsConn) trySend(f frame) {
	select {
	case c.out <- f:
	default:
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

// writeLoop is the connection's only writer, so frames never interleave and
// a slow client costs one blocked goroutine; it writes every frame waiting in
// the queue with one flush (answers to WebSocket pings included). It also
// keeps the connection's time: the initialisation timeout, the
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

	batch := make([]frame, 0, 8)
	for {
		select {
		case f := <-c.out:
			// Everything queued goes out with one flush.
			batch = append(batch[:0], f)
			for n := len(c.out); n > 0; n-- {
				batch = append(batch, <-c.out)
			}
			err := c.write(batch)
			clear(batch) // let the written bytes go
			if err != nil {
				c.abort()
				return
			}
		case <-c.done:
			batch = batch[:0]
			for n := len(c.out); n > 0; n-- {
				batch = append(batch, <-c.out)
			}
			batch = append(batch, closeFrame(c.code, c.reason))
			if err := c.write(batch); err != nil {
				c.abort()
				return
			}
			// The peer answers with its close frame, which ends the reader;
			// one that does not is cut off after closeWait.
			_ = c.conn.conn.SetReadDeadline(time.Now().Add(closeWait))
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
				if err := c.write([]frame{{head: c.d.keepAlive}}); err != nil {
					c.abort()
					return
				}
			}
		case <-expired:
			expired = nil
			c.end(closeForbidden, reasonTokenExpired)
		case <-stop:
			stop = nil
			c.end(statusServiceRestart, reasonServiceRestart)
		}
	}
}

// frame is an encoded message queued for the writer: head, then body, then
// tail when it is not zero, in one WebSocket frame. A pushed result is the
// operation's prefix, the shared result bytes and the closing brace, so it
// is never copied into a buffer of its own.
type frame struct {
	op   ws.OpCode // zero: text
	head []byte
	body []byte
	tail byte
	// result marks a subscription result, counted as a delivery once
	// written; committed is when its event committed, if known.
	result    bool
	committed time.Time
}

// write sends frames with one flush within the write timeout; a client that
// does not take them in time is cut off.
func (c *wsConn) write(frames []frame) error {
	if err := c.conn.writeFrames(frames, c.opts.writeTimeout); err != nil {
		return err
	}
	for _, f := range frames {
		if f.result {
			c.opts.observer.Delivered(TransportWebSocket, f.committed)
		}
	}
	return nil
}

// abort drops a connection that can no longer be written to.
func (c *wsConn) abort() {
	c.end(ws.StatusGoingAway, "write failed")
	_ = c.conn.conn.Close()
}
