package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// manualScheduler records schedules; the test plays the scheduler's part by
// calling FireReminder itself, so no test waits for real time to pass.
type manualScheduler struct {
	mu  sync.Mutex
	all []schedule
}

type schedule struct {
	reminderID, token string
	at                time.Time
}

func (m *manualScheduler) Schedule(_ context.Context, reminderID, token string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.all = append(m.all, schedule{reminderID, token, at})
	return nil
}

// last returns the latest schedule, failing when there is none.
func (m *manualScheduler) last(t *testing.T) schedule {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.all) == 0 {
		t.Fatal("nothing was scheduled")
	}
	return m.all[len(m.all)-1]
}

func (m *manualScheduler) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.all)
}

type reminderFixture struct {
	svc   *app.Service
	clock *clock.Fake
	sched *manualScheduler
}

func newReminderFixture(t *testing.T) reminderFixture {
	t.Helper()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	sched := &manualScheduler{}
	svc.WithScheduler(sched)
	return reminderFixture{svc: svc, clock: clk, sched: sched}
}

func (f reminderFixture) set(t *testing.T, actor string, in app.TaskDates) domain.Task {
	t.Helper()
	task, err := f.svc.SetTaskDates(t.Context(), actor, in)
	if err != nil {
		t.Fatalf("SetTaskDates: %v", err)
	}
	return task
}

func (f reminderFixture) fire(t *testing.T, s schedule) {
	t.Helper()
	if err := f.svc.FireReminder(t.Context(), s.reminderID, s.token); err != nil {
		t.Fatalf("FireReminder: %v", err)
	}
}

