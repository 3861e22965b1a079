package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// RemindOffset says when before a task's due time its reminder fires, as the
// "Dates" dialog of a board card offers it.
type RemindOffset string

// The reminder offsets.
const (
	RemindNone  RemindOffset = "NONE"
	RemindAtDue RemindOffset = "AT_DUE"
	RemindMin5  RemindOffset = "MIN_5"
	RemindMin10 RemindOffset = "MIN_10"
	RemindMin15 RemindOffset = "MIN_15"
	RemindHour1 RemindOffset = "HOUR_1"
	RemindHour2 RemindOffset = "HOUR_2"
	RemindDay1  RemindOffset = "DAY_1"
	RemindDay2  RemindOffset = "DAY_2"
)

var offsets = map[RemindOffset]time.Duration{
	RemindAtDue: 0,
	RemindMin5:  5 * time.Minute,
	RemindMin10: 10 * time.Minute,
	RemindMin15: 15 * time.Minute,
	RemindHour1: time.Hour,
	RemindHour2: 2 * time.Hour,
	RemindDay1:  24 * time.Hour,
	RemindDay2:  48 * time.Hour,
}

// Valid reports whether o is a known offset.
func (o RemindOffset) Valid() bool {
	_, ok := offsets[o]
	return ok || o == RemindNone
}

// Before returns how long before the due time the reminder fires; ok is
// false for NONE.
func (o RemindOffset) Before() (d time.Duration, ok bool) {
	d, ok = offsets[o]
	return d, ok
}

// Limits on task input.
const (
	MaxTaskTitle    = 200
	MaxTaskURL      = 2000
	MaxTaskWatchers = 100
)

// Task is a card of the board as far as dates and reminders go. Its id is
// the board's.
type Task struct {
	ID         string
	Title      string
	URL        string
	StartAt    *time.Time
	DueAt      *time.Time
	Remind     RemindOffset
	RoomID     string   // also post the reminder into this room; empty for none
	WatcherIDs []string // who is reminded, sorted
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// RemindAt is when the task's reminder fires, nil when it has none.
func (t Task) RemindAt() *time.Time {
	before, ok := t.Remind.Before()
	if !ok || t.DueAt == nil {
		return nil
	}
	at := t.DueAt.Add(-before)
	return &at
}

// Watches reports whether the member watches the task.
func (t Task) Watches(memberID string) bool {
	for _, w := range t.WatcherIDs {
		if w == memberID {
			return true
		}
	}
	return false
}

// CheckTask validates a task's fields as a client sets them.
func CheckTask(t Task) (Task, error) {
	if err := CheckTaskID(t.ID); err != nil {
		return Task{}, err
	}
	t.Title = strings.TrimSpace(t.Title)
	switch n := utf8.RuneCountInString(t.Title); {
	case n == 0:
		return Task{}, Errorf(ErrInvalid, "task title must not be empty")
	case n > MaxTaskTitle:
		return Task{}, Errorf(ErrInvalid, "task title is %d characters long; the limit is %d", n, MaxTaskTitle)
	}
	if len(t.URL) > MaxTaskURL {
		return Task{}, Errorf(ErrInvalid, "task url is longer than %d characters", MaxTaskURL)
	}
	if t.Remind == "" {
		t.Remind = RemindNone
	}
	if !t.Remind.Valid() {
		return Task{}, Errorf(ErrInvalid, "unknown remind offset %q", t.Remind)
	}
	if t.StartAt != nil && t.DueAt != nil && t.DueAt.Before(*t.StartAt) {
		return Task{}, Errorf(ErrInvalid, "dueAt %s is before startAt %s", t.DueAt.Format(time.RFC3339), t.StartAt.Format(time.RFC3339))
	}
	if t.Remind != RemindNone && t.DueAt == nil {
		return Task{}, Errorf(ErrInvalid, "a reminder needs a dueAt")
	}
	if len(t.WatcherIDs) > MaxTaskWatchers {
		return Task{}, Errorf(ErrInvalid, "%d watchers given; the limit is %d", len(t.WatcherIDs), MaxTaskWatchers)
	}
	for _, w := range t.WatcherIDs {
		if err := CheckMemberID(w); err != nil {
			return Task{}, Errorf(ErrInvalid, "watcher %q is not a member id", w)
		}
	}
	return t, nil
}

// CheckTaskID checks that id can name a board task.
func CheckTaskID(id string) error {
	if err := CheckMemberID(id); err != nil {
		return Errorf(ErrInvalid, "malformed task id")
	}
	return nil
}

// ReminderState is where a reminder stands.
type ReminderState string

// The reminder states.
const (
	ReminderScheduled ReminderState = "SCHEDULED"
	ReminderFired     ReminderState = "FIRED"
	ReminderCancelled ReminderState = "CANCELLED"
)

// Reminder is one scheduled firing of a task's reminder. Token names the
// schedule: a rescheduled reminder gets a new token, and a job carrying an
// old one finds it stale and does nothing, so no stray fire survives.
type Reminder struct {
	ID           string
	TaskID       string
	FireAt       time.Time
	State        ReminderState
	Token        string
	FiredAt      *time.Time
	SnoozedUntil *time.Time
	CreatedAt    time.Time
}

// LateAfter is how late a reminder may fire before its notification says so.
const LateAfter = time.Minute

// NotificationKind says what a notification is about.
type NotificationKind string

// NotificationReminder is the notification of a fired reminder.
const NotificationReminder NotificationKind = "REMINDER"

// Notification is something a member is told about, kept until read and
// after.
type Notification struct {
	ID         string
	MemberID   string
	Kind       NotificationKind
	TaskID     string
	ReminderID string
	RoomID     string
	Text       string
	CreatedAt  time.Time
	ReadAt     *time.Time
}

// ReminderText is the text of a reminder's notification and room message.
func ReminderText(t Task, fireAt, now time.Time) string {
	var b strings.Builder
	if late := now.Sub(fireAt); late >= LateAfter {
		fmt.Fprintf(&b, "Late reminder (due to fire %s ago): ", late.Round(time.Second))
	} else {
		b.WriteString("Reminder: ")
	}
	b.WriteString(t.Title)
	if t.DueAt != nil {
		fmt.Fprintf(&b, " is due %s", t.DueAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return b.String()
}
