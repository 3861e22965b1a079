package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// operation is one active operation of a connection.
type operation struct {
	id     string
	cancel context.CancelFunc
	kind   string // the subscription's root field; "" for others
}

// subscribe handles subscribe (legacy: start): validate, then hand a
// subscription to the Pusher, or run the operation in its own goroutine.
func (c *wsConn) subscribe(m inbound, received time.Time) bool {
	if !c.acked {
		c.end(closeUnauthorized, reasonUnauthorized)
		return false
	}
	if m.ID == "" {
		return c.reject(fmt.Sprintf("%q without id", m.Type))
	}
	if !m.hasPayload() {
		return c.reject(fmt.Sprintf("%q without payload", m.Type))
	}

	// Only this goroutine adds operations, so the checks stay true until the
	// operation is registered below.
	c.mu.Lock()
	_, taken := c.ops[m.ID]
	active := len(c.ops)
	c.mu.Unlock()
	if taken {
		c.end(closeSubscriberTaken, fmt.Sprintf("Subscriber for %s already exists", m.ID))
		return false
	}
	if active >= c.opts.maxSubscriptions {
		return c.sendErrors(m.ID, gqlerror.List{{
			Message:    fmt.Sprintf("too many subscriptions on one connection (limit %d)", c.opts.maxSubscriptions),
			Extensions: map[string]any{"code": "RATE_LIMITED"},
		}})
	}

	params, err := decodeParams(m.Payload)
	if err != nil {
		return c.reject(fmt.Sprintf("%q payload is not a GraphQL request", m.Type))
	}
	params.Headers = c.header
	params.ReadTime = graphql.TraceTiming{Start: received, End: graphql.Now()}

	// The operation's lifetime is a context without its OperationContext:
	// the connection's context keeps it among its children until the
	// operation ends, and a pushed subscription keeps nothing else of the
	// operation, so its parsed request can be collected once it runs.
	life, cancel := context.WithCancel(c.opCtx)
	ctx := graphql.StartOperationTrace(life)
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		cancel()
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		return c.sendErrors(m.ID, resp.Errors)
	}
	op := &operation{id: m.ID, cancel: cancel, kind: subscriptionKind(rc)}

	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		cancel()
		return false
	}
	c.ops[m.ID] = op
	c.wg.Add(1)
	c.mu.Unlock()

	if op.kind != "" {
		c.opts.observer.SubscriptionStarted(op.kind)
		if c.opts.pusher != nil {
			f := &fate{}
			prefix, err := framePrefix(op.id, c.d.next)
			if err == nil && c.opts.pusher.Push(life, rc, &wsSink{c: c, op: op, done: life.Done(), prefix: prefix, f: f}) {
				return true
			}
		}
	}
	ctx, f := withFate(graphql.WithOperationContext(ctx, rc))
	go c.run(ctx, op, rc, f)
	return true
}

// decodeParams decodes a subscribe payload; numbers stay json.Number as
// gqlgen's own transports leave them.
func decodeParams(payload json.RawMessage) (*graphql.RawParams, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var params graphql.RawParams
	if err := dec.Decode(&params); err != nil {
		return nil, fmt.Errorf("decode GraphQL request: %w", err)
	}
	return &params, nil
}

// stop handles complete (legacy: stop): the operation is forgotten at once, so
// its id may be reused right away, and cancelled.
func (c *wsConn) stop(m inbound) bool {
	if m.ID == "" {
		return c.reject(fmt.Sprintf("%q without id", m.Type))
	}
	c.mu.Lock()
	op := c.ops[m.ID]
	if op != nil {
		delete(c.ops, m.ID)
	}
	c.mu.Unlock()
	if op != nil {
		op.cancel()
	}
	return true
}

// run is an operation's goroutine: it pulls the responses, then reports how
// the operation ended.
func (c *wsConn) run(ctx context.Context, op *operation, rc *graphql.OperationContext, f *fate) {
	c.pull(ctx, op, rc, f)
	c.finish(op, f)
}

// finish reports how an operation ended, whether pulled or pushed, and
// forgets it.
func (c *wsConn) finish(op *operation, f *fate) {
	defer c.wg.Done()
	defer op.cancel()
	if op.kind != "" {
		defer c.opts.observer.SubscriptionEnded(op.kind)
	}

	c.mu.Lock()
	stopped := c.ops[op.id] != op
	if !stopped {
		delete(c.ops, op.id)
	}
	c.mu.Unlock()

	switch {
	case c.ending():
		// The close frame says everything.
	case stopped && !c.d.legacy:
		// graphql-transport-ws: the client's complete needs no answer.
	case stopped:
		// subscriptions-transport-ws answers stop with complete.
		c.send(outbound{ID: op.id, Type: msgComplete})
	case f.get() != nil:
		c.sendErrors(op.id, gqlerror.List{f.get()})
	default:
		c.send(outbound{ID: op.id, Type: msgComplete})
	}
}

// pull forwards every response of the operation to the client. A panic in
// the executor ends the operation with the recovered error rather than the
// process.
func (c *wsConn) pull(ctx context.Context, op *operation, rc *graphql.OperationContext, f *fate) {
	defer func() {
		if r := recover(); r != nil {
			f.set(asGQLError(rc.Recover(ctx, r)))
		}
	}()

	prefix, err := framePrefix(op.id, c.d.next)
	if err != nil {
		f.set(&gqlerror.Error{Message: "internal error: operation id could not be encoded"})
		return
	}
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		b := make([]byte, 0, len(prefix)+len(resp.Data)+16)
		b = append(b, prefix...)
		b, err = appendResult(b, resp)
		if err != nil {
			f.set(&gqlerror.Error{Message: "internal error: response could not be encoded"})
			return
		}
		b = append(b, '}')
		// A stopped operation gives up its place in a full queue at once.
		if !c.enqueue(frame{head: b, result: op.kind != ""}, ctx.Done(), nil) {
			return
		}
	}
}

// asGQLError turns err into a GraphQL error.
func asGQLError(err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		return gqlErr
	}
	if err == nil {
		return &gqlerror.Error{Message: "internal error"}
	}
	return &gqlerror.Error{Message: err.Error()}
}
