package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/e2e"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1/nordkapp42v1connect"
)

// grpcToken is the internal token the gRPC tests' server is started with.
const grpcToken = "e2e-internal-token"

// Full method names of the calls the grpc-go client makes. grpc-go stubs
// (protoc-gen-go-grpc) are not generated: the client calls by name with the
// generated message types, as any client without stubs does.
const (
	grpcUpsertMember     = "/nordkapp42.v1.MemberService/UpsertMember"
	grpcGetMember        = "/nordkapp42.v1.MemberService/GetMember"
	grpcCreateRoom       = "/nordkapp42.v1.RoomService/CreateRoom"
	grpcGetRoom          = "/nordkapp42.v1.RoomService/GetRoom"
	grpcSendMessage      = "/nordkapp42.v1.MessageService/SendMessage"
	grpcStreamRoomEvents = "/nordkapp42.v1.MessageService/StreamRoomEvents"
)

// grpcConn dials the server's gRPC listener in plaintext HTTP/2 (h2c).
func grpcConn(t *testing.T, srv *e2e.Server) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// grpcCtx returns a context bounded by e2e.Wait that sends token as the
// authorization metadata ("": none).
func grpcCtx(t *testing.T, token string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2e.Wait)
	t.Cleanup(cancel)
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// grpcInvoke makes a unary call with the internal token and returns the
// response, failing the test on an error.
func grpcInvoke[Resp any, PResp interface {
	*Resp
	proto.Message
}](t *testing.T, conn *grpc.ClientConn, method string, req proto.Message) PResp {
	t.Helper()
	resp := PResp(new(Resp))
	if err := conn.Invoke(grpcCtx(t, grpcToken), method, req, resp); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return resp
}

// grpcStream opens StreamRoomEvents with grpc-go.
func grpcStream(t *testing.T, conn *grpc.ClientConn, req *pb.StreamRoomEventsRequest) grpc.ClientStream {
	t.Helper()
	s, err := conn.NewStream(grpcCtx(t, grpcToken), &grpc.StreamDesc{StreamName: "StreamRoomEvents", ServerStreams: true}, grpcStreamRoomEvents)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	return s
}

// grpcNext receives the next event of a grpc-go stream.
func grpcNext(t *testing.T, s grpc.ClientStream) *pb.RoomEvent {
	t.Helper()
	var resp pb.StreamRoomEventsResponse
	if err := s.RecvMsg(&resp); err != nil {
		t.Fatalf("receive room event: %v", err)
	}
	return resp.GetEvent()
}

// connectClients returns Connect clients (the Connect protocol, over
// HTTP/1.1) of the message and room services that send token.
func connectClients(t *testing.T, srv *e2e.Server, token string) (nordkapp42v1connect.MessageServiceClient, nordkapp42v1connect.RoomServiceClient) {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	url := "http://" + srv.GRPCAddr
	opt := connect.WithInterceptors(connectBearer(token))
	return nordkapp42v1connect.NewMessageServiceClient(client, url, opt), nordkapp42v1connect.NewRoomServiceClient(client, url, opt)
}

// connectBearer sends a bearer token with every Connect call.
type connectBearer string

func (b connectBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b connectBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b connectBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// grpcMember provisions a member over gRPC.
func grpcMember(t *testing.T, conn *grpc.ClientConn, id string) {
	t.Helper()
	m := grpcInvoke[pb.UpsertMemberResponse](t, conn, grpcUpsertMember, &pb.UpsertMemberRequest{MemberId: id, Name: "Member " + id})
	if m.GetMember().GetId() != id {
		t.Fatalf("upserted %v", m.GetMember())
	}
}

// grpcRoom creates a room over gRPC.
func grpcRoom(t *testing.T, conn *grpc.ClientConn, actor string, kind pb.RoomKind, members ...string) *pb.Room {
	t.Helper()
	return grpcInvoke[pb.CreateRoomResponse](t, conn, grpcCreateRoom,
		&pb.CreateRoomRequest{ActorId: actor, Kind: kind, Name: "grpc room", MemberIds: members}).GetRoom()
}

// TestGrpc covers the internal API over the real listener, with grpc-go
// and Connect clients: authentication, status codes, health, reflection,
// and that it shares its use cases with GraphQL.
func TestGrpc(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Args: []string{"--rate-limit", "0", "--internal-token", grpcToken}})
	conn := grpcConn(t, srv)

	t.Run("authentication", func(t *testing.T) {
		t.Parallel()
		testGrpcAuth(t, srv, conn)
	})
	t.Run("status codes", func(t *testing.T) {
		t.Parallel()
		testGrpcStatusCodes(t, srv, conn)
	})
	t.Run("health and reflection", func(t *testing.T) {
		t.Parallel()
		testGrpcHealthAndReflection(t, conn)
	})
	t.Run("gRPC to GraphQL", func(t *testing.T) {
		t.Parallel()
		testGrpcToGraphQL(t, srv, conn)
	})
	t.Run("GraphQL to gRPC and resume", func(t *testing.T) {
		t.Parallel()
		testGraphQLToGrpc(t, srv, conn)
	})
}

