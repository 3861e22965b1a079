package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
)

func TestMemberService(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	ctx := t.Context()
	upsert := func(id, name string) *pb.Member {
		t.Helper()
		resp, err := e.members.UpsertMember(ctx, connect.NewRequest(&pb.UpsertMemberRequest{MemberId: id, Name: name}))
		if err != nil {
			t.Fatalf("upsert %s %q: %v", id, name, err)
		}
		return resp.Msg.GetMember()
	}
	created := upsert("alice", "Alice")
	if created.GetId() != "alice" || created.GetName() != "Alice" || created.GetCreatedAt() == nil {
		t.Fatalf("created %v", created)
	}
	if got := upsert("alice", "Alice Liddell"); got.GetName() != "Alice Liddell" || !got.GetCreatedAt().AsTime().Equal(created.GetCreatedAt().AsTime()) {
		t.Errorf("renamed: %v, want the new name and the first creation time", got)
	}
	if got := upsert("alice", ""); got.GetName() != "Alice Liddell" {
		t.Errorf("an empty name renamed the member to %q", got.GetName())
	}
	if got := upsert("bob", ""); got.GetName() != "bob" {
		t.Errorf("a new member without a name is named %q, want their id", got.GetName())
	}
	resp, err := e.members.GetMember(ctx, connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.GetMember().GetName() != "Alice Liddell" {
		t.Errorf("get member: %v", resp.Msg.GetMember())
	}
	for _, bad := range []*pb.UpsertMemberRequest{
		{MemberId: ""}, {MemberId: "nk:system", Name: "Impostor"}, {MemberId: "carol", Name: string(make([]rune, 201))},
	} {
		_, err := e.members.UpsertMember(ctx, connect.NewRequest(bad))
		wantCode(t, err, connect.CodeInvalidArgument)
	}
}

func TestRoomService(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	ctx := t.Context()
	for _, id := range []string{"owner", "bob", "carol"} {
		e.member(t, id)
	}
	room := e.room(t, "owner", pb.RoomKind_ROOM_KIND_PRIVATE_CHANNEL, "bob")
	if room.GetKind() != pb.RoomKind_ROOM_KIND_PRIVATE_CHANNEL || room.GetName() != "room" || room.GetLastEventCursor() == "" {
		t.Fatalf("created %v", room)
	}
	role := func(actor string) pb.Role {
		t.Helper()
		resp, err := e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: actor, RoomId: room.GetId()}))
		if err != nil {
			t.Fatalf("get room as %s: %v", actor, err)
		}
		return resp.Msg.GetActorRole()
	}
	if got := role("owner"); got != pb.Role_ROLE_OWNER {
		t.Errorf("owner's role %s", got)
	}
	if got := role("bob"); got != pb.Role_ROLE_MEMBER {
		t.Errorf("bob's role %s", got)
	}
	added, err := e.rooms.AddMembers(ctx, connect.NewRequest(&pb.AddMembersRequest{ActorId: "owner", RoomId: room.GetId(), MemberIds: []string{"carol", "bob"}}))
	if err != nil {
		t.Fatal(err)
	}
	if added.Msg.GetRoom().GetLastEventCursor() == room.GetLastEventCursor() {
		t.Error("adding a member moved no cursor")
	}
	if got := role("carol"); got != pb.Role_ROLE_MEMBER {
		t.Errorf("carol's role after being added: %s", got)
	}
	if _, err := e.rooms.RemoveMember(ctx, connect.NewRequest(&pb.RemoveMemberRequest{ActorId: "owner", RoomId: room.GetId(), MemberId: "carol"})); err != nil {
		t.Fatal(err)
	}
	_, err = e.rooms.GetRoom(ctx, connect.NewRequest(&pb.GetRoomRequest{ActorId: "carol", RoomId: room.GetId()}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = e.rooms.RemoveMember(ctx, connect.NewRequest(&pb.RemoveMemberRequest{ActorId: "bob", RoomId: room.GetId(), MemberId: "owner"}))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{ActorId: "bob", RoomId: room.GetId(), Text: "members do not post in a channel"}))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.rooms.CreateRoom(ctx, connect.NewRequest(&pb.CreateRoomRequest{ActorId: "owner", Kind: pb.RoomKind_ROOM_KIND_CHAT, Name: "x"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestSendAndListMessages(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	ctx := t.Context()
	e.member(t, "alice")
	e.member(t, "bob")
	room := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP, "bob")
	var sent []*pb.Message
	for i := range 5 {
		sent = append(sent, e.send(t, "alice", room.GetId(), fmt.Sprintf("m%d", i)))
	}
	first := sent[0]
	if first.GetAuthorId() != "alice" || first.GetSystem() || first.GetCursor() == "" || first.GetSeq() == 0 {
		t.Errorf("sent %v", first)
	}

	retry := &pb.SendMessageRequest{ActorId: "bob", RoomId: room.GetId(), Text: "once", ClientMessageId: "c-1"}
	a, err := e.messages.SendMessage(ctx, connect.NewRequest(retry))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.messages.SendMessage(ctx, connect.NewRequest(retry))
	if err != nil {
		t.Fatal(err)
	}
	if a.Msg.GetMessage().GetId() != b.Msg.GetMessage().GetId() {
		t.Error("a retried send posted twice")
	}

	sys, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{System: true, RoomId: room.GetId(), Text: "Alice moved the card to Done"}))
	if err != nil {
		t.Fatal(err)
	}
	if m := sys.Msg.GetMessage(); !m.GetSystem() || m.GetAuthorId() != "" || m.GetText() != "Alice moved the card to Done" {
		t.Errorf("system message %v", m)
	}

	list := func(req *pb.ListMessagesRequest) *pb.ListMessagesResponse {
		t.Helper()
		req.ActorId, req.RoomId = "bob", room.GetId()
		resp, err := e.messages.ListMessages(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("list messages: %v", err)
		}
		return resp.Msg
	}
	texts := func(ms []*pb.Message) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.GetText()
		}
		return out
	}
	two := int32(2)
	newest := list(&pb.ListMessagesRequest{Last: &two})
	if diff := cmp.Diff([]string{"once", "Alice moved the card to Done"}, texts(newest.GetMessages())); diff != "" {
		t.Errorf("newest page (-want +got):\n%s", diff)
	}
	if !newest.GetPageInfo().GetHasPreviousPage() || newest.GetMessages()[1].GetAuthorId() != "" || !newest.GetMessages()[1].GetSystem() {
		t.Errorf("newest page: %v", newest)
	}
	before := list(&pb.ListMessagesRequest{Last: &two, Before: newest.GetPageInfo().GetStartCursor()})
	if diff := cmp.Diff([]string{"m3", "m4"}, texts(before.GetMessages())); diff != "" {
		t.Errorf("page before (-want +got):\n%s", diff)
	}
	forward := list(&pb.ListMessagesRequest{First: &two, After: sent[0].GetCursor()})
	if diff := cmp.Diff([]string{"m1", "m2"}, texts(forward.GetMessages())); diff != "" {
		t.Errorf("page after (-want +got):\n%s", diff)
	}
	// The store keeps microseconds; a send answers with the time it made.
	if diff := cmp.Diff(sent[1], forward.GetMessages()[0], protocmp.Transform(), protocmp.IgnoreFields(&pb.Message{}, "created_at")); diff != "" {
		t.Errorf("listed message differs from the sent one (-sent +listed):\n%s", diff)
	}
}

