package rpc_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1/nordkapp42v1connect"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
)

// TestAuth checks who may call: the internal token, or a JWT with a service
// claim; nobody else, unary or streaming.
func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	e.member(t, "alice")
	now := time.Now()
	issue := func(service string, ttl time.Duration) string {
		tok, err := auth.IssueService(e.secret, service, ttl, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	memberToken, err := auth.Issue(e.secret, "alice", "Alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := auth.IssueService([]byte("someone-elses-secret"), "board", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"internal token", testToken, true},
		{"service JWT", issue("board", time.Hour), true},
		{"no token", "", false},
		{"wrong token", "not-the-token", false},
		{"token with a suffix", testToken + "x", false},
		{"member JWT without a service claim", memberToken, false},
		{"expired service JWT", issue("board", -time.Hour), false},
		{"service JWT signed by another key", foreign, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A room of its own: the stream must see this subtest's message.
			room := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
			members, _, messages, _ := e.clients(tc.token)
			_, err := members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"}))
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			stream, serr := messages.StreamRoomEvents(ctx, connect.NewRequest(&pb.StreamRoomEventsRequest{ActorId: "alice", RoomId: room.GetId()}))
			if serr != nil {
				t.Fatalf("open stream: %v", serr)
			}
			defer func() { _ = stream.Close() }()
			if !tc.ok {
				wantCode(t, err, connect.CodeUnauthenticated)
				if stream.Receive() {
					t.Fatal("an unauthenticated stream delivered an event")
				}
				wantCode(t, stream.Err(), connect.CodeUnauthenticated)
				return
			}
			if err != nil {
				t.Fatalf("unary call refused: %v", err)
			}
			// The stream is live once its call returned: it gets the next event.
			sent := e.send(t, "alice", room.GetId(), "ping "+tc.name)
			if !stream.Receive() {
				t.Fatalf("authenticated stream ended: %v", stream.Err())
			}
			if got := stream.Msg().GetEvent().GetMessage().GetId(); got != sent.GetId() {
				t.Fatalf("stream delivered message %s, want %s", got, sent.GetId())
			}
		})
	}
}

// TestAuthWithNothingConfigured: with neither an internal token nor a
// verifier, every call is refused.
func TestAuthWithNothingConfigured(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ts := httptest.NewServer(rpc.NewHandler(svc, rpc.Options{}))
	t.Cleanup(ts.Close)
	for _, token := range []string{"", "anything", testToken} {
		members := nordkapp42v1connect.NewMemberServiceClient(ts.Client(), ts.URL, connect.WithInterceptors(bearer(token)))
		_, err := members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"}))
		wantCode(t, err, connect.CodeUnauthenticated)
	}
	// A verifier that refuses: a JWT-shaped token is refused with its reason.
	ts2 := httptest.NewServer(rpc.NewHandler(svc, rpc.Options{Verifier: noVerifier{}}))
	t.Cleanup(ts2.Close)
	members := nordkapp42v1connect.NewMemberServiceClient(ts2.Client(), ts2.URL, connect.WithInterceptors(bearer("a.b.c")))
	_, err := members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"}))
	wantCode(t, err, connect.CodeUnauthenticated)
}

// noVerifier refuses every JWT.
type noVerifier struct{}

func (noVerifier) VerifyService(string) (string, error) { return "", errors.New("no") }

// TestHealthAndReflectionNeedNoToken: probes and tools call them first.
func TestHealthAndReflectionNeedNoToken(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	health := grpchealth.NewClient(e.client, e.url)
	for _, service := range []string{"", nordkapp42v1connect.MessageServiceName} {
		resp, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
		if err != nil {
			t.Fatalf("health check %q: %v", service, err)
		}
		if resp.Status != grpchealth.StatusServing {
			t.Errorf("health of %q: %s, want SERVING", service, resp.Status)
		}
	}
	if _, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: "no.such.Service"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("health of an unknown service: %v, want not found", err)
	}
	e.handler.EndStreams()
	resp, err := health.Check(t.Context(), &grpchealth.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != grpchealth.StatusNotServing {
		t.Errorf("health while shutting down: %s, want NOT_SERVING", resp.Status)
	}
}