// testGrpcAuth: the internal token and a service JWT are let in; no token,
// a wrong one and a member's JWT are UNAUTHENTICATED, on both clients.
func testGrpcAuth(t *testing.T, srv *e2e.Server, conn *grpc.ClientConn) {
	grpcMember(t, conn, "auth-alice")
	service, err := auth.IssueService(srv.Secret, "board", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		want        codes.Code
	}{
		{"internal token", grpcToken, codes.OK},
		{"service JWT", service, codes.OK},
		{"no token", "", codes.Unauthenticated},
		{"wrong token", "not-" + grpcToken, codes.Unauthenticated},
		{"member JWT", srv.Token(t, "auth-alice", "Alice"), codes.Unauthenticated},
	}
	for _, tc := range tests {
		var resp pb.GetMemberResponse
		err := conn.Invoke(grpcCtx(t, tc.token), grpcGetMember, &pb.GetMemberRequest{MemberId: "auth-alice"}, &resp)
		if got := status.Code(err); got != tc.want {
			t.Errorf("grpc-go, %s: %s (%v), want %s", tc.name, got, err, tc.want)
		}
		if tc.want == codes.OK && resp.GetMember().GetName() != "Member auth-alice" {
			t.Errorf("grpc-go, %s: member %v", tc.name, resp.GetMember())
		}
		_, rooms := connectClients(t, srv, tc.token)
		_, err = rooms.GetRoom(grpcCtx(t, ""), connect.NewRequest(&pb.GetRoomRequest{ActorId: "auth-alice", RoomId: "01JAAAAAAAAAAAAAAAAAAAAAAA"}))
		want := connect.CodeNotFound // authenticated: the room does not exist
		if tc.want != codes.OK {
			want = connect.CodeUnauthenticated
		}
		if got := connect.CodeOf(err); got != want {
			t.Errorf("Connect, %s: %s (%v), want %s", tc.name, got, err, want)
		}
	}
	// A stream is refused too, before it delivers anything.
	s, err := conn.NewStream(grpcCtx(t, "wrong"), &grpc.StreamDesc{ServerStreams: true}, grpcStreamRoomEvents)
	if err == nil {
		_ = s.SendMsg(&pb.StreamRoomEventsRequest{ActorId: "auth-alice", RoomId: "01JAAAAAAAAAAAAAAAAAAAAAAA"})
		_ = s.CloseSend()
		err = s.RecvMsg(&pb.StreamRoomEventsResponse{})
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("stream with a wrong token: %v, want Unauthenticated", err)
	}
}