// TestStreamRoomEvents: a stream delivers each event once, in order, with
// its cursor; resuming after a cursor delivers exactly what followed it.
func TestStreamRoomEvents(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	e.member(t, "alice")
	e.member(t, "bob")
	room := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()

	open := func(after string) *connect.ServerStreamForClient[pb.StreamRoomEventsResponse] {
		t.Helper()
		s, err := e.messages.StreamRoomEvents(ctx, connect.NewRequest(&pb.StreamRoomEventsRequest{ActorId: "alice", RoomId: room.GetId(), After: after}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	next := func(s *connect.ServerStreamForClient[pb.StreamRoomEventsResponse]) *pb.RoomEvent {
		t.Helper()
		if !s.Receive() {
			t.Fatalf("stream ended: %v", s.Err())
		}
		return s.Msg().GetEvent()
	}

	first := open(room.GetLastEventCursor())
	added, err := e.rooms.AddMembers(ctx, connect.NewRequest(&pb.AddMembersRequest{ActorId: "alice", RoomId: room.GetId(), MemberIds: []string{"bob"}}))
	if err != nil {
		t.Fatal(err)
	}
	joined := next(first)
	if joined.GetType() != pb.RoomEventType_ROOM_EVENT_TYPE_MEMBER_JOINED || joined.GetMemberId() != "bob" ||
		joined.GetRole() != pb.Role_ROLE_MEMBER || joined.GetActorId() != "alice" || joined.GetCursor() != added.Msg.GetRoom().GetLastEventCursor() {
		t.Errorf("joined event %v", joined)
	}
	var events []*pb.RoomEvent
	var sent []*pb.Message
	for i := range 3 {
		sent = append(sent, e.send(t, "bob", room.GetId(), fmt.Sprintf("s%d", i)))
		events = append(events, next(first))
	}
	for i, ev := range events {
		if ev.GetType() != pb.RoomEventType_ROOM_EVENT_TYPE_MESSAGE_SENT || ev.GetSeq() != joined.GetSeq()+int64(i)+1 {
			t.Errorf("event %d: %v", i, ev)
		}
		if diff := cmp.Diff(sent[i], ev.GetMessage(), protocmp.Transform()); diff != "" {
			t.Errorf("event %d message (-sent +streamed):\n%s", i, diff)
		}
	}
	_ = first.Close()

	missed := e.send(t, "bob", room.GetId(), "missed")
	resumed := open(events[0].GetCursor())
	for _, want := range []*pb.Message{sent[1], sent[2], missed} {
		if got := next(resumed).GetMessage(); got.GetId() != want.GetId() {
			t.Fatalf("resumed stream delivered %q, want %q", got.GetText(), want.GetText())
		}
	}
	sys, err := e.messages.SendMessage(ctx, connect.NewRequest(&pb.SendMessageRequest{System: true, RoomId: room.GetId(), Text: "card moved"}))
	if err != nil {
		t.Fatal(err)
	}
	live := next(resumed)
	if live.GetMessage().GetId() != sys.Msg.GetMessage().GetId() || !live.GetMessage().GetSystem() || live.GetActorId() != "" {
		t.Errorf("live system event %v", live)
	}

	// Shutting down ends the stream with UNAVAILABLE: resume elsewhere.
	e.handler.EndStreams()
	if resumed.Receive() {
		t.Fatalf("stream delivered %v after EndStreams", resumed.Msg())
	}
	wantCode(t, resumed.Err(), connect.CodeUnavailable)
}

func TestStreamRoomEventsRefusals(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	e.member(t, "alice")
	e.member(t, "eve")
	room := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
	other := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP)
	tests := []struct {
		name string
		req  *pb.StreamRoomEventsRequest
		want connect.Code
	}{
		{"not a member", &pb.StreamRoomEventsRequest{ActorId: "eve", RoomId: room.GetId()}, connect.CodeNotFound},
		{"malformed cursor", &pb.StreamRoomEventsRequest{ActorId: "alice", RoomId: room.GetId(), After: "bogus"}, connect.CodeInvalidArgument},
		{"cursor of another room", &pb.StreamRoomEventsRequest{ActorId: "alice", RoomId: room.GetId(), After: other.GetLastEventCursor()}, connect.CodeInvalidArgument},
		{"no actor", &pb.StreamRoomEventsRequest{RoomId: room.GetId()}, connect.CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			s, err := e.messages.StreamRoomEvents(ctx, connect.NewRequest(tc.req))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			if s.Receive() {
				t.Fatalf("refused stream delivered %v", s.Msg())
			}
			wantCode(t, s.Err(), tc.want)
		})
	}
}

func TestReminderService(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, rpc.Options{})
	ctx := t.Context()
	e.member(t, "alice")
	e.member(t, "bob")
	room := e.room(t, "alice", pb.RoomKind_ROOM_KIND_PRIVATE_GROUP, "bob")
	due := time.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	set, err := e.tasks.SetTaskDates(ctx, connect.NewRequest(&pb.SetTaskDatesRequest{
		ActorId: "alice", TaskId: "card-1", Title: " Ship it ", Url: "https://board/card-1",
		DueAt: timestamppb.New(due), Remind: pb.RemindOffset_REMIND_OFFSET_HOUR_1,
		WatcherIds: []string{"bob"}, RoomId: room.GetId(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	task := set.Msg.GetTask()
	want := &pb.Task{
		Id: "card-1", Title: "Ship it", Url: "https://board/card-1", DueAt: timestamppb.New(due),
		Remind: pb.RemindOffset_REMIND_OFFSET_HOUR_1, RemindAt: timestamppb.New(due.Add(-time.Hour)),
		WatcherIds: []string{"alice", "bob"}, RoomId: room.GetId(),
	}
	ignore := protocmp.IgnoreFields(&pb.Task{}, "reminder", "created_at", "updated_at")
	if diff := cmp.Diff(want, task, protocmp.Transform(), ignore); diff != "" {
		t.Errorf("task (-want +got):\n%s", diff)
	}
	if r := task.GetReminder(); r.GetState() != pb.ReminderState_REMINDER_STATE_SCHEDULED || !r.GetFireAt().AsTime().Equal(due.Add(-time.Hour)) {
		t.Errorf("reminder %v", r)
	}

	listed, err := e.tasks.ListTasks(ctx, connect.NewRequest(&pb.ListTasksRequest{ActorId: "bob"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(listed.Msg.GetTasks()) != 1 || listed.Msg.GetTasks()[0].GetId() != "card-1" || listed.Msg.GetPageInfo().GetHasNextPage() {
		t.Errorf("bob's tasks: %v", listed.Msg)
	}
	later, err := e.tasks.ListTasks(ctx, connect.NewRequest(&pb.ListTasksRequest{ActorId: "bob", DueAfter: timestamppb.New(due.Add(time.Second))}))
	if err != nil {
		t.Fatal(err)
	}
	if len(later.Msg.GetTasks()) != 0 {
		t.Errorf("tasks due after the due date: %v", later.Msg.GetTasks())
	}

	cleared, err := e.tasks.ClearTaskDates(ctx, connect.NewRequest(&pb.ClearTaskDatesRequest{ActorId: "bob", TaskId: "card-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c := cleared.Msg.GetTask(); c.GetDueAt() != nil || c.GetRemind() != pb.RemindOffset_REMIND_OFFSET_NONE ||
		c.GetReminder().GetState() != pb.ReminderState_REMINDER_STATE_CANCELLED {
		t.Errorf("cleared task %v", c)
	}
	_, err = e.tasks.ClearTaskDates(ctx, connect.NewRequest(&pb.ClearTaskDatesRequest{ActorId: "alice", TaskId: "no-such-card"}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = e.tasks.SetTaskDates(ctx, connect.NewRequest(&pb.SetTaskDatesRequest{
		ActorId: "alice", TaskId: "card-2", Title: "x", DueAt: &timestamppb.Timestamp{Seconds: 1 << 62},
	}))
	wantCode(t, err, connect.CodeInvalidArgument)
}
