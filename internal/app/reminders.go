package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// WithScheduler makes the service schedule reminders with sch. Call it once,
// before serving; without a scheduler, setting a reminder fails.
func (s *Service) WithScheduler(sch Scheduler) *Service {
	s.scheduler = sch
	return s
}

// TaskDates are the dates and reminder of a task, as the board sets them.
type TaskDates struct {
	TaskID     string
	Title      string
	URL        string
	StartAt    *time.Time
	DueAt      *time.Time
	Remind     domain.RemindOffset
	WatcherIDs []string
	RoomID     string // also post the reminder into this room
}

// errRaced asks SetTaskDates to start over: another change of the same task
// committed between its read and its write.
var errRaced = errors.New("task changed meanwhile")

// SetTaskDates creates or updates a task's dates and reminder; the actor
// becomes a watcher. A reminder whose time changes replaces the pending one:
// the old schedule is cancelled and can no longer fire. A reminder time in
// the past is refused, except AT_DUE with a past due date, which sets no
// reminder.
func (s *Service) SetTaskDates(ctx context.Context, actor string, in TaskDates) (domain.Task, error) {
	t, fireAt, err := s.checkTaskDates(ctx, actor, in)
	if err != nil {
		return domain.Task{}, err
	}
	for attempt := 0; ; attempt++ {
		err := s.setTaskDates(ctx, actor, t, fireAt)
		if errors.Is(err, errRaced) && attempt < 3 {
			continue
		}
		if err != nil {
			return domain.Task{}, fmt.Errorf("set task dates: %w", err)
		}
		return s.Task(ctx, actor, t.ID)
	}
}

// checkTaskDates validates the input and computes the reminder's time (nil:
// no reminder).
func (s *Service) checkTaskDates(ctx context.Context, actor string, in TaskDates) (domain.Task, *time.Time, error) {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	watchers := append([]string{actor}, in.WatcherIDs...)
	slices.Sort(watchers)
	t, err := domain.CheckTask(domain.Task{
		ID: in.TaskID, Title: in.Title, URL: in.URL, StartAt: utc(in.StartAt), DueAt: utc(in.DueAt),
		Remind: in.Remind, RoomID: in.RoomID, WatcherIDs: slices.Compact(watchers),
	})
	if err != nil {
		return domain.Task{}, nil, err
	}
	if t.RoomID != "" {
		room, m, err := s.Room(ctx, actor, t.RoomID)
		if err != nil {
			return domain.Task{}, nil, err
		}
		if err := domain.CheckPost(room, m); err != nil {
			return domain.Task{}, nil, err
		}
	}
	now := s.clock.Now()
	fireAt := t.RemindAt()
	if fireAt == nil || !fireAt.Before(now) {
		return t, fireAt, nil
	}
	// A reminder time in the past is refused, unless it is the reminder the
	// task already has (its dates are set again, say with a new title).
	if keep, err := s.keepsReminder(ctx, t.ID, *fireAt); err != nil || keep {
		return t, fireAt, err
	}
	if t.Remind == domain.RemindAtDue {
		return t, nil, nil // due already: nothing to remind of
	}
	return domain.Task{}, nil, domain.Errorf(domain.ErrInvalid, "the reminder would fire at %s, which is in the past", fireAt.Format(time.RFC3339))
}

func (s *Service) setTaskDates(ctx context.Context, actor string, t domain.Task, fireAt *time.Time) error {
	// The schedule is made before the transaction, because the scheduler may
	// share the database and must not wait on this transaction's locks. A
	// schedule whose transaction then fails, or loses to a concurrent change,
	// is stale: its token matches no reminder, so it fires nothing.
	var next *domain.Reminder
	if fireAt != nil {
		keep, err := s.keepsReminder(ctx, t.ID, *fireAt)
		if err != nil {
			return err
		}
		if !keep {
			r, err := s.schedule(ctx, domain.Reminder{ID: s.ids.New(), TaskID: t.ID, FireAt: *fireAt})
			if err != nil {
				return err
			}
			next = &r
		}
	}
	return s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := requireWatchers(ctx, tx, t.WatcherIDs); err != nil {
			return err
		}
		existing, err := tx.Task(ctx, t.ID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			t.CreatedAt = s.clock.Now()
		case err != nil:
			return err
		case !existing.Watches(actor):
			return domain.Errorf(domain.ErrNotFound, "task %s not found", t.ID)
		default:
			t.CreatedAt = existing.CreatedAt
		}
		t.UpdatedAt = s.clock.Now()
		if err := tx.PutTask(ctx, t); err != nil {
			return err
		}
		pending, err := pendingReminder(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		switch {
		case fireAt == nil:
			return cancel(ctx, tx, pending)
		case next != nil:
			if err := cancel(ctx, tx, pending); err != nil {
				return err
			}
			return tx.PutReminder(ctx, *next)
		}
		// The read before said the current reminder stays; check it still does.
		if pending != nil && pending.FireAt.Equal(*fireAt) {
			return nil
		}
		if keep, err := s.keepsReminder(ctx, t.ID, *fireAt); err != nil || !keep || pending != nil {
			return errors.Join(errRaced, err)
		}
		return nil
	})
}