func (f reminderFixture) notifications(t *testing.T, member string) []domain.Notification {
	t.Helper()
	page, err := f.svc.Notifications(t.Context(), member, false, app.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func (f reminderFixture) reminder(t *testing.T, actor, taskID string) domain.Reminder {
	t.Helper()
	r, err := f.svc.LatestReminder(t.Context(), taskID)
	if err != nil || r == nil {
		t.Fatalf("LatestReminder: %v %v", r, err)
	}
	return *r
}

func TestReminderFiresOnceForEveryWatcher(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	due := t0.Add(time.Hour)
	live, _ := stream(t, func(ctx context.Context, done app.Done) (<-chan *domain.Notification, error) {
		return f.svc.LiveNotifications(ctx, bob, done)
	})
	task := f.set(t, alice, app.TaskDates{TaskID: "card-1", Title: "Ship it", DueAt: &due, Remind: domain.RemindMin15, WatcherIDs: []string{bob}})
	if task.RemindAt() == nil || !task.RemindAt().Equal(due.Add(-15*time.Minute)) {
		t.Fatalf("remindAt = %v, want 15 minutes before %v", task.RemindAt(), due)
	}
	if diff := strings.Join(task.WatcherIDs, ","); diff != "alice,bob" {
		t.Fatalf("watchers = %v, want the caller and bob", task.WatcherIDs)
	}
	s := f.sched.last(t)
	if !s.at.Equal(due.Add(-15 * time.Minute)) {
		t.Fatalf("scheduled at %v", s.at)
	}
	f.clock.Advance(45 * time.Minute)
	f.fire(t, s)
	f.fire(t, s) // the scheduler retries after a crash: nothing more happens
	for _, m := range []string{alice, bob} {
		ns := f.notifications(t, m)
		if len(ns) != 1 || ns[0].TaskID != "card-1" || !strings.HasPrefix(ns[0].Text, "Reminder: Ship it") {
			t.Fatalf("%s's notifications = %+v, want one reminder", m, ns)
		}
	}
	if r := f.reminder(t, alice, "card-1"); r.State != domain.ReminderFired || r.FiredAt == nil {
		t.Fatalf("reminder = %+v, want FIRED", r)
	}
	if n := recv(t, live, waitFor); n.MemberID != bob || n.TaskID != "card-1" {
		t.Fatalf("live notification = %+v", n)
	}
	select {
	case n := <-live:
		t.Fatalf("a second live notification: %+v", n)
	default:
	}
}

func TestRescheduleAndClearLeaveNoStrayFire(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	due := t0.Add(2 * time.Hour)
	f.set(t, alice, app.TaskDates{TaskID: "card-2", Title: "Review", DueAt: &due, Remind: domain.RemindAtDue})
	first := f.sched.last(t)

	later := due.Add(time.Hour)
	f.set(t, alice, app.TaskDates{TaskID: "card-2", Title: "Review", DueAt: &later, Remind: domain.RemindAtDue})
	second := f.sched.last(t)
	if second.token == first.token {
		t.Fatal("rescheduling kept the old schedule")
	}
	f.fire(t, first) // the old schedule comes due: stale
	if ns := f.notifications(t, alice); len(ns) != 0 {
		t.Fatalf("a stale schedule notified: %+v", ns)
	}
	// Setting the same dates again does not schedule again.
	f.set(t, alice, app.TaskDates{TaskID: "card-2", Title: "Review, renamed", DueAt: &later, Remind: domain.RemindAtDue})
	if f.sched.count() != 2 {
		t.Fatalf("%d schedules, want 2: unchanged dates must keep the reminder", f.sched.count())
	}
	if _, err := f.svc.ClearTaskDates(t.Context(), alice, "card-2"); err != nil {
		t.Fatal(err)
	}
	f.fire(t, second)
	if ns := f.notifications(t, alice); len(ns) != 0 {
		t.Fatalf("a cleared reminder fired: %+v", ns)
	}
	if r := f.reminder(t, alice, "card-2"); r.State != domain.ReminderCancelled {
		t.Fatalf("reminder state %s, want CANCELLED", r.State)
	}
}

func TestChangingDueAfterFireSchedulesAgain(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	due := t0.Add(time.Hour)
	f.set(t, alice, app.TaskDates{TaskID: "card-3", Title: "Pay", DueAt: &due, Remind: domain.RemindHour1})
	f.clock.Advance(time.Second)
	f.fire(t, f.sched.last(t))
	// The same dates after the fire: no error, no second reminder.
	f.set(t, alice, app.TaskDates{TaskID: "card-3", Title: "Pay the bill", DueAt: &due, Remind: domain.RemindHour1})
	if f.sched.count() != 1 {
		t.Fatalf("%d schedules after re-setting the same dates, want 1", f.sched.count())
	}
	newDue := due.Add(24 * time.Hour)
	f.set(t, alice, app.TaskDates{TaskID: "card-3", Title: "Pay the bill", DueAt: &newDue, Remind: domain.RemindHour1})
	if f.sched.count() != 2 || !f.sched.last(t).at.Equal(newDue.Add(-time.Hour)) {
		t.Fatalf("changing dueAt after the fire did not schedule a new reminder")
	}
	if r := f.reminder(t, alice, "card-3"); r.State != domain.ReminderScheduled {
		t.Fatalf("current reminder %s, want SCHEDULED", r.State)
	}
}

func TestSnooze(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	due := t0.Add(10 * time.Minute)
	f.set(t, alice, app.TaskDates{TaskID: "card-4", Title: "Call", DueAt: &due, Remind: domain.RemindMin5})
	r := f.reminder(t, alice, "card-4")
	if _, err := f.svc.SnoozeReminder(t.Context(), alice, r.ID, t0.Add(time.Hour)); !errorIs(err, domain.ErrConflict) {
		t.Fatalf("snoozing before the fire: %v, want CONFLICT", err)
	}
	f.clock.Advance(5 * time.Minute)
	f.fire(t, f.sched.last(t))
	if _, err := f.svc.SnoozeReminder(t.Context(), alice, r.ID, t0); !errorIs(err, domain.ErrInvalid) {
		t.Fatalf("snoozing into the past: %v, want BAD_USER_INPUT", err)
	}
	until := t0.Add(20 * time.Minute)
	snoozed, err := f.svc.SnoozeReminder(t.Context(), alice, r.ID, until)
	if err != nil {
		t.Fatal(err)
	}
	if snoozed.State != domain.ReminderScheduled || snoozed.SnoozedUntil == nil || !snoozed.FireAt.Equal(until) {
		t.Fatalf("snoozed = %+v", snoozed)
	}
	f.clock.Advance(15 * time.Minute)
	f.fire(t, f.sched.last(t))
	if ns := f.notifications(t, alice); len(ns) != 2 {
		t.Fatalf("%d notifications after the snoozed fire, want 2", len(ns))
	}
}

func TestReminderPostsIntoTheRoomOnce(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	room := createRoom(t, f.svc, alice, domain.KindPrivateGroup, "Board", bob)
	due := t0.Add(time.Hour)
	f.set(t, alice, app.TaskDates{TaskID: "card-5", Title: "Demo", DueAt: &due, Remind: domain.RemindAtDue, RoomID: room.ID})
	s := f.sched.last(t)
	f.clock.Advance(time.Hour + 2*time.Minute) // fired late, as after downtime
	f.fire(t, s)
	f.fire(t, s)
	page, err := f.svc.Messages(t.Context(), bob, room.ID, app.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].AuthorID != domain.SystemMemberID || !strings.HasPrefix(page.Items[0].Text, "Late reminder") {
		t.Fatalf("room messages = %+v, want one late reminder by the system member", page.Items)
	}
	author, err := f.svc.Member(t.Context(), domain.SystemMemberID)
	if err != nil || author.Name != domain.SystemMemberName {
		t.Fatalf("system member = %+v, %v", author, err)
	}
}

func TestTaskDatesBadInput(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	due := t0.Add(time.Hour)
	start := due.Add(time.Minute)
	past := t0.Add(-time.Hour)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("w%d", i)
	}
	tests := []struct {
		name string
		in   app.TaskDates
		want error
	}{
		{"empty title", app.TaskDates{TaskID: "x", Title: " "}, domain.ErrInvalid},
		{"title over 200", app.TaskDates{TaskID: "x", Title: strings.Repeat("t", 201)}, domain.ErrInvalid},
		{"dueAt before startAt", app.TaskDates{TaskID: "x", Title: "t", StartAt: &start, DueAt: &due}, domain.ErrInvalid},
		{"more than 100 watchers", app.TaskDates{TaskID: "x", Title: "t", WatcherIDs: many}, domain.ErrInvalid},
		{"watcher not a member", app.TaskDates{TaskID: "x", Title: "t", WatcherIDs: []string{"nobody"}}, domain.ErrInvalid},
		{"malformed watcher id", app.TaskDates{TaskID: "x", Title: "t", WatcherIDs: []string{"a\nb"}}, domain.ErrInvalid},
		{"reminder in the past", app.TaskDates{TaskID: "x", Title: "t", DueAt: &past, Remind: domain.RemindMin5}, domain.ErrInvalid},
		{"reminder without dueAt", app.TaskDates{TaskID: "x", Title: "t", Remind: domain.RemindMin5}, domain.ErrInvalid},
		{"unknown offset", app.TaskDates{TaskID: "x", Title: "t", DueAt: &due, Remind: "MIN_7"}, domain.ErrInvalid},
	}
	for _, tc := range tests {
		if _, err := f.svc.SetTaskDates(t.Context(), alice, tc.in); !errorIs(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if f.sched.count() != 0 {
		t.Errorf("refused input scheduled %d reminders", f.sched.count())
	}
	// AT_DUE with a due date in the past is accepted and sets no reminder.
	task := f.set(t, alice, app.TaskDates{TaskID: "old", Title: "t", DueAt: &past, Remind: domain.RemindAtDue})
	if r, _ := f.svc.LatestReminder(t.Context(), task.ID); r != nil || f.sched.count() != 0 {
		t.Errorf("a past AT_DUE task got a reminder: %+v", r)
	}
	if _, err := f.svc.ClearTaskDates(t.Context(), alice, "unknown"); !errorIs(err, domain.ErrNotFound) {
		t.Errorf("clearing an unknown task: %v, want NOT_FOUND", err)
	}
	// Tasks are visible to their watchers only.
	if _, err := f.svc.Task(t.Context(), carol, "old"); !errorIs(err, domain.ErrNotFound) {
		t.Errorf("a non-watcher read the task: %v", err)
	}
	if _, err := f.svc.SetTaskDates(t.Context(), carol, app.TaskDates{TaskID: "old", Title: "mine now"}); !errorIs(err, domain.ErrNotFound) {
		t.Errorf("a non-watcher changed the task: %v", err)
	}
}

func TestTimesAreStoredInUTC(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	oslo := time.FixedZone("CET", 3600)
	due := t0.Add(3 * time.Hour).In(oslo)
	task := f.set(t, alice, app.TaskDates{TaskID: "tz", Title: "t", DueAt: &due, Remind: domain.RemindHour1})
	if task.DueAt.Location() != time.UTC || !task.DueAt.Equal(due) {
		t.Fatalf("dueAt = %v, want %v in UTC", task.DueAt, due)
	}
}

func TestNotificationsUnreadFirst(t *testing.T) {
	t.Parallel()
	f := newReminderFixture(t)
	for i := range 3 {
		due := t0.Add(time.Duration(i+1) * time.Hour)
		f.set(t, alice, app.TaskDates{TaskID: fmt.Sprintf("n%d", i), Title: fmt.Sprintf("task %d", i), DueAt: &due, Remind: domain.RemindAtDue})
		f.clock.Advance(time.Hour)
		f.fire(t, f.sched.last(t))
	}
	ns := f.notifications(t, alice)
	if len(ns) != 3 || ns[0].TaskID != "n2" || ns[2].TaskID != "n0" {
		t.Fatalf("notifications = %+v, want newest first", ns)
	}
	if _, err := f.svc.MarkNotificationRead(t.Context(), alice, ns[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.MarkNotificationRead(t.Context(), bob, ns[1].ID); !errorIs(err, domain.ErrNotFound) {
		t.Fatalf("bob marked alice's notification: %v", err)
	}
	ns = f.notifications(t, alice)
	if ns[0].TaskID != "n1" || ns[2].TaskID != "n2" || ns[2].ReadAt == nil {
		t.Fatalf("after reading the newest: %+v, want unread first", ns)
	}
	if n, err := f.svc.MarkAllNotificationsRead(t.Context(), alice); err != nil || n != 2 {
		t.Fatalf("MarkAllNotificationsRead = %d, %v; want 2", n, err)
	}
	unread, err := f.svc.Notifications(t.Context(), alice, true, app.PageArgs{})
	if err != nil || len(unread.Items) != 0 {
		t.Fatalf("unread after marking all: %+v %v", unread.Items, err)
	}
}

func errorIs(err, kind error) bool { return err != nil && errors.Is(err, kind) }

// TestFireBeforeCommitIsRetried: a reminder due within the time its
// transaction takes may be fired before the transaction commits; the fire
// must then ask to be run again rather than count as stale. A schedule too
// old to be in flight is stale.
func TestFireBeforeCommitIsRetried(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{Start: time.Now()})
	ids := ulids.New()
	reminder, token := ids.New(), ids.New()
	if err := svc.FireReminder(t.Context(), reminder, token); !errorIs(err, domain.ErrUnavailable) {
		t.Fatalf("fire of a fresh, uncommitted schedule: %v, want a retryable UNAVAILABLE", err)
	}
	clk.Advance(3 * time.Minute)
	if err := svc.FireReminder(t.Context(), reminder, token); err != nil {
		t.Fatalf("fire of a schedule that never committed: %v, want nil (stale)", err)
	}
}
