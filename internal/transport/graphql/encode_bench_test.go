package graphql

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// benchSubscriptions is the subscription resolver with roomEvents fed from
// a channel the benchmark fills, so that an op is the executor's work for
// one event and nothing upstream of it (the hub has its own benchmarks).
type benchSubscriptions struct {
	*subscriptionResolver
	events chan *domain.Event
}

// RoomEvents returns the benchmark's channel.
func (s benchSubscriptions) RoomEvents(context.Context, string, *string) (<-chan *domain.Event, error) {
	return s.events, nil
}

// benchRoot is the production resolver with benchSubscriptions in place of
// the subscription root; every other resolver (author, isRead…) is the real
// one over the real service.
type benchRoot struct {
	*Resolver
	subs benchSubscriptions
}

// Subscription returns the feeding subscription resolver.
func (r benchRoot) Subscription() SubscriptionResolver { return r.subs }

// wsFrame has the shape of the transport's outbound WebSocket message
// (stream.outbound, unexported): id, type and the response as payload.
type wsFrame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// encodeFixture is a service over SQLite with ann and bob in a group, one
// message of ann's, and the MESSAGE_SENT event the app publishes for it.
type encodeFixture struct {
	svc   *app.Service
	event domain.Event
}

func newEncodeFixture(b *testing.B) encodeFixture {
	b.Helper()
	ctx := b.Context()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	svc := app.New(store, realtime.NewHub(memory.New(), realtime.HubOptions{}), presencememory.New(), clock.System{}, ulids.New(), nil, app.Config{})
	for _, id := range []string{"ann", "bob"} {
		if err := svc.EnsureMember(ctx, id, strings.ToUpper(id[:1])+id[1:]); err != nil {
			b.Fatal(err)
		}
	}
	room, err := svc.CreateRoom(ctx, "ann", domain.KindPublicGroup, "bench", []string{"bob"})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := svc.SendMessage(ctx, "ann", room.ID, "a message of ordinary length, about as long as people write in a chat", "c-1")
	if err != nil {
		b.Fatal(err)
	}
	return encodeFixture{svc: svc, event: domain.Event{
		RoomID: room.ID, Seq: msg.Seq, Type: domain.EventMessageSent, At: msg.CreatedAt, ActorID: "ann", MessageID: msg.ID, Message: &msg,
	}}
}

// subscribe starts a roomEvents subscription of bob's with selection over
// an executor configured as NewHandler configures the server's (the
// operation-level extensions aside: they run once per subscription, not per
// event). It returns the response handler and the channel that feeds it;
// cleanup ends the subscription.
func (f encodeFixture) subscribe(b *testing.B, selection string) (graphql.ResponseHandler, context.Context, chan<- *domain.Event) {
	b.Helper()
	events := make(chan *domain.Event, 1)
	es := NewExecutableSchema(Config{Resolvers: benchRoot{
		Resolver: &Resolver{svc: f.svc},
		subs:     benchSubscriptions{subscriptionResolver: &subscriptionResolver{&Resolver{svc: f.svc}}, events: events},
	}})
	exec := executor.New(es)
	exec.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	exec.SetErrorPresenter(ErrorPresenter)
	exec.SetRecoverFunc(recoverPanic)

	// The start of the trace is what gqlgen's server sets on every request.
	ctx := graphql.StartOperationTrace(auth.WithIdentity(b.Context(), auth.Identity{MemberID: "bob", Name: "Bob"}))
	params := &graphql.RawParams{
		Query:     `subscription($r: ID!) { roomEvents(roomId: $r) { ` + selection + ` } }`,
		Variables: map[string]any{"r": f.event.RoomID},
		ReadTime:  graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()},
	}
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		b.Fatalf("operation: %v", errs)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	b.Cleanup(func() {
		close(events)
		if resp := responses(ctx); resp != nil {
			b.Errorf("a response after the source closed: %s", resp.Data)
		}
	})
	return responses, ctx, events
}

// eventSelections are what clients select of a MESSAGE_SENT event: only
// fields of the event itself; the author too (a store read per event, as
// the e2e tests select); and fields that depend on the viewer.
var eventSelections = []struct{ name, selection, want string }{
	{"fields=event", `cursor type roomId seq at message { id text createdAt clientMessageId cursor }`, `"clientMessageId":"c-1"`},
	{"fields=author", `cursor type roomId seq message { id text author { id name } } member { id }`, `"author":{"id":"ann","name":"Ann"}`},
	{"fields=viewer", `cursor type seq message { id text isRead author { id name } }`, `"isRead":false`},
}

// BenchmarkRoomEventEncode measures what a transport does for each
// subscriber per MESSAGE_SENT event of a roomEvents subscription: the
// executor resolves the selection on the event, then the response is
// marshalled and wrapped in a graphql-transport-ws "next" frame. The bytes
// are what goes on the wire, apart from the WebSocket header.
func BenchmarkRoomEventEncode(b *testing.B) {
	f := newEncodeFixture(b)
	for _, sel := range eventSelections {
		b.Run(sel.name, func(b *testing.B) {
			responses, ctx, events := f.subscribe(b, sel.selection)
			var frame []byte
			b.ReportAllocs()
			for b.Loop() {
				event := f.event
				events <- &event
				resp := responses(ctx)
				if resp == nil || len(resp.Errors) > 0 {
					b.Fatalf("response %+v", resp)
				}
				payload, err := json.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				if frame, err = json.Marshal(wsFrame{ID: "1", Type: "next", Payload: payload}); err != nil {
					b.Fatal(err)
				}
			}
			if !strings.Contains(string(frame), sel.want) || !strings.Contains(string(frame), f.event.Message.Text) {
				b.Fatalf("frame %s lacks %s or the text", frame, sel.want)
			}
			b.ReportMetric(float64(len(frame)), "frame-bytes")
		})
	}
}

// BenchmarkRoomEventFrame measures only the marshalling of one executed
// response into its "next" frame: the share of BenchmarkRoomEventEncode
// that an encoding shared by many subscribers would save too.
func BenchmarkRoomEventFrame(b *testing.B) {
	f := newEncodeFixture(b)
	responses, ctx, events := f.subscribe(b, eventSelections[1].selection)
	event := f.event
	events <- &event
	resp := responses(ctx)
	if resp == nil || len(resp.Errors) > 0 {
		b.Fatalf("response %+v", resp)
	}
	b.ReportAllocs()
	for b.Loop() {
		payload, err := json.Marshal(resp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(wsFrame{ID: "1", Type: "next", Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}
