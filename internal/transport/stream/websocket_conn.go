package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	exec graphql.GraphExecutor
	// req is the upgrade request, kept only until connection_init has been
	// handled; header keeps what operations see of it (OperationHeaders).
	req    *http.Request
	header http.Header

	// ctx is the connection's base context, cancelled when the connection
	// ends; Authenticate derives the operations' context from it.
	ctx    context.Context
	cancel context.CancelFunc

	done    chan struct{}  // closed when the connection starts ending
	wg      sync.WaitGroup // operation goroutines and pushed operations
	writers sync.WaitGroup // the writer goroutine, while it runs

	// The send queue, written out by a goroutine that runs only while
	// there is something to write (see kickLocked).
	outMu     sync.Mutex
	pending   []frame
	spare     []frame       // the other half of the double buffer
	writing   bool          // the writer goroutine runs
	closeSent bool          // the close frame has been written
	space     chan struct{} // a token when the queue has room again

	// callbacks of timers and shutdown that are running; cbClosed refuses
	// new ones once the connection is being torn down
	cbMu      sync.Mutex
	cbClosed  bool
	callbacks sync.WaitGroup

	// timers, stopped when the connection ends
	timerMu   sync.Mutex
	initTimer *time.Timer
	keepAlive *time.Timer
	expiry    *time.Timer

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
		opts:   opts,
		conn:   conn,
		d:      dialectFor(conn.protocol),
		req:    r,
		header: keepHeaders(r.Header, opts.operationHeaders),
		exec:   exec,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		space:  make(chan struct{}, 1),
		ops:    map[string]*operation{},
		opCtx:  ctx,
	}
}

// keepHeaders copies the named headers of h; nil when none is present.
func keepHeaders(h http.Header, names []string) http.Header {
	var kept http.Header
	for _, name := range names {
		if v := h.Values(name); len(v) > 0 {
			if kept == nil {
				kept = http.Header{}
			}
			kept[http.CanonicalHeaderKey(name)] = slices.Clone(v)
		}
	}
	return kept
}

// serve runs the connection until it ends and every goroutine it started has
// returned; stop is done on server shutdown. The connection's timers and the
// shutdown run as callbacks (time.AfterFunc, context.AfterFunc), and the
// writer runs only while there is something to write, so an idle connection
// costs one goroutine, its reader, plus its operations.
func (c *wsConn) serve(stop context.Context) {
	defer c.cancel()
	c.timerMu.Lock()
	c.initTimer = time.AfterFunc(c.opts.initTimeout, c.guard(func() { c.end(closeInitTimeout, reasonInitTimeout) }))
	c.timerMu.Unlock()
	stopWatch := context.AfterFunc(stop, c.guard(func() { c.end(statusServiceRestart, reasonServiceRestart) }))

	c.readLoop()
	c.wg.Wait()
	stopWatch()
	c.stopTimers()
	c.cbMu.Lock()
	c.cbClosed = true
	c.cbMu.Unlock()
	c.callbacks.Wait() // a callback that had started may still be ending the connection
	c.writers.Wait()
	_ = c.conn.conn.Close()

	if c.opened && c.opts.onClose != nil {
		c.opts.onClose(context.WithoutCancel(c.opCtx))
	}
}

// startTimers arms the keep-alive and the credential's expiry once the
// connection is acknowledged.
func (c *wsConn) startTimers(expires time.Time) {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.ending() {
		return
	}
	c.keepAlive = time.AfterFunc(c.opts.pingInterval, c.guard(c.ping))
	if !expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(expires), c.guard(func() { c.end(closeForbidden, reasonTokenExpired) }))
	}
}

// guard wraps a timer or shutdown callback so that serve can wait for one
// that has started before the connection is torn down, and so that none
// starts after.
func (c *wsConn) guard(fn func()) func() {
	return func() {
		c.cbMu.Lock()
		if c.cbClosed {
			c.cbMu.Unlock()
			return
		}
		c.callbacks.Add(1)
		c.cbMu.Unlock()
		defer c.callbacks.Done()
		fn()
	}
}

// ping sends the keep-alive unless frames are waiting, which keep the
// connection alive anyway, and sets itself again.
func (c *wsConn) ping() {
	if c.ending() {
		return
	}
	c.outMu.Lock()
	idle := len(c.pending) == 0
	c.outMu.Unlock()
	if idle {
		c.tryEnqueue(frame{head: c.d.keepAlive})
	}
	c.timerMu.Lock()
	if c.keepAlive != nil && !c.ending() {
		c.keepAlive.Reset(c.opts.pingInterval)
	}
	c.timerMu.Unlock()
}

