package rpc_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/transport/graphql"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
)

// domainKinds are the error kinds of internal/domain by name. The test below
// reads the names from the source, so a kind added there and not here fails
// it, and with it every transport's mapping is checked.
var domainKinds = map[string]error{
	"ErrInvalid":         domain.ErrInvalid,
	"ErrNotFound":        domain.ErrNotFound,
	"ErrForbidden":       domain.ErrForbidden,
	"ErrConflict":        domain.ErrConflict,
	"ErrUnauthenticated": domain.ErrUnauthenticated,
	"ErrRateLimited":     domain.ErrRateLimited,
	"ErrUnavailable":     domain.ErrUnavailable,
	"ErrSlowConsumer":    domain.ErrSlowConsumer,
}

// declaredKinds returns the names of the Err* variables of
// internal/domain/errors.go.
func declaredKinds(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../domain/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			for _, name := range spec.(*ast.ValueSpec).Names {
				if strings.HasPrefix(name.Name, "Err") {
					names = append(names, name.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestEveryKindIsMappedByEveryTransport walks every domain error kind and
// checks that both GraphQL and gRPC map it to a code of its own, so that a
// new kind cannot be mapped in one place only.
func TestEveryKindIsMappedByEveryTransport(t *testing.T) {
	t.Parallel()
	declared := declaredKinds(t)
	if len(declared) == 0 {
		t.Fatal("found no error kinds in internal/domain/errors.go")
	}
	for _, name := range declared {
		if _, ok := domainKinds[name]; !ok {
			t.Errorf("domain.%s is not in this test's table: add it, and map it in graphql/errors.go and rpc/errors.go", name)
		}
	}
	grpcSeen := map[connect.Code]string{}
	gqlSeen := map[string]string{}
	for name, kind := range domainKinds {
		if !slices.Contains(declared, name) {
			t.Errorf("domain.%s is in this test's table but not declared in errors.go", name)
		}
		wrapped := fmt.Errorf("some use case: %w", domain.Errorf(kind, "detail"))
		if k := domain.Kind(wrapped); k == nil || !errors.Is(kind, k) {
			t.Errorf("domain.Kind does not know domain.%s", name)
		}
		code := rpc.Code(wrapped)
		if code == connect.CodeInternal || code == connect.CodeUnknown {
			t.Errorf("gRPC maps domain.%s to %s", name, code)
		}
		if other, dup := grpcSeen[code]; dup {
			t.Errorf("gRPC maps domain.%s and domain.%s both to %s", name, other, code)
		}
		grpcSeen[code] = name
		gql := graphql.Code(wrapped)
		if gql == graphql.CodeInternal {
			t.Errorf("GraphQL maps domain.%s to %s", name, gql)
		}
		if other, dup := gqlSeen[gql]; dup {
			t.Errorf("GraphQL maps domain.%s and domain.%s both to %s", name, other, gql)
		}
		gqlSeen[gql] = name
	}
	if got := rpc.Code(errors.New("disk I/O error")); got != connect.CodeInternal {
		t.Errorf("an internal error maps to %s, want internal", got)
	}
}

func TestCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind error
		want connect.Code
	}{
		{domain.ErrInvalid, connect.CodeInvalidArgument},
		{domain.ErrNotFound, connect.CodeNotFound},
		{domain.ErrForbidden, connect.CodePermissionDenied},
		{domain.ErrConflict, connect.CodeAlreadyExists},
		{domain.ErrUnauthenticated, connect.CodeUnauthenticated},
		{domain.ErrRateLimited, connect.CodeResourceExhausted},
		{domain.ErrUnavailable, connect.CodeUnavailable},
		{domain.ErrSlowConsumer, connect.CodeAborted},
	}
	for _, tc := range tests {
		if got := rpc.Code(domain.Errorf(tc.kind, "x")); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.kind, got, tc.want)
		}
	}
}

// TestErrorCodesOverTheWire checks the codes and messages a client gets for
// refused calls.
func TestErrorCodesOverTheWire(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	ctx := t.Context()
	e.member(t, "owner")
	e.member(t, "outsider")
	e.member(t, "plain")
	private := e.room(t, "owner", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP, "plain")
	public := e.room(t, "owner", pb.RoomKind_ROOM_KIND_PUBLIC_GROUP)
	unknownRoom := "01JAAAAAAAAAAAAAAAAAAAAAAA"

	tests := []struct {
		name string
		call func() error
		want connect.Code
	}{
		{"missing actor", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{RoomId: private.GetId()}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown actor", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "nobody", RoomId: private.GetId()}))
			return err
		}, connect.CodeNotFound},
		{"reserved actor", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "nk:system", RoomId: private.GetId()}))
			return err
		}, connect.CodeInvalidArgument},
		{"room kind unset", func() error {
			_, err := e.rooms.CreateRoom(ctx, connect.NewRequest(&pb.CreateRoomRequest{ActorId: "owner", Name: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		{"malformed room id", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "owner", RoomId: "nope"}))
			return err
		}, connect.CodeInvalidArgument},
		{"empty text", func() error {
			_, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{ActorId: "owner", RoomId: private.GetId(), Text: " "}))
			return err
		}, connect.CodeInvalidArgument},
		{"page too large", func() error {
			n := int32(1000)
			_, err := e.messages.ListMessages(ctx, connect.NewRequest(&pb.ListMessagesRequest{ActorId: "owner", RoomId: private.GetId(), First: &n}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown room", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "owner", RoomId: unknownRoom}))
			return err
		}, connect.CodeNotFound},
		{"private room of others", func() error {
			_, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "outsider", RoomId: private.GetId()}))
			return err
		}, connect.CodeNotFound},
		{"post in a public room without joining", func() error {
			_, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{ActorId: "outsider", RoomId: public.GetId(), Text: "hi"}))
			return err
		}, connect.CodePermissionDenied},
		{"add members as a plain member", func() error {
			_, err := e.rooms.AddMembers(ctx, connect.NewRequest(&pb.AddMembersRequest{ActorId: "plain", RoomId: private.GetId(), MemberIds: []string{"outsider"}}))
			return err
		}, connect.CodePermissionDenied},
		{"system message with an actor", func() error {
			_, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{ActorId: "owner", System: true, RoomId: private.GetId(), Text: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		{"system message into an unknown room", func() error {
			_, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{System: true, RoomId: unknownRoom, Text: "x"}))
			return err
		}, connect.CodeNotFound},
		{"reminder without a due date", func() error {
			_, err := e.tasks.SetTaskDates(ctx, connect.NewRequest(&pb.SetTaskDatesRequest{ActorId: "owner", TaskId: "t", Title: "x", Remind: pb.RemindOffset_REMIND_OFFSET_MIN_5}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown member", func() error {
			_, err := e.members.GetMember(ctx, connect.NewRequest(&pb.GetMemberRequest{MemberId: "ghost"}))
			return err
		}, connect.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), tc.want)
		})
	}
}

// TestInternalErrorsHideTheirCause: a failure below the use cases reaches
// the client as INTERNAL with a generic message.
func TestInternalErrorsHideTheirCause(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"}))
	code := connect.CodeOf(err)
	if code != connect.CodeInternal && code != connect.CodeUnavailable {
		t.Fatalf("code %s (%v), want internal or unavailable", code, err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a Connect error: %v", err)
	}
	low := strings.ToLower(ce.Message())
	for _, bad := range []string{"sql", "database", "closed", ".go:"} {
		if strings.Contains(low, bad) {
			t.Errorf("message %q reveals %q", ce.Message(), bad)
		}
	}
}
