package rpc

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
)

// This file translates between domain values and their protobuf messages;
// it decides nothing.

var roomKinds = map[domain.RoomKind]pb.RoomKind{
	domain.KindChat:           pb.RoomKind_ROOM_KIND_CHAT,
	domain.KindPrivateGroup:   pb.RoomKind_ROOM_KIND_PRIVATE_GROUP,
	domain.KindPublicGroup:    pb.RoomKind_ROOM_KIND_PUBLIC_GROUP,
	domain.KindPrivateChannel: pb.RoomKind_ROOM_KIND_PRIVATE_CHANNEL,
	domain.KindPublicChannel:  pb.RoomKind_ROOM_KIND_PUBLIC_CHANNEL,
}

var roles = map[domain.Role]pb.Role{
	domain.RoleOwner:  pb.Role_ROLE_OWNER,
	domain.RoleAdmin:  pb.Role_ROLE_ADMIN,
	domain.RoleMember: pb.Role_ROLE_MEMBER,
}

var eventTypes = map[domain.EventType]pb.RoomEventType{
	domain.EventMessageSent:    pb.RoomEventType_ROOM_EVENT_TYPE_MESSAGE_SENT,
	domain.EventMessageEdited:  pb.RoomEventType_ROOM_EVENT_TYPE_MESSAGE_EDITED,
	domain.EventMessageDeleted: pb.RoomEventType_ROOM_EVENT_TYPE_MESSAGE_DELETED,
	domain.EventMemberJoined:   pb.RoomEventType_ROOM_EVENT_TYPE_MEMBER_JOINED,
	domain.EventMemberLeft:     pb.RoomEventType_ROOM_EVENT_TYPE_MEMBER_LEFT,
	domain.EventRoleChanged:    pb.RoomEventType_ROOM_EVENT_TYPE_ROLE_CHANGED,
	domain.EventRoomUpdated:    pb.RoomEventType_ROOM_EVENT_TYPE_ROOM_UPDATED,
}

var remindOffsets = map[domain.RemindOffset]pb.RemindOffset{
	domain.RemindNone:  pb.RemindOffset_REMIND_OFFSET_NONE,
	domain.RemindAtDue: pb.RemindOffset_REMIND_OFFSET_AT_DUE,
	domain.RemindMin5:  pb.RemindOffset_REMIND_OFFSET_MIN_5,
	domain.RemindMin10: pb.RemindOffset_REMIND_OFFSET_MIN_10,
	domain.RemindMin15: pb.RemindOffset_REMIND_OFFSET_MIN_15,
	domain.RemindHour1: pb.RemindOffset_REMIND_OFFSET_HOUR_1,
	domain.RemindHour2: pb.RemindOffset_REMIND_OFFSET_HOUR_2,
	domain.RemindDay1:  pb.RemindOffset_REMIND_OFFSET_DAY_1,
	domain.RemindDay2:  pb.RemindOffset_REMIND_OFFSET_DAY_2,
}

var reminderStates = map[domain.ReminderState]pb.ReminderState{
	domain.ReminderScheduled: pb.ReminderState_REMINDER_STATE_SCHEDULED,
	domain.ReminderFired:     pb.ReminderState_REMINDER_STATE_FIRED,
	domain.ReminderCancelled: pb.ReminderState_REMINDER_STATE_CANCELLED,
}

// reverse inverts an enum map, for decoding requests.
func reverse[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	roomKindOf     = reverse(roomKinds)
	remindOffsetOf = reverse(remindOffsets)
)

// roomKind decodes a room kind; an unknown or unset one becomes the empty
// kind, which the use case refuses as invalid.
func roomKind(k pb.RoomKind) domain.RoomKind { return roomKindOf[k] }