// keepsReminder reports whether the task's latest reminder already stands
// for fireAt, scheduled or fired: setting the same dates again, or another
// title, must not remind twice.
func (s *Service) keepsReminder(ctx context.Context, taskID string, fireAt time.Time) (bool, error) {
	latest, err := s.store.LatestReminder(ctx, taskID)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return latest.FireAt.Equal(fireAt) && latest.State != domain.ReminderCancelled, nil
}

// schedule gives r a fresh token, makes the scheduler fire it, and returns
// it as SCHEDULED.
func (s *Service) schedule(ctx context.Context, r domain.Reminder) (domain.Reminder, error) {
	if s.scheduler == nil {
		return domain.Reminder{}, domain.Errorf(domain.ErrUnavailable, "reminders are not enabled on this node")
	}
	r.Token = s.ids.New()
	r.State = domain.ReminderScheduled
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.clock.Now()
	}
	if err := s.scheduler.Schedule(ctx, r.ID, r.Token, r.FireAt); err != nil {
		return domain.Reminder{}, fmt.Errorf("schedule reminder: %w", err)
	}
	s.cfg.Observer.ReminderScheduled()
	return r, nil
}

func pendingReminder(ctx context.Context, tx Tx, taskID string) (*domain.Reminder, error) {
	r, err := tx.PendingReminder(ctx, taskID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// cancel cancels a pending reminder, if any; its schedule then fires nothing.
func cancel(ctx context.Context, tx Tx, r *domain.Reminder) error {
	if r == nil {
		return nil
	}
	r.State = domain.ReminderCancelled
	return tx.PutReminder(ctx, *r)
}

func requireWatchers(ctx context.Context, tx Tx, ids []string) error {
	found, err := tx.Members(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			return domain.Errorf(domain.ErrInvalid, "watcher %q is not a member", id)
		}
	}
	return nil
}

// watchedTask returns a task the actor watches; any other is not found.
func watchedTask(ctx context.Context, load func(context.Context, string) (domain.Task, error), actor, id string) (domain.Task, error) {
	if err := domain.CheckTaskID(id); err != nil {
		return domain.Task{}, err
	}
	t, err := load(ctx, id)
	if err != nil {
		return domain.Task{}, err
	}
	if !t.Watches(actor) {
		return domain.Task{}, domain.Errorf(domain.ErrNotFound, "task %s not found", id)
	}
	return t, nil
}

// Task returns a task the actor watches.
func (s *Service) Task(ctx context.Context, actor, id string) (domain.Task, error) {
	t, err := watchedTask(ctx, s.store.Task, actor, id)
	if err != nil {
		return domain.Task{}, fmt.Errorf("get task: %w", err)
	}
	return t, nil
}

// ClearTaskDates removes a task's dates and cancels its pending reminder.
func (s *Service) ClearTaskDates(ctx context.Context, actor, taskID string) (domain.Task, error) {
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		t, err := watchedTask(ctx, tx.Task, actor, taskID)
		if err != nil {
			return err
		}
		t.StartAt, t.DueAt, t.Remind, t.UpdatedAt = nil, nil, domain.RemindNone, s.clock.Now()
		if err := tx.PutTask(ctx, t); err != nil {
			return err
		}
		pending, err := pendingReminder(ctx, tx, taskID)
		if err != nil {
			return err
		}
		return cancel(ctx, tx, pending)
	})
	if err != nil {
		return domain.Task{}, fmt.Errorf("clear task dates: %w", err)
	}
	return s.Task(ctx, actor, taskID)
}

// SnoozeReminder fires a fired reminder again at until.
func (s *Service) SnoozeReminder(ctx context.Context, actor, reminderID string, until time.Time) (domain.Reminder, error) {
	if err := checkULID("reminder", reminderID); err != nil {
		return domain.Reminder{}, err
	}
	until = until.UTC()
	if !until.After(s.clock.Now()) {
		return domain.Reminder{}, domain.Errorf(domain.ErrInvalid, "snooze until %s, which is in the past", until.Format(time.RFC3339))
	}
	r, err := s.Reminder(ctx, actor, reminderID)
	if err != nil {
		return domain.Reminder{}, err
	}
	if r.State != domain.ReminderFired {
		return domain.Reminder{}, domain.Errorf(domain.ErrConflict, "only a reminder that fired can be snoozed; this one is %s", r.State)
	}
	r.FireAt, r.SnoozedUntil = until, &until
	next, err := s.schedule(ctx, r)
	if err != nil {
		return domain.Reminder{}, err
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.Reminder(ctx, reminderID)
		if err != nil {
			return err
		}
		if cur.State != domain.ReminderFired || cur.Token != r.Token {
			return domain.Errorf(domain.ErrConflict, "the reminder changed meanwhile")
		}
		return tx.PutReminder(ctx, next)
	})
	if err != nil {
		return domain.Reminder{}, fmt.Errorf("snooze reminder: %w", err)
	}
	return next, nil
}

