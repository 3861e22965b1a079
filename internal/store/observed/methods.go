package observed

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Member observes app.Store.Member.
func (s *Store) Member(ctx context.Context, id string) (domain.Member, error) {
	ctx, done := s.begin(ctx, "Member")
	v, err := s.next.Member(ctx, id)
	done(err)
	return v, err
}

// Members observes app.Store.Members.
func (s *Store) Members(ctx context.Context, ids []string) (map[string]domain.Member, error) {
	ctx, done := s.begin(ctx, "Members")
	v, err := s.next.Members(ctx, ids)
	done(err)
	return v, err
}

// EnsureMember observes app.Store.EnsureMember.
func (s *Store) EnsureMember(ctx context.Context, m domain.Member) (domain.Member, error) {
	ctx, done := s.begin(ctx, "EnsureMember")
	v, err := s.next.EnsureMember(ctx, m)
	done(err)
	return v, err
}

// TouchLastSeen observes app.Store.TouchLastSeen.
func (s *Store) TouchLastSeen(ctx context.Context, memberID string, at time.Time) error {
	ctx, done := s.begin(ctx, "TouchLastSeen")
	err := s.next.TouchLastSeen(ctx, memberID, at)
	done(err)
	return err
}

// Room observes app.Store.Room.
func (s *Store) Room(ctx context.Context, id string) (domain.Room, error) {
	ctx, done := s.begin(ctx, "Room")
	v, err := s.next.Room(ctx, id)
	done(err)
	return v, err
}

// Membership observes app.Store.Membership.
func (s *Store) Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error) {
	ctx, done := s.begin(ctx, "Membership")
	v, err := s.next.Membership(ctx, roomID, memberID)
	done(err)
	return v, err
}

// RoomMembers observes app.Store.RoomMembers.
func (s *Store) RoomMembers(ctx context.Context, roomID string, page app.MemberPage) ([]domain.Membership, error) {
	ctx, done := s.begin(ctx, "RoomMembers")
	v, err := s.next.RoomMembers(ctx, roomID, page)
	done(err)
	return v, err
}

// MemberRoomIDs observes app.Store.MemberRoomIDs.
func (s *Store) MemberRoomIDs(ctx context.Context, memberID string) ([]string, error) {
	ctx, done := s.begin(ctx, "MemberRoomIDs")
	v, err := s.next.MemberRoomIDs(ctx, memberID)
	done(err)
	return v, err
}

// RoomsOf observes app.Store.RoomsOf.
func (s *Store) RoomsOf(ctx context.Context, memberID string, page app.RoomPage) ([]domain.Room, error) {
	ctx, done := s.begin(ctx, "RoomsOf")
	v, err := s.next.RoomsOf(ctx, memberID, page)
	done(err)
	return v, err
}

// SearchRooms observes app.Store.SearchRooms.
func (s *Store) SearchRooms(ctx context.Context, memberID, query string, page app.SearchPage) ([]domain.Room, error) {
	ctx, done := s.begin(ctx, "SearchRooms")
	v, err := s.next.SearchRooms(ctx, memberID, query, page)
	done(err)
	return v, err
}

// ChatPartner observes app.Store.ChatPartner.
func (s *Store) ChatPartner(ctx context.Context, roomID, memberID string) (string, error) {
	ctx, done := s.begin(ctx, "ChatPartner")
	v, err := s.next.ChatPartner(ctx, roomID, memberID)
	done(err)
	return v, err
}

// Message observes app.Store.Message.
func (s *Store) Message(ctx context.Context, id string) (domain.Message, error) {
	ctx, done := s.begin(ctx, "Message")
	v, err := s.next.Message(ctx, id)
	done(err)
	return v, err
}

// Messages observes app.Store.Messages.
func (s *Store) Messages(ctx context.Context, roomID string, page app.MessagePage) ([]domain.Message, error) {
	ctx, done := s.begin(ctx, "Messages")
	v, err := s.next.Messages(ctx, roomID, page)
	done(err)
	return v, err
}

// LastMessage observes app.Store.LastMessage.
func (s *Store) LastMessage(ctx context.Context, roomID string) (domain.Message, error) {
	ctx, done := s.begin(ctx, "LastMessage")
	v, err := s.next.LastMessage(ctx, roomID)
	done(err)
	return v, err
}

// UnreadCount observes app.Store.UnreadCount.
func (s *Store) UnreadCount(ctx context.Context, roomID, memberID string, afterSeq int64) (int, error) {
	ctx, done := s.begin(ctx, "UnreadCount")
	v, err := s.next.UnreadCount(ctx, roomID, memberID, afterSeq)
	done(err)
	return v, err
}

// Events observes app.Store.Events.
func (s *Store) Events(ctx context.Context, roomID string, afterSeq int64, limit int) ([]domain.Event, error) {
	ctx, done := s.begin(ctx, "Events")
	v, err := s.next.Events(ctx, roomID, afterSeq, limit)
	done(err)
	return v, err
}

// Task observes app.Store.Task.
func (s *Store) Task(ctx context.Context, id string) (domain.Task, error) {
	ctx, done := s.begin(ctx, "Task")
	v, err := s.next.Task(ctx, id)
	done(err)
	return v, err
}

// TasksOf observes app.Store.TasksOf.
func (s *Store) TasksOf(ctx context.Context, memberID string, page app.TaskPage) ([]domain.Task, error) {
	ctx, done := s.begin(ctx, "TasksOf")
	v, err := s.next.TasksOf(ctx, memberID, page)
	done(err)
	return v, err
}

// Reminder observes app.Store.Reminder.
func (s *Store) Reminder(ctx context.Context, id string) (domain.Reminder, error) {
	ctx, done := s.begin(ctx, "Reminder")
	v, err := s.next.Reminder(ctx, id)
	done(err)
	return v, err
}

// LatestReminder observes app.Store.LatestReminder.
func (s *Store) LatestReminder(ctx context.Context, taskID string) (domain.Reminder, error) {
	ctx, done := s.begin(ctx, "LatestReminder")
	v, err := s.next.LatestReminder(ctx, taskID)
	done(err)
	return v, err
}

// Notification observes app.Store.Notification.
func (s *Store) Notification(ctx context.Context, id string) (domain.Notification, error) {
	ctx, done := s.begin(ctx, "Notification")
	v, err := s.next.Notification(ctx, id)
	done(err)
	return v, err
}

// Notifications observes app.Store.Notifications.
func (s *Store) Notifications(ctx context.Context, memberID string, page app.NotificationPage) ([]domain.Notification, error) {
	ctx, done := s.begin(ctx, "Notifications")
	v, err := s.next.Notifications(ctx, memberID, page)
	done(err)
	return v, err
}
