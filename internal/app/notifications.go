package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

const (
	tagNotification = "n"
	tagTask         = "t"
)

func checkULID(kind, id string) error {
	if !ulids.Valid(id) {
		return domain.Errorf(domain.ErrInvalid, "malformed %s id %q", kind, id)
	}
	return nil
}

// NotificationCursor is the cursor of a notification in a member's list.
func NotificationCursor(n domain.Notification) string {
	return encodeCursor(tagNotification, strconv.FormatBool(n.ReadAt != nil), strconv.FormatInt(n.CreatedAt.UnixNano(), 10), n.ID)
}

// TaskCursor is the cursor of a task in a member's task list.
func TaskCursor(t domain.Task) string {
	var due int64
	if t.DueAt != nil {
		due = t.DueAt.UnixNano()
	}
	return encodeCursor(tagTask, strconv.FormatInt(due, 10), t.ID)
}

// Notifications pages the actor's notifications: unread first, newest first.
func (s *Service) Notifications(ctx context.Context, actor string, unreadOnly bool, args PageArgs) (Page[domain.Notification], error) {
	size, err := args.forwardSize()
	if err != nil {
		return Page[domain.Notification]{}, err
	}
	page := NotificationPage{UnreadOnly: unreadOnly, Limit: size + 1}
	if args.After != nil {
		p, err := decodeCursor(tagNotification, *args.After, 3)
		if err != nil {
			return Page[domain.Notification]{}, err
		}
		read, err := strconv.ParseBool(p[0])
		if err != nil {
			return Page[domain.Notification]{}, errBadCursor
		}
		if page.AfterCreateAt, err = parseNanos(p[1]); err != nil {
			return Page[domain.Notification]{}, err
		}
		page.AfterRead, page.AfterID = read, p[2]
	}
	ns, err := s.store.Notifications(ctx, actor, page)
	if err != nil {
		return Page[domain.Notification]{}, fmt.Errorf("list notifications: %w", err)
	}
	ns, more := trim(ns, size)
	return pageOf(ns, NotificationCursor, more, args.After != nil), nil
}

// MarkNotificationRead marks one of the actor's notifications read.
func (s *Service) MarkNotificationRead(ctx context.Context, actor, id string) (domain.Notification, error) {
	if err := checkULID("notification", id); err != nil {
		return domain.Notification{}, err
	}
	var n domain.Notification
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		n, err = tx.MarkNotificationRead(ctx, actor, id, s.clock.Now())
		return err
	})
	if err != nil {
		return domain.Notification{}, fmt.Errorf("mark notification read: %w", err)
	}
	return n, nil
}

// MarkAllNotificationsRead marks every unread notification of the actor
// read and returns how many there were.
func (s *Service) MarkAllNotificationsRead(ctx context.Context, actor string) (int, error) {
	var n int
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		n, err = tx.MarkAllNotificationsRead(ctx, actor, s.clock.Now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mark all notifications read: %w", err)
	}
	return n, nil
}

// Tasks pages the tasks the actor watches by due date, optionally within
// [dueAfter, dueBefore).
func (s *Service) Tasks(ctx context.Context, actor string, dueAfter, dueBefore *time.Time, args PageArgs) (Page[domain.Task], error) {
	size, err := args.forwardSize()
	if err != nil {
		return Page[domain.Task]{}, err
	}
	page := TaskPage{Limit: size + 1}
	if dueAfter != nil {
		page.DueAfter = dueAfter.UTC()
	}
	if dueBefore != nil {
		page.DueBefore = dueBefore.UTC()
	}
	if args.After != nil {
		p, err := decodeCursor(tagTask, *args.After, 2)
		if err != nil {
			return Page[domain.Task]{}, err
		}
		if page.AfterDue, err = parseNanos(p[0]); err != nil {
			return Page[domain.Task]{}, err
		}
		page.AfterID = p[1]
	}
	ts, err := s.store.TasksOf(ctx, actor, page)
	if err != nil {
		return Page[domain.Task]{}, fmt.Errorf("list tasks: %w", err)
	}
	ts, more := trim(ts, size)
	return pageOf(ts, TaskCursor, more, args.After != nil), nil
}

// LiveNotifications streams the actor's new notifications as they are made.
// Those made while nobody listened are in Notifications.
func (s *Service) LiveNotifications(ctx context.Context, actor string, done Done) (<-chan *domain.Notification, error) {
	sub, err := s.hub.Subscribe(ctx, realtime.MemberTopic(actor))
	if err != nil {
		return nil, fmt.Errorf("subscribe notifications: %w", err)
	}
	return forward(ctx, sub, done, func(env *realtime.Envelope) *domain.Notification { return env.Notification }), nil
}