// Reminder returns a reminder of a task the actor watches.
func (s *Service) Reminder(ctx context.Context, actor, id string) (domain.Reminder, error) {
	if err := checkULID("reminder", id); err != nil {
		return domain.Reminder{}, err
	}
	r, err := s.store.Reminder(ctx, id)
	if err != nil {
		return domain.Reminder{}, fmt.Errorf("get reminder: %w", err)
	}
	if _, err := s.Task(ctx, actor, r.TaskID); err != nil {
		return domain.Reminder{}, domain.Errorf(domain.ErrNotFound, "reminder %s not found", id)
	}
	return r, nil
}

// LatestReminder returns a task's current reminder, nil when it never had one.
func (s *Service) LatestReminder(ctx context.Context, taskID string) (*domain.Reminder, error) {
	r, err := s.store.LatestReminder(ctx, taskID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest reminder: %w", err)
	}
	return &r, nil
}

// FireReminder is called by the scheduler when a reminder is due. It marks
// the reminder fired and notifies every watcher, in one transaction, then
// tells them live and posts into the task's room. A stale schedule (the
// reminder was rescheduled, cleared or snoozed since) does nothing, and a
// repeated run of the same schedule (the scheduler retries after a crash)
// notifies nobody twice and posts once: notifications are unique per
// reminder, schedule and member, and the room message's client id is the
// schedule's token.
func (s *Service) FireReminder(ctx context.Context, reminderID, token string) error {
	first, err := s.store.Reminder(ctx, reminderID)
	if errors.Is(err, domain.ErrNotFound) {
		return s.staleOrEarly(reminderID, token)
	}
	if err != nil {
		return fmt.Errorf("fire reminder %s: %w", reminderID, err)
	}
	var task domain.Task
	var fresh []domain.Notification
	fired := false
	var lateness *time.Duration // set when this run fired it first
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		fresh, fired, lateness = fresh[:0], false, nil
		// Task before reminder, the order SetTaskDates locks them in.
		var err error
		if task, err = tx.Task(ctx, first.TaskID); err != nil {
			return err
		}
		r, err := tx.Reminder(ctx, reminderID)
		if err != nil {
			return err
		}
		if r.State == domain.ReminderCancelled {
			return nil // cleared or replaced
		}
		if r.Token != token {
			return s.staleOrEarly(reminderID, token)
		}
		now := s.clock.Now()
		if r.State == domain.ReminderScheduled {
			r.State, r.FiredAt = domain.ReminderFired, &now
			if err := tx.PutReminder(ctx, r); err != nil {
				return err
			}
			late := now.Sub(r.FireAt)
			lateness = &late
		}
		fired = true
		text := domain.ReminderText(task, r.FireAt, now)
		for _, m := range task.WatcherIDs {
			n := domain.Notification{ID: s.ids.New(), MemberID: m, Kind: domain.NotificationReminder,
				TaskID: task.ID, ReminderID: r.ID, RoomID: task.RoomID, Text: text, CreatedAt: now}
			stored, err := tx.InsertNotification(ctx, n, token)
			if err != nil {
				return err
			}
			if stored {
				fresh = append(fresh, n)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fire reminder %s: %w", reminderID, err)
	}
	if !fired {
		return nil
	}
	if lateness != nil {
		s.cfg.Observer.ReminderFired(*lateness)
	}
	for i := range fresh {
		n := &fresh[i]
		if err := s.hub.Publish(ctx, realtime.MemberTopic(n.MemberID), realtime.Envelope{Notification: n}); err != nil {
			s.log.WarnContext(ctx, "publish notification", "err", err)
		}
	}
	if task.RoomID != "" {
		r, err := s.store.Reminder(ctx, reminderID)
		if err != nil {
			return fmt.Errorf("fire reminder %s: %w", reminderID, err)
		}
		text := domain.ReminderText(task, r.FireAt, *r.FiredAt)
		if err := s.postAsSystem(ctx, task.RoomID, text, "reminder:"+token); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("fire reminder %s: post in room: %w", reminderID, err)
		}
	}
	return nil
}

// errNotYetCommitted asks the scheduler to run a fire again: its schedule is
// younger than the transaction that records it may take.
var errNotYetCommitted = domain.Errorf(domain.ErrUnavailable, "the reminder's schedule is not committed yet")

// uncommittedGrace is how long after a schedule was made its transaction
// may still commit. A fire finds no reminder with its token either because
// the schedule is stale (the transaction failed, or a later change won), or
// because the reminder came due before that transaction committed; the
// token's age tells which may still be the case.
const uncommittedGrace = 2 * time.Minute

func (s *Service) staleOrEarly(reminderID, token string) error {
	made, ok := ulids.Time(token)
	if ok && s.clock.Now().Sub(made) < uncommittedGrace {
		return fmt.Errorf("fire reminder %s: %w", reminderID, errNotYetCommitted)
	}
	return nil
}

// postAsSystem posts a message authored by the reminders' system member
// into a room, once per clientMessageID.
func (s *Service) postAsSystem(ctx context.Context, roomID, text, clientMessageID string) error {
	_, err := s.postAs(ctx, domain.Member{ID: domain.SystemMemberID, Name: domain.SystemMemberName}, roomID, text, clientMessageID)
	return err
}
