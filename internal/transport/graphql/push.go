package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// pusher serves the event subscriptions (roomEvents, myEvents) by pushing
// their results into the transport (stream.Pusher): the use case's follower
// executes and encodes each event on its worker and queues it on the
// connection, so a subscription waiting for events costs no goroutine.
//
// Subscribers with the same document, variables and, when the selection
// reads viewer-dependent fields, the same viewer form a cohort: the hub hands
// all of them the same *domain.Event, and the cohort executes the selection
// for it once and shares the bytes. In a room with N subscribers a message
// is executed and encoded once per cohort instead of N times.
//
// Other subscriptions, and anything this path does not recognise, are left
// to gqlgen's executor.
type pusher struct {
	svc     *app.Service
	es      *executableSchema
	obs     observer
	cohorts cohorts
}

var _ stream.Pusher = (*pusher)(nil)

// Push implements stream.Pusher.
func (p *pusher) Push(ctx context.Context, rc *graphql.OperationContext, sink stream.Sink) bool {
	if rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return false
	}
	opCtx := graphql.WithOperationContext(ctx, rc)
	ec := newExecutionContext(rc, p.es, nil)
	fields := graphql.CollectFields(rc, rc.Operation.SelectionSet, subscriptionImplementors)
	if len(fields) != 1 {
		return false
	}
	field := fields[0]
	var fc *graphql.FieldContext
	var err error
	rctx := graphql.WithResponseContext(graphql.WithFieldContext(opCtx, &graphql.FieldContext{Object: "Subscription"}), ErrorPresenter, recoverPanic)
	switch field.Name {
	case "roomEvents":
		fc, err = ec.fieldContext_Subscription_roomEvents(rctx, field)
	case "myEvents":
		fc, err = ec.fieldContext_Subscription_myEvents(rctx, field)
	default:
		return false
	}
	p.obs.subscription(ctx, field.Name)
	if err != nil {
		// The field context recorded the argument error.
		endWithErrors(rctx, sink)
		return true
	}
	rctx = graphql.WithFieldContext(rctx, fc)
	actor, err := (&Resolver{svc: p.svc}).actor(ctx)
	if err != nil {
		ec.Error(rctx, err)
		endWithErrors(rctx, sink)
		return true
	}

	// The subscription keeps only its cohort, which executes events with the
	// state of the member that made it: every member would execute them
	// alike. The rest of this request (rc, ec, the field context) can go.
	c := p.cohorts.join(cohortKey(rc, field, actor), func() eventExecutor {
		// Events are executed outside any one subscriber's lifetime: the
		// bytes serve the whole cohort, so the first subscriber's
		// cancellation must not cut them short.
		execCtx := graphql.WithFieldContext(context.WithoutCancel(opCtx), fc)
		return func(e *domain.Event) []byte { return executeEvent(execCtx, ec, field, e) }
	})
	deliver := func(_ context.Context, e *domain.Event, committed time.Time, abort <-chan struct{}) bool {
		if committed.IsZero() {
			// Read back from the store for this subscriber alone: no one
			// else has this *domain.Event.
			return sink.Result(c.execute(e), committed, abort)
		}
		return sink.Result(c.encode(e), committed, abort)
	}
	done := func(err error) {
		p.cohorts.leave(c)
		if err != nil {
			sink.End(presentError(ctx, err))
			return
		}
		sink.End(nil)
	}
	if field.Name == "roomEvents" {
		err = p.svc.FollowRoomEvents(ctx, actor, fc.Args["roomId"].(string), fc.Args["after"].(*string), deliver, done)
	} else {
		err = p.svc.FollowMyEvents(ctx, actor, deliver, done)
	}
	if err != nil {
		p.cohorts.leave(c)
		ec.Error(rctx, err)
		endWithErrors(rctx, sink)
	}
	return true
}

// eventExecutor executes a subscription's selection set for one event and
// returns the encoded response.
type eventExecutor func(e *domain.Event) []byte

// endWithErrors ends a subscription that failed to start the way gqlgen's
// executor does: one result carrying the errors, then completion.
func endWithErrors(ctx context.Context, sink stream.Sink) {
	resp, err := json.Marshal(&graphql.Response{Errors: graphql.GetErrors(ctx)})
	if err == nil {
		sink.Result(resp, time.Time{}, nil)
	}
	sink.End(nil)
}