// remindOffset decodes a remind offset: unset is NONE, as GraphQL's default;
// an unknown value stays unknown for the use case to refuse.
func remindOffset(o pb.RemindOffset) domain.RemindOffset {
	if o == pb.RemindOffset_REMIND_OFFSET_UNSPECIFIED {
		return domain.RemindNone
	}
	if d, ok := remindOffsetOf[o]; ok {
		return d
	}
	return domain.RemindOffset(o.String())
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func optionalTimestamp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// timeOf decodes an optional timestamp field; unset is nil.
func timeOf(field string, ts *timestamppb.Timestamp) (*time.Time, error) {
	if ts == nil {
		return nil, nil
	}
	if err := ts.CheckValid(); err != nil {
		return nil, domain.Errorf(domain.ErrInvalid, "%s is not a valid timestamp", field)
	}
	t := ts.AsTime()
	return &t, nil
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalInt(n *int32) *int {
	if n == nil {
		return nil
	}
	v := int(*n)
	return &v
}

func memberPB(m domain.Member) *pb.Member {
	return &pb.Member{Id: m.ID, Name: m.Name, CreatedAt: timestamp(m.CreatedAt), LastSeenAt: optionalTimestamp(m.LastSeenAt)}
}

// roomPB encodes a room under the name its viewer sees it by.
func roomPB(r domain.Room, name string) *pb.Room {
	return &pb.Room{
		Id: r.ID, Kind: roomKinds[r.Kind], Name: name,
		CreatedAt: timestamp(r.CreatedAt), UpdatedAt: timestamp(r.UpdatedAt),
		LastEventCursor: app.EventCursor(r.ID, r.Seq),
	}
}

// messagePB encodes a message; one by nordkapp42's own members (reserved
// ids) is a system message without an author.
func messagePB(m *domain.Message) *pb.Message {
	if m == nil {
		return nil
	}
	out := &pb.Message{
		Id: m.ID, RoomId: m.RoomID, AuthorId: m.AuthorID, Text: m.Text, ClientMessageId: m.ClientMessageID,
		Seq: m.Seq, CreatedAt: timestamp(m.CreatedAt), EditedAt: optionalTimestamp(m.EditedAt),
		DeletedAt: optionalTimestamp(m.DeletedAt), Cursor: app.MessageCursor(*m),
	}
	if m.AuthorID == "" || domain.ReservedMemberID(m.AuthorID) {
		out.AuthorId, out.System = "", true
	}
	return out
}

func eventPB(e *domain.Event) *pb.RoomEvent {
	out := &pb.RoomEvent{
		Cursor: app.EventCursor(e.RoomID, e.Seq), RoomId: e.RoomID, Seq: e.Seq, Type: eventTypes[e.Type],
		At: timestamp(e.At), ActorId: e.ActorID, MemberId: e.MemberID, Role: roles[e.Role], Message: messagePB(e.Message),
	}
	if domain.ReservedMemberID(e.ActorID) {
		out.ActorId = ""
	}
	return out
}

func reminderPB(r *domain.Reminder) *pb.Reminder {
	if r == nil {
		return nil
	}
	return &pb.Reminder{
		Id: r.ID, FireAt: timestamp(r.FireAt), State: reminderStates[r.State],
		FiredAt: optionalTimestamp(r.FiredAt), SnoozedUntil: optionalTimestamp(r.SnoozedUntil),
	}
}

func taskPB(t domain.Task, latest *domain.Reminder) *pb.Task {
	return &pb.Task{
		Id: t.ID, Title: t.Title, Url: t.URL, StartAt: optionalTimestamp(t.StartAt), DueAt: optionalTimestamp(t.DueAt),
		Remind: remindOffsets[t.Remind], RemindAt: optionalTimestamp(t.RemindAt()), WatcherIds: t.WatcherIDs,
		RoomId: t.RoomID, Reminder: reminderPB(latest), CreatedAt: timestamp(t.CreatedAt), UpdatedAt: timestamp(t.UpdatedAt),
	}
}

func pageInfoPB[T any](p app.Page[T]) *pb.PageInfo {
	info := &pb.PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
	if n := len(p.Cursors); n > 0 {
		info.StartCursor, info.EndCursor = p.Cursors[0], p.Cursors[n-1]
	}
	return info
}