// stopTimers stops every timer of the connection.
func (c *wsConn) stopTimers() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	for _, t := range []*time.Timer{c.initTimer, c.keepAlive, c.expiry} {
		if t != nil {
			t.Stop()
		}
	}
}

// end starts ending the connection with a close code and reason; only the
// first call counts. The frames already queued are flushed, then the close
// frame. Operations are cancelled after done is closed so that none of them
// mistakes the cancellation for a normal completion.
func (c *wsConn) end(code ws.StatusCode, reason string) {
	first := false
	c.endOnce.Do(func() {
		first = true
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
	if first {
		c.stopTimers()
		c.outMu.Lock()
		c.kickLocked()
		c.outMu.Unlock()
	}
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
			c.tryEnqueue(frame{op: ws.OpPong, head: in.payload})
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
	req := c.req
	c.req = nil // an idle connection need not keep the request
	c.timerMu.Lock()
	c.initTimer.Stop()
	c.timerMu.Unlock()

	var initPayload map[string]any
	if m.hasPayload() {
		if err := json.Unmarshal(m.Payload, &initPayload); err != nil {
			return c.reject(fmt.Sprintf("%q payload is not an object", msgConnectionInit))
		}
	}

	ctx, expires := c.ctx, time.Time{}
	if c.opts.authenticate != nil {
		authCtx, exp, err := c.opts.authenticate(c.ctx, req, initPayload)
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
	c.startTimers(expires)
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
	return c.enqueue(frame{head: b}, nil, nil)
}

// enqueue queues f and writes the queue out unless another goroutine is
// doing so. While the queue is full it waits for room, and gives up,
// reporting false, when the connection ends or cancel or abort closes first.
func (c *wsConn) enqueue(f frame, cancel, abort <-chan struct{}) bool {
	c.outMu.Lock()
	for len(c.pending) >= c.opts.sendQueue {
		c.outMu.Unlock()
		select {
		case <-c.space:
		case <-c.done:
			return false
		case <-cancel:
			return false
		case <-abort:
			return false
		}
		c.outMu.Lock()
	}
	if c.ending() {
		c.outMu.Unlock()
		return false
	}
	c.pending = append(c.pending, f)
	c.kickLocked()
	c.outMu.Unlock()
	return true
}

// tryEnqueue queues f unless the queue is full: an answer to a ping or a
// keep-alive may be dropped when frames are flowing anyway.
func (c *wsConn) tryEnqueue(f frame) {
	c.outMu.Lock()
	if len(c.pending) >= c.opts.sendQueue || c.ending() {
		c.outMu.Unlock()
		return
	}
	c.pending = append(c.pending, f)
	c.kickLocked()
	c.outMu.Unlock()
}

// kickLocked starts a writer goroutine unless one is running; outMu is
// held. The writer exists only while there is something to write: an idle
// connection has none, and a producer never waits for the socket, so the
// frames queued while a write is under way go out together in the next one.
func (c *wsConn) kickLocked() {
	if c.writing {
		return
	}
	c.writing = true
	c.writers.Add(1)
	c.opts.workers.Go(c.drain)
}

// drain writes the queue out, with one system call per batch, until it is
// empty. Once the connection is ending, it writes the close frame after the
// last batch and gives the peer closeWait to answer before the reader stops
// waiting.
func (c *wsConn) drain() {
	defer c.writers.Done()
	c.outMu.Lock()
	for {
		batch := c.pending
		if len(batch) == 0 {
			if !c.ending() || c.closeSent {
				break
			}
			c.closeSent = true
			batch = append(batch, closeFrame(c.code, c.reason))
		}
		c.pending = c.spare[:0]
		c.outMu.Unlock()
		select {
		case c.space <- struct{}{}:
		default:
		}
		err := c.write(batch)
		closing := batch[len(batch)-1].op == ws.OpClose
		clear(batch) // let the written bytes go
		c.outMu.Lock()
		c.spare = batch[:0]
		if err != nil {
			c.writing = false
			c.outMu.Unlock()
			c.abort()
			return
		}
		if closing {
			// The peer answers with its close frame, which ends the reader;
			// one that does not is cut off after closeWait.
			_ = c.conn.conn.SetReadDeadline(time.Now().Add(closeWait))
		}
	}
	c.writing = false
	c.outMu.Unlock()
}

// sendErrors queues an error message for operation id.
func (c *wsConn) sendErrors(id string, errs gqlerror.List) bool {
	payload, err := c.d.errorPayload(errs)
	if err != nil {
		payload, _ = c.d.errorPayload(gqlerror.List{{Message: "internal error"}})
	}
	return c.send(outbound{ID: id, Type: msgError, Payload: payload})
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