// executeEvent executes the subscription's selection set for one event and
// returns the encoded response, as gqlgen's executor would write it.
func executeEvent(ctx context.Context, ec *executionContext, field graphql.CollectedField, e *domain.Event) []byte {
	ctx = graphql.WithResponseContext(ctx, ErrorPresenter, recoverPanic)
	var buf bytes.Buffer
	buf.WriteString(`{"data":{`)
	graphql.MarshalString(field.Alias).MarshalGQL(&buf)
	buf.WriteByte(':')
	ec.marshalNRoomEvent2ᚖgithubᚗcomᚋnordkapp42ᚋnordkapp42ᚋinternalᚋdomainᚐEvent(ctx, field.Selections, e).MarshalGQL(&buf)
	buf.WriteByte('}')
	if errs := graphql.GetErrors(ctx); len(errs) > 0 {
		b, err := json.Marshal(errs)
		if err != nil {
			b = []byte(`[{"message":"internal error"}]`)
		}
		buf.WriteString(`,"errors":`)
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// viewerFields are the fields reachable from a RoomEvent whose value
// depends on who asks (their resolvers read the actor). A selection that
// reads one of them is executed per viewer. A test walks the schema and the
// resolvers to keep this list complete.
var viewerFields = map[string]bool{
	"RoomEvent.room": true,
	"Message.room":   true,
	"Message.isRead": true,
}

// cohortKey identifies the subscribers that get the same bytes for the same
// event: same document, operation and variables, and the same viewer when
// the selection depends on the viewer.
func cohortKey(rc *graphql.OperationContext, field graphql.CollectedField, actor string) string {
	vars, err := json.Marshal(rc.Variables) // maps marshal with sorted keys
	if err != nil {
		vars = []byte(actor) // cannot happen for decoded JSON; stay correct anyway
	}
	key := rc.RawQuery + "\x00" + rc.OperationName + "\x00" + string(vars)
	if viewerDependent(rc, field.Selections, "RoomEvent") {
		key += "\x00" + actor
	}
	return key
}

// viewerDependent reports whether sel, on an object of type typ, reads a
// viewer field at any depth.
func viewerDependent(rc *graphql.OperationContext, sel ast.SelectionSet, typ string) bool {
	for _, f := range graphql.CollectFields(rc, sel, []string{typ}) {
		if viewerFields[typ+"."+f.Name] {
			return true
		}
		if f.Definition != nil && len(f.Selections) > 0 && viewerDependent(rc, f.Selections, f.Definition.Type.Name()) {
			return true
		}
	}
	return false
}

// cohortWindow is how many recent events a cohort keeps encoded. Every
// member of a cohort receives the same events in the same order, so a
// subscriber needs the encoding of one of the last few events unless it is
// far behind, and then it encodes its own.
const cohortWindow = 64

// cohorts is the registry of live cohorts.
type cohorts struct {
	mu  sync.Mutex
	all map[string]*cohort
}

// join adds a member to the cohort of key, which executes events with what
// newEventExecutor returns when the member is the first.
func (cs *cohorts) join(key string, newEventExecutor func() eventExecutor) *cohort {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.all == nil {
		cs.all = map[string]*cohort{}
	}
	c := cs.all[key]
	if c == nil {
		c = &cohort{key: key, execute: newEventExecutor(), entries: map[*domain.Event]*encoding{}}
		cs.all[key] = c
	}
	c.members++
	return c
}

func (cs *cohorts) leave(c *cohort) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c.members--; c.members == 0 {
		delete(cs.all, c.key)
	}
}

// cohort shares encoded events between the subscribers of one key.
type cohort struct {
	key     string
	execute eventExecutor
	members int // guarded by cohorts.mu

	mu      sync.Mutex
	entries map[*domain.Event]*encoding
	order   []*domain.Event // oldest first, at most cohortWindow
}

// encoding is one event's bytes, computed by the first subscriber to need
// them while the others wait.
type encoding struct {
	once  sync.Once
	bytes []byte
}

// encode returns the cohort's encoding of e, executing it once.
func (c *cohort) encode(e *domain.Event) []byte {
	c.mu.Lock()
	enc := c.entries[e]
	if enc == nil {
		enc = &encoding{}
		c.entries[e] = enc
		c.order = append(c.order, e)
		if len(c.order) > cohortWindow {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.mu.Unlock()
	enc.once.Do(func() { enc.bytes = c.execute(e) })
	return enc.bytes
}