// testGrpcStatusCodes: refused calls get the gRPC code of their domain
// error, with a message and no internals.
func testGrpcStatusCodes(t *testing.T, srv *e2e.Server, conn *grpc.ClientConn) {
	grpcMember(t, conn, "codes-owner")
	grpcMember(t, conn, "codes-outsider")
	public := grpcRoom(t, conn, "codes-owner", pb.RoomKind_ROOM_KIND_PUBLIC_GROUP)
	private := grpcRoom(t, conn, "codes-owner", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
	sendReq := func(actor, room, text string) *pb.SendMessageRequest {
		return &pb.SendMessageRequest{ActorId: actor, RoomId: room, Text: text}
	}
	tests := []struct {
		name      string
		method    string
		req, resp proto.Message
		want      codes.Code
	}{
		{"bad input: empty text", grpcSendMessage, sendReq("codes-owner", public.GetId(), ""), &pb.SendMessageResponse{}, codes.InvalidArgument},
		{"bad input: malformed room id", grpcGetRoom, &pb.GetRoomRequest{ActorId: "codes-owner", RoomId: "x"}, &pb.GetRoomResponse{}, codes.InvalidArgument},
		{"bad input: no actor", grpcGetRoom, &pb.GetRoomRequest{RoomId: public.GetId()}, &pb.GetRoomResponse{}, codes.InvalidArgument},
		{"unknown room", grpcGetRoom, &pb.GetRoomRequest{ActorId: "codes-owner", RoomId: "01JAAAAAAAAAAAAAAAAAAAAAAA"}, &pb.GetRoomResponse{}, codes.NotFound},
		{"private room of others", grpcGetRoom, &pb.GetRoomRequest{ActorId: "codes-outsider", RoomId: private.GetId()}, &pb.GetRoomResponse{}, codes.NotFound},
		{"non-member posts", grpcSendMessage, sendReq("codes-outsider", public.GetId(), "hi"), &pb.SendMessageResponse{}, codes.PermissionDenied},
	}
	for _, tc := range tests {
		err := conn.Invoke(grpcCtx(t, grpcToken), tc.method, tc.req, tc.resp)
		st := status.Convert(err)
		if st.Code() != tc.want {
			t.Errorf("%s: %s (%q), want %s", tc.name, st.Code(), st.Message(), tc.want)
		}
		if st.Message() == "" {
			t.Errorf("%s: no message", tc.name)
		}
		wantNoLeak(t, []e2e.Error{{Message: st.Message()}})
	}
	// The same refusal through the Connect protocol.
	messages, _ := connectClients(t, srv, grpcToken)
	_, err := messages.SendMessage(grpcCtx(t, ""), connect.NewRequest(&pb.SendMessageRequest{ActorId: "codes-outsider", RoomId: public.GetId(), Text: "hi"}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("Connect, non-member posts: %v, want permission_denied", err)
	}
}

// testGrpcHealthAndReflection: both answer without a token.
func testGrpcHealthAndReflection(t *testing.T, conn *grpc.ClientConn) {
	resp, err := healthpb.NewHealthClient(conn).Check(grpcCtx(t, ""), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %s, want SERVING", resp.GetStatus())
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(grpcCtx(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	listed, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range listed.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"nordkapp42.v1.MemberService", "nordkapp42.v1.RoomService", "nordkapp42.v1.MessageService", "nordkapp42.v1.ReminderService"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, without %s", names, want)
		}
	}
}

// testGrpcToGraphQL: what a service posts over gRPC, as a member or as the
// system, reaches a GraphQL subscriber, and GraphQL reads the room gRPC made.
func testGrpcToGraphQL(t *testing.T, srv *e2e.Server, conn *grpc.ClientConn) {
	bobToken := member(t, srv, "g2q-bob")
	grpcMember(t, conn, "g2q-alice")
	room := grpcRoom(t, conn, "g2q-alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP, "g2q-bob")
	// The cursor gRPC returns is the one GraphQL resumes with.
	sub := subscribe(t, srv, e2e.TransportWS, bobToken, roomEventsQuery, map[string]any{"r": room.GetId(), "after": room.GetLastEventCursor()})
	defer sub.close()

	sent := grpcInvoke[pb.SendMessageResponse](t, conn, grpcSendMessage,
		&pb.SendMessageRequest{ActorId: "g2q-alice", RoomId: room.GetId(), Text: "hello from the board", ClientMessageId: "card-7"}).GetMessage()
	got := sub.next(t)
	wantMessageEvent(t, got, room.GetId(), sentMessage{ID: sent.GetId(), Text: "hello from the board"})
	if got.Message.Author.ID != "g2q-alice" || int64(got.Seq) != sent.GetSeq() {
		t.Errorf("GraphQL event %+v, want author g2q-alice and seq %d", got, sent.GetSeq())
	}

	system := grpcInvoke[pb.SendMessageResponse](t, conn, grpcSendMessage,
		&pb.SendMessageRequest{System: true, RoomId: room.GetId(), Text: "Alice moved the card to Done"}).GetMessage()
	if !system.GetSystem() || system.GetAuthorId() != "" {
		t.Errorf("system message over gRPC: %v", system)
	}
	got = sub.next(t)
	wantMessageEvent(t, got, room.GetId(), sentMessage{ID: system.GetId(), Text: "Alice moved the card to Done"})
	if got.Message.Author.ID != "nk:system" {
		t.Errorf("GraphQL author of a system message: %q, want the system member nk:system", got.Message.Author.ID)
	}
	if diff := cmp.Diff([]string{"hello from the board", "Alice moved the card to Done"}, texts(history(t, srv, bobToken, room.GetId(), 2))); diff != "" {
		t.Errorf("GraphQL history (-want +got):\n%s", diff)
	}
}

// testGraphQLToGrpc: what a member sends over GraphQL reaches gRPC streams
// (grpc-go and Connect), and a stream resumed after a cursor gets exactly
// the events after it: no gap, no duplicate.
func testGraphQLToGrpc(t *testing.T, srv *e2e.Server, conn *grpc.ClientConn) {
	aliceToken := member(t, srv, "q2g-alice")
	room := createRoom(t, srv, aliceToken, "PRIVATE_GROUP", "q2g")
	after := lastEventCursor(t, srv, aliceToken, room)
	stream := grpcStream(t, conn, &pb.StreamRoomEventsRequest{ActorId: "q2g-alice", RoomId: room, After: after})
	messages, _ := connectClients(t, srv, grpcToken)
	connectStream, err := messages.StreamRoomEvents(grpcCtx(t, ""), connect.NewRequest(&pb.StreamRoomEventsRequest{ActorId: "q2g-alice", RoomId: room, After: after}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = connectStream.Close() }()

	var sent []sentMessage
	var events []*pb.RoomEvent
	for i := range 3 {
		m := send(t, srv, aliceToken, room, fmt.Sprintf("graphql %d", i))
		sent = append(sent, m)
		e := grpcNext(t, stream)
		if e.GetType() != pb.RoomEventType_ROOM_EVENT_TYPE_MESSAGE_SENT || e.GetMessage().GetId() != m.ID ||
			e.GetMessage().GetAuthorId() != "q2g-alice" || e.GetMessage().GetText() != m.Text {
			t.Fatalf("grpc-go event %d: %v, want message %+v", i, e, m)
		}
		if !connectStream.Receive() {
			t.Fatalf("Connect stream ended: %v", connectStream.Err())
		}
		// A message read back from the store has its time in microseconds,
		// one published live in nanoseconds: either stream may have read it.
		if diff := cmp.Diff(e, connectStream.Msg().GetEvent(), protocmp.Transform(), protocmp.IgnoreFields(&pb.Message{}, "created_at")); diff != "" {
			t.Errorf("Connect and grpc-go streams differ (-grpc-go +Connect):\n%s", diff)
		}
		events = append(events, e)
	}
	for i := 1; i < len(events); i++ {
		if events[i].GetSeq() != events[i-1].GetSeq()+1 {
			t.Errorf("seq %d after %d", events[i].GetSeq(), events[i-1].GetSeq())
		}
	}

	// Resume after the first event, having missed two more: exactly the
	// events after the cursor come, in order, then live ones.
	for i := range 2 {
		sent = append(sent, send(t, srv, aliceToken, room, fmt.Sprintf("missed %d", i)))
	}
	resumed := grpcStream(t, conn, &pb.StreamRoomEventsRequest{ActorId: "q2g-alice", RoomId: room, After: events[0].GetCursor()})
	sent = append(sent, send(t, srv, aliceToken, room, "live"))
	var gotIDs, wantIDs []string
	for i, m := range sent[1:] {
		e := grpcNext(t, resumed)
		if want := events[0].GetSeq() + int64(i) + 1; e.GetSeq() != want {
			t.Errorf("resumed event %d: seq %d, want %d", i, e.GetSeq(), want)
		}
		gotIDs, wantIDs = append(gotIDs, e.GetMessage().GetId()), append(wantIDs, m.ID)
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("resumed stream (-want +got):\n%s", diff)
	}
	// Nothing after the cursor came twice: the next event is the next one sent.
	next := send(t, srv, aliceToken, room, "next")
	if e := grpcNext(t, resumed); e.GetMessage().GetId() != next.ID || e.GetSeq() != events[0].GetSeq()+int64(len(sent)) {
		t.Errorf("after the resumed events: %v, want %q with the next seq", e, next.Text)
	}
}

// TestGrpcShutdownEndsStreams: SIGTERM ends open streams with UNAVAILABLE
// (the client resumes elsewhere with its cursor), and the server exits
// cleanly instead of waiting out its grace period for them.
func TestGrpcShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Args: []string{"--internal-token", grpcToken}})
	conn := grpcConn(t, srv)
	grpcMember(t, conn, "bye-alice")
	room := grpcRoom(t, conn, "bye-alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
	stream := grpcStream(t, conn, &pb.StreamRoomEventsRequest{ActorId: "bye-alice", RoomId: room.GetId(), After: room.GetLastEventCursor()})
	sent := grpcInvoke[pb.SendMessageResponse](t, conn, grpcSendMessage, &pb.SendMessageRequest{ActorId: "bye-alice", RoomId: room.GetId(), Text: "before"})
	if e := grpcNext(t, stream); e.GetMessage().GetId() != sent.GetMessage().GetId() {
		t.Fatalf("stream delivered %v", e)
	}
	srv.Stop(t) // fails the test unless the server exits cleanly
	err := stream.RecvMsg(&pb.StreamRoomEventsResponse{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("stream at shutdown ended with %v, want Unavailable", err)
	}
}
