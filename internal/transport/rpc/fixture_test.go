package rpc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1/nordkapp42v1connect"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// testToken is the internal token of the test servers.
const testToken = "internal-test-token"

// wait bounds every wait for an event: a hang guard, not a speed claim.
const wait = 10 * time.Second

// recordingScheduler records schedules; no test here waits for a reminder
// to fire.
type recordingScheduler struct {
	mu  sync.Mutex
	all []string
}

func (r *recordingScheduler) Schedule(_ context.Context, reminderID, _ string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, reminderID)
	return nil
}

// endpoint is the internal API over the embedded adapters, served over
// HTTP/1.1 (the Connect protocol needs no HTTP/2), with clients of every
// service that send the internal token.
type endpoint struct {
	url      string
	client   *http.Client
	secret   []byte
	handler  *rpc.Handler
	store    *sqlite.Store
	members  nordkapp42v1connect.MemberServiceClient
	rooms    nordkapp42v1connect.RoomServiceClient
	messages nordkapp42v1connect.MessageServiceClient
	tasks    nordkapp42v1connect.ReminderServiceClient
}

// newService returns the use cases over the embedded adapters, with a
// scheduler that only records.
func newService(t *testing.T) (*app.Service, *sqlite.Store) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := app.New(store, realtime.NewHub(memory.New(), realtime.HubOptions{}), presencememory.New(),
		clock.System{}, ulids.New(), nil, app.Config{})
	svc.WithScheduler(&recordingScheduler{})
	return svc, store
}

// newEndpoint serves the internal API with opts; an empty InternalToken
// becomes testToken, a nil Verifier one for the endpoint's secret.
func newEndpoint(t *testing.T, opts rpc.Options) *endpoint {
	t.Helper()
	svc, store := newService(t)
	e := &endpoint{secret: []byte("rpc-test-secret-rpc-test-secret"), store: store}
	if opts.Verifier == nil {
		v, err := auth.NewVerifier(e.secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		opts.Verifier = v
	}
	if opts.InternalToken == "" {
		opts.InternalToken = testToken
	}
	e.handler = rpc.NewHandler(svc, opts)
	ts := httptest.NewServer(e.handler)
	// Streams end before the server closes, as in the real shutdown.
	t.Cleanup(ts.Close)
	t.Cleanup(e.handler.EndStreams)
	e.url, e.client = ts.URL, ts.Client()
	e.members, e.rooms, e.messages, e.tasks = e.clients(testToken)
	return e
}

// clients returns a client of each service that sends token ("": none).
func (e *endpoint) clients(token string) (nordkapp42v1connect.MemberServiceClient, nordkapp42v1connect.RoomServiceClient,
	nordkapp42v1connect.MessageServiceClient, nordkapp42v1connect.ReminderServiceClient,
) {
	opt := connect.WithInterceptors(bearer(token))
	return nordkapp42v1connect.NewMemberServiceClient(e.client, e.url, opt),
		nordkapp42v1connect.NewRoomServiceClient(e.client, e.url, opt),
		nordkapp42v1connect.NewMessageServiceClient(e.client, e.url, opt),
		nordkapp42v1connect.NewReminderServiceClient(e.client, e.url, opt)
}

// bearer is a client interceptor that sends a bearer token ("" sends none).
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b != "" {
			req.Header().Set("Authorization", "Bearer "+string(b))
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		}
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// member provisions a member.
func (e *endpoint) member(t *testing.T, id string) {
	t.Helper()
	if _, err := e.members.UpsertMember(t.Context(), connect.NewRequest(&pb.UpsertMemberRequest{MemberId: id, Name: "Member " + id})); err != nil {
		t.Fatalf("upsert member %s: %v", id, err)
	}
}

// room creates a room owned by actor with members in it.
func (e *endpoint) room(t *testing.T, actor string, kind pb.RoomKind, members ...string) *pb.Room {
	t.Helper()
	resp, err := e.rooms.CreateRoom(t.Context(), connect.NewRequest(&pb.CreateRoomRequest{ActorId: actor, Kind: kind, Name: "room", MemberIds: members}))
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	return resp.Msg.GetRoom()
}

// send posts a text as actor.
func (e *endpoint) send(t *testing.T, actor, room, text string) *pb.Message {
	t.Helper()
	resp, err := e.messages.SendMessage(t.Context(), connect.NewRequest(&pb.SendMessageRequest{ActorId: actor, RoomId: room, Text: text}))
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return resp.Msg.GetMessage()
}

// wantCode fails unless err is a Connect error with code.
func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %s", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("code %s (%v), want %s", got, err, code)
	}
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Message() == "" {
		t.Errorf("%s error has no message", code)
	}
}
