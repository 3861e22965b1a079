package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// taskTests are the cases of tasks, their reminders and the notifications
// of those reminders.
func taskTests() []test {
	return []test{
		{"Tasks/PutAndReadReplacesWatchers", testPutTask},
		{"Tasks/NotFound", testTaskNotFound},
		{"Tasks/TasksOfPagesByDueDate", testTasksOfPaging},
		{"Tasks/TasksOfBounds", testTasksOfBounds},
		{"Tasks/TasksOfFollowsPutTask", testTasksOfFollowsPutTask},
		{"Reminders/PendingAndLatest", testPendingAndLatestReminder},
		{"Reminders/PutUpdates", testPutReminderUpdates},
		{"Notifications/InsertOncePerReminderTokenAndMember", testInsertNotificationDedup},
		{"Notifications/PagesUnreadFirstNewestFirst", testNotificationsPaging},
		{"Notifications/MarkReadIsIdempotentAndMemberScoped", testMarkNotificationRead},
		{"Notifications/MarkAllReadCountsChanged", testMarkAllNotificationsRead},
	}
}

// storedTask is t as the store returns it: times stored, watchers sorted
// without duplicates.
func storedTask(t domain.Task) domain.Task {
	t.StartAt = storedPtr(t.StartAt)
	t.DueAt = storedPtr(t.DueAt)
	t.CreatedAt = stored(t.CreatedAt)
	t.UpdatedAt = stored(t.UpdatedAt)
	t.WatcherIDs = slices.Compact(slices.Sorted(slices.Values(t.WatcherIDs)))
	return t
}

func storedReminder(r domain.Reminder) domain.Reminder {
	r.FireAt = stored(r.FireAt)
	r.FiredAt = storedPtr(r.FiredAt)
	r.SnoozedUntil = storedPtr(r.SnoozedUntil)
	r.CreatedAt = stored(r.CreatedAt)
	return r
}

func storedNotification(n domain.Notification) domain.Notification {
	n.CreatedAt = stored(n.CreatedAt)
	n.ReadAt = storedPtr(n.ReadAt)
	return n
}

// ptr returns a pointer to a copy of t.
func ptr(t time.Time) *time.Time { return &t }

// newTask returns a task due at due (none when nil), watched by watchers,
// that is not stored yet.
func newTask(due *time.Time, watchers ...string) domain.Task {
	remind := domain.RemindNone
	if due != nil {
		remind = domain.RemindMin15
	}
	return domain.Task{
		ID: newID(), Title: "task", URL: "https://board.example/c/1", DueAt: due, Remind: remind,
		WatcherIDs: watchers, CreatedAt: t0, UpdatedAt: t0,
	}
}

// putTasks stores tasks in one transaction.
func putTasks(t *testing.T, s app.Store, tasks ...domain.Task) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for _, task := range tasks {
			if err := tx.PutTask(ctx, task); err != nil {
				return err
			}
		}
		return nil
	})
}

// taskIDs returns the ID of each task.
func taskIDs(tasks []domain.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func testPutTask(t *testing.T, s app.Store) {
	ctx := t.Context()
	task := domain.Task{
		ID: newID(), Title: "Ship the release", URL: "https://board.example/c/42",
		StartAt: ptr(at(10)), DueAt: ptr(at(3600)), Remind: domain.RemindHour1, RoomID: "room-1",
		WatcherIDs: []string{"cid", "ann", "bob", "ann"}, CreatedAt: at(1), UpdatedAt: at(1),
	}
	bare := domain.Task{ID: newID(), Title: "Someday", Remind: domain.RemindNone, CreatedAt: at(2), UpdatedAt: at(2)}
	putTasks(t, s, task, bare)

	for _, want := range []domain.Task{task, bare} {
		got, err := s.Task(ctx, want.ID)
		if err != nil {
			t.Fatalf("Task: %v", err)
		}
		checkEqual(t, "Task", got, storedTask(want))
	}

	// A second put changes every field it is given and replaces the
	// watchers: ann and cid no longer watch, dan does.
	changed := task
	changed.Title, changed.URL, changed.StartAt, changed.DueAt = "Ship it", "", nil, ptr(at(7200))
	changed.Remind, changed.RoomID, changed.UpdatedAt = domain.RemindAtDue, "", at(5)
	changed.WatcherIDs = []string{"dan", "bob"}
	putTasks(t, s, changed)
	got, err := s.Task(ctx, task.ID)
	if err != nil {
		t.Fatalf("Task after the second put: %v", err)
	}
	checkEqual(t, "Task after the second put", got, storedTask(changed))
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.Task(ctx, task.ID)
		checkEqual(t, "Tx.Task", got, storedTask(changed))
		return err
	})

	// An empty watcher set removes every watcher.
	changed.WatcherIDs, changed.UpdatedAt = nil, at(6)
	putTasks(t, s, changed)
	got, err = s.Task(ctx, task.ID)
	if err != nil {
		t.Fatalf("Task without watchers: %v", err)
	}
	checkEqual(t, "Task without watchers", got, storedTask(changed))
}

func testTaskNotFound(t *testing.T, s app.Store) {
	putTasks(t, s, newTask(nil, "ann"))
	_, err := s.Task(t.Context(), "no-such-task")
	checkKind(t, "Task of a missing id", err, domain.ErrNotFound)
	if err != nil && err.Error() != "task no-such-task not found" {
		t.Errorf("Task of a missing id: message %q, want %q", err, "task no-such-task not found")
	}
	err = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		_, err := tx.Task(ctx, "no-such-task")
		return err
	})
	checkKind(t, "Tx.Task of a missing id", err, domain.ErrNotFound)
}

// pageTasksOf reads every page of TasksOf from page on, failing on a page
// over the limit.
func pageTasksOf(t *testing.T, s app.Store, memberID string, page app.TaskPage, tasks int) []domain.Task {
	t.Helper()
	var all []domain.Task
	for range tasks + 2 { // bounded: a correct adapter needs at most tasks+1 pages
		got, err := s.TasksOf(t.Context(), memberID, page)
		if err != nil {
			t.Fatalf("TasksOf(%+v): %v", page, err)
		}
		if len(got) > page.Limit {
			t.Fatalf("TasksOf(%+v) returned %d tasks", page, len(got))
		}
		all = append(all, got...)
		if len(got) < page.Limit {
			return all
		}
		last := got[len(got)-1]
		page.AfterDue, page.AfterID = *last.DueAt, last.ID
	}
	t.Fatalf("TasksOf did not end after %d pages", tasks+2)
	return nil
}

// byDue orders tasks by (DueAt, ID), as TasksOf returns them.
func byDue(a, b domain.Task) int {
	if c := a.DueAt.Compare(*b.DueAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func testTasksOfPaging(t *testing.T, s app.Store) {
	// Tasks ann watches, due in pairs at the same time so that the id breaks
	// the tie, put in an order that is neither the due order nor the id
	// order; others she does not watch, or that have no due date.
	var mine []domain.Task
	for i := range 7 {
		mine = append(mine, newTask(ptr(at(100-10*(i/2))), "ann", "bob"))
	}
	slices.Reverse(mine[2:5])
	putTasks(t, s, mine...)
	putTasks(t, s,
		newTask(ptr(at(50)), "bob"),
		newTask(nil, "ann"),
		newTask(nil, "ann", "bob"),
	)

	want := make([]domain.Task, len(mine))
	for i, task := range mine {
		want[i] = storedTask(task)
	}
	slices.SortFunc(want, byDue)
	for _, limit := range []int{1, 2, 3, 7, 50} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := pageTasksOf(t, s, "ann", app.TaskPage{Limit: limit}, len(mine))
			checkEqual(t, "every page of ann's tasks", got, want)
		})
	}

	got, err := s.TasksOf(t.Context(), "cid", app.TaskPage{Limit: 10})
	if err != nil {
		t.Fatalf("TasksOf: %v", err)
	}
	checkEqual(t, "tasks of a member who watches none", got, []domain.Task{})
}

func testTasksOfBounds(t *testing.T, s app.Store) {
	tasks := []domain.Task{
		newTask(ptr(at(10)), "ann"),
		newTask(ptr(at(20)), "ann"),
		newTask(ptr(at(20)), "ann"),
		newTask(ptr(at(30)), "ann"),
		newTask(ptr(at(40)), "ann"),
	}
	putTasks(t, s, tasks...)
	ids := func(i ...int) []string {
		out := []string{}
		for _, j := range i {
			out = append(out, tasks[j].ID)
		}
		return out
	}
	tied := ids(1, 2)
	slices.Sort(tied)

	tests := []struct {
		name string
		page app.TaskPage
		want []string
	}{
		{"unbounded", app.TaskPage{}, slices.Concat(ids(0), tied, ids(3, 4))},
		{"after is inclusive", app.TaskPage{DueAfter: at(20)}, slices.Concat(tied, ids(3, 4))},
		{"before is exclusive", app.TaskPage{DueBefore: at(30)}, slices.Concat(ids(0), tied)},
		{"both", app.TaskPage{DueAfter: at(11), DueBefore: at(31)}, slices.Concat(tied, ids(3))},
		{"empty range", app.TaskPage{DueAfter: at(21), DueBefore: at(29)}, []string{}},
		{"key inside the range", app.TaskPage{DueAfter: at(10), DueBefore: at(40), AfterDue: at(20), AfterID: tied[0]}, []string{tied[1], tasks[3].ID}},
		{"key before the range", app.TaskPage{DueAfter: at(30), AfterDue: at(10), AfterID: tasks[0].ID}, ids(3, 4)},
		{"key after the range", app.TaskPage{DueBefore: at(20), AfterDue: at(30), AfterID: tasks[3].ID}, []string{}},
	}
	for _, tc := range tests {
		tc.page.Limit = 10
		got, err := s.TasksOf(t.Context(), "ann", tc.page)
		if err != nil {
			t.Fatalf("%s: TasksOf: %v", tc.name, err)
		}
		checkEqual(t, tc.name, taskIDs(got), tc.want)
	}
}

func testTasksOfFollowsPutTask(t *testing.T, s app.Store) {
	first, second := newTask(ptr(at(10)), "ann", "bob"), newTask(ptr(at(20)), "ann")
	putTasks(t, s, first, second)

	// A new due date moves the task in every watcher's list; a watcher
	// removed no longer lists it; a task without a due date is not listed.
	first.DueAt, first.WatcherIDs = ptr(at(30)), []string{"bob", "cid"}
	second.DueAt, second.Remind = nil, domain.RemindNone
	third := newTask(ptr(at(25)), "ann", "bob")
	putTasks(t, s, first, second, third)

	for member, want := range map[string][]domain.Task{
		"ann": {storedTask(third)},
		"bob": {storedTask(third), storedTask(first)},
		"cid": {storedTask(first)},
	} {
		got, err := s.TasksOf(t.Context(), member, app.TaskPage{Limit: 10})
		if err != nil {
			t.Fatalf("TasksOf(%s): %v", member, err)
		}
		checkEqual(t, "tasks of "+member, got, want)
	}
}

// putReminders stores reminders in one transaction.
func putReminders(t *testing.T, s app.Store, reminders ...domain.Reminder) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for _, r := range reminders {
			if err := tx.PutReminder(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// pendingReminder reads a task's pending reminder in a transaction.
func pendingReminder(t *testing.T, s app.Store, taskID string) (domain.Reminder, error) {
	t.Helper()
	var r domain.Reminder
	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		var err error
		r, err = tx.PendingReminder(ctx, taskID)
		return err
	})
	return r, err
}

func testPendingAndLatestReminder(t *testing.T, s app.Store) {
	ctx := t.Context()
	task, other := newTask(ptr(at(3600)), "ann"), newTask(ptr(at(3600)), "ann")
	putTasks(t, s, task, other)

	_, err := s.LatestReminder(ctx, task.ID)
	checkKind(t, "LatestReminder of a task without reminders", err, domain.ErrNotFound)
	_, err = pendingReminder(t, s, task.ID)
	checkKind(t, "PendingReminder of a task without reminders", err, domain.ErrNotFound)

	// The first schedule, then a reschedule that cancels it; the reminder of
	// the other task is newer than both and must not count.
	first := domain.Reminder{ID: newID(), TaskID: task.ID, FireAt: at(2700), State: domain.ReminderScheduled, Token: "tok-1", CreatedAt: at(1)}
	putReminders(t, s, first)
	got, err := pendingReminder(t, s, task.ID)
	if err != nil {
		t.Fatalf("PendingReminder: %v", err)
	}
	checkEqual(t, "PendingReminder", got, storedReminder(first))

	first.State = domain.ReminderCancelled
	second := domain.Reminder{ID: newID(), TaskID: task.ID, FireAt: at(3000), State: domain.ReminderScheduled, Token: "tok-2", CreatedAt: at(2)}
	elsewhere := domain.Reminder{ID: newID(), TaskID: other.ID, FireAt: at(3000), State: domain.ReminderScheduled, Token: "tok-3", CreatedAt: at(9)}
	putReminders(t, s, first, second, elsewhere)
	got, err = pendingReminder(t, s, task.ID)
	if err != nil {
		t.Fatalf("PendingReminder after the reschedule: %v", err)
	}
	checkEqual(t, "PendingReminder after the reschedule", got, storedReminder(second))
	got, err = s.LatestReminder(ctx, task.ID)
	if err != nil {
		t.Fatalf("LatestReminder: %v", err)
	}
	checkEqual(t, "LatestReminder", got, storedReminder(second))

	// Once fired, nothing is pending, and the fired one is still the latest.
	second.State, second.FiredAt = domain.ReminderFired, ptr(at(3000).Add(time.Millisecond))
	putReminders(t, s, second)
	_, err = pendingReminder(t, s, task.ID)
	checkKind(t, "PendingReminder after the fire", err, domain.ErrNotFound)
	got, err = s.LatestReminder(ctx, task.ID)
	if err != nil {
		t.Fatalf("LatestReminder after the fire: %v", err)
	}
	checkEqual(t, "LatestReminder after the fire", got, storedReminder(second))

	// Created at the same time, the reminder with the greater id is the
	// latest, whichever was put first.
	tieHigh := domain.Reminder{ID: "tie-2", TaskID: task.ID, FireAt: at(3500), State: domain.ReminderCancelled, Token: "tok-4", CreatedAt: at(5)}
	tieLow := tieHigh
	tieLow.ID, tieLow.Token = "tie-1", "tok-5"
	putReminders(t, s, tieHigh, tieLow)
	got, err = s.LatestReminder(ctx, task.ID)
	if err != nil {
		t.Fatalf("LatestReminder of tied reminders: %v", err)
	}
	checkEqual(t, "LatestReminder of tied reminders", got, storedReminder(tieHigh))
}

func testPutReminderUpdates(t *testing.T, s app.Store) {
	ctx := t.Context()
	task := newTask(ptr(at(3600)), "ann")
	putTasks(t, s, task)
	r := domain.Reminder{ID: newID(), TaskID: task.ID, FireAt: at(2700), State: domain.ReminderScheduled, Token: "tok-1", CreatedAt: at(1)}
	putReminders(t, s, r)
	got, err := s.Reminder(ctx, r.ID)
	if err != nil {
		t.Fatalf("Reminder: %v", err)
	}
	checkEqual(t, "Reminder", got, storedReminder(r))

	// A snooze: a new fire time and token, still scheduled; then the fire.
	r.FireAt, r.Token, r.SnoozedUntil = at(3300), "tok-2", ptr(at(3300))
	putReminders(t, s, r)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.Reminder(ctx, r.ID)
		checkEqual(t, "Tx.Reminder after the snooze", got, storedReminder(r))
		return err
	})
	r.State, r.FiredAt = domain.ReminderFired, ptr(at(3301))
	putReminders(t, s, r)
	got, err = s.Reminder(ctx, r.ID)
	if err != nil {
		t.Fatalf("Reminder after the fire: %v", err)
	}
	checkEqual(t, "Reminder after the fire", got, storedReminder(r))

	_, err = s.Reminder(ctx, "no-such-reminder")
	checkKind(t, "Reminder of a missing id", err, domain.ErrNotFound)
	err = s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		_, err := tx.Reminder(ctx, "no-such-reminder")
		return err
	})
	checkKind(t, "Tx.Reminder of a missing id", err, domain.ErrNotFound)
}

// newNotification returns a reminder notification for memberID that is not
// stored yet.
func newNotification(memberID, reminderID string, createdAt time.Time) domain.Notification {
	return domain.Notification{
		ID: newID(), MemberID: memberID, Kind: domain.NotificationReminder, TaskID: "task-1", ReminderID: reminderID,
		RoomID: "room-1", Text: "Reminder: task is due", CreatedAt: createdAt,
	}
}

// insertNotification stores a notification and returns whether it was new.
func insertNotification(t *testing.T, s app.Store, n domain.Notification, token string) bool {
	t.Helper()
	var inserted bool
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		var err error
		inserted, err = tx.InsertNotification(ctx, n, token)
		return err
	})
	return inserted
}

func testInsertNotificationDedup(t *testing.T, s app.Store) {
	ctx := t.Context()
	first := newNotification("ann", "rem-1", at(1))
	tests := []struct {
		name  string
		n     domain.Notification
		token string
		want  bool
	}{
		{"first", first, "tok-1", true},
		{"same reminder, token and member", newNotification("ann", "rem-1", at(2)), "tok-1", false},
		{"another member", newNotification("bob", "rem-1", at(2)), "tok-1", true},
		{"a new token of the reminder", newNotification("ann", "rem-1", at(3)), "tok-2", true},
		{"another reminder", newNotification("ann", "rem-2", at(3)), "tok-1", true},
	}
	for _, tc := range tests {
		if got := insertNotification(t, s, tc.n, tc.token); got != tc.want {
			t.Errorf("%s: InsertNotification returned %t, want %t", tc.name, got, tc.want)
		}
		got, err := s.Notification(ctx, tc.n.ID)
		if !tc.want {
			checkKind(t, tc.name+": Notification of the one not stored", err, domain.ErrNotFound)
			continue
		}
		if err != nil {
			t.Fatalf("%s: Notification: %v", tc.name, err)
		}
		checkEqual(t, tc.name+": Notification", got, storedNotification(tc.n))
	}

	_, err := s.Notification(ctx, "no-such-notification")
	checkKind(t, "Notification of a missing id", err, domain.ErrNotFound)
}

// pageNotifications reads every page of Notifications, failing on a page
// over the limit.
func pageNotifications(t *testing.T, s app.Store, memberID string, unreadOnly bool, limit, notifications int) []domain.Notification {
	t.Helper()
	var all []domain.Notification
	page := app.NotificationPage{UnreadOnly: unreadOnly, Limit: limit}
	for range notifications + 2 { // bounded: a correct adapter needs at most notifications+1 pages
		got, err := s.Notifications(t.Context(), memberID, page)
		if err != nil {
			t.Fatalf("Notifications(%+v): %v", page, err)
		}
		if len(got) > limit {
			t.Fatalf("Notifications(%+v) returned %d notifications", page, len(got))
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		last := got[len(got)-1]
		page.AfterRead, page.AfterCreateAt, page.AfterID = last.ReadAt != nil, last.CreatedAt, last.ID
	}
	t.Fatalf("Notifications did not end after %d pages", notifications+2)
	return nil
}

// unreadFirst orders notifications as Notifications returns them.
func unreadFirst(a, b domain.Notification) int {
	if c := cmp.Compare(btoi(a.ReadAt != nil), btoi(b.ReadAt != nil)); c != 0 {
		return c
	}
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func testNotificationsPaging(t *testing.T, s app.Store) {
	// ann's notifications, created in pairs at the same time so that the id
	// breaks the tie; every third one read, the read ones marked in an order
	// that is not their creation order. bob's must not show.
	var mine []domain.Notification
	for i := range 11 {
		n := newNotification("ann", fmt.Sprintf("rem-%d", i), at(i/2))
		insertNotification(t, s, n, "tok")
		mine = append(mine, n)
	}
	insertNotification(t, s, newNotification("bob", "rem-0", at(100)), "tok")
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for i := len(mine) - 1; i >= 0; i -= 3 {
			n, err := tx.MarkNotificationRead(ctx, "ann", mine[i].ID, at(50-i))
			if err != nil {
				return err
			}
			mine[i] = n
		}
		return nil
	})

	want := make([]domain.Notification, len(mine))
	for i, n := range mine {
		want[i] = storedNotification(n)
	}
	slices.SortFunc(want, unreadFirst)
	wantUnread := slices.DeleteFunc(slices.Clone(want), func(n domain.Notification) bool { return n.ReadAt != nil })
	if len(wantUnread) == 0 || len(wantUnread) == len(want) {
		t.Fatalf("the fixture needs read and unread notifications; %d of %d are unread", len(wantUnread), len(want))
	}
	for _, limit := range []int{1, 2, 3, 7, 50} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := pageNotifications(t, s, "ann", false, limit, len(mine))
			checkEqual(t, "every page of ann's notifications", got, want)
			got = pageNotifications(t, s, "ann", true, limit, len(mine))
			checkEqual(t, "every page of ann's unread notifications", got, wantUnread)
		})
	}

	// A key in the read run with UnreadOnly: nothing is left.
	lastRead := want[len(want)-1]
	got, err := s.Notifications(t.Context(), "ann", app.NotificationPage{
		UnreadOnly: true, AfterRead: true, AfterCreateAt: lastRead.CreatedAt, AfterID: lastRead.ID, Limit: 10,
	})
	if err != nil {
		t.Fatalf("Notifications: %v", err)
	}
	checkEqual(t, "unread notifications after a read one", got, []domain.Notification{})
}

func testMarkNotificationRead(t *testing.T, s app.Store) {
	ctx := t.Context()
	n := newNotification("ann", "rem-1", at(1))
	insertNotification(t, s, n, "tok")

	mark := func(memberID, id string, readAt time.Time) (domain.Notification, error) {
		var got domain.Notification
		err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
			var err error
			got, err = tx.MarkNotificationRead(ctx, memberID, id, readAt)
			return err
		})
		return got, err
	}

	// bob can neither read nor learn of ann's notification. The transaction
	// goes on after the error and commits, so that a write the call made
	// would show.
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		_, err := tx.MarkNotificationRead(ctx, "bob", n.ID, at(5))
		checkKind(t, "MarkNotificationRead of another member's notification", err, domain.ErrNotFound)
		return nil
	})
	_, err := mark("ann", "no-such-notification", at(5))
	checkKind(t, "MarkNotificationRead of a missing notification", err, domain.ErrNotFound)
	got, err := s.Notification(ctx, n.ID)
	if err != nil {
		t.Fatalf("Notification: %v", err)
	}
	checkEqual(t, "notification after bob's attempt", got, storedNotification(n))

	// The first read sets the time; a second one keeps it.
	want := n
	want.ReadAt = ptr(at(10))
	for _, readAt := range []time.Time{at(10), at(20)} {
		got, err := mark("ann", n.ID, readAt)
		if err != nil {
			t.Fatalf("MarkNotificationRead at %v: %v", readAt, err)
		}
		checkEqual(t, "MarkNotificationRead", got, storedNotification(want))
	}
	got, err = s.Notification(ctx, n.ID)
	if err != nil {
		t.Fatalf("Notification: %v", err)
	}
	checkEqual(t, "Notification after reading twice", got, storedNotification(want))
}

func testMarkAllNotificationsRead(t *testing.T, s app.Store) {
	ctx := t.Context()
	var ann []domain.Notification
	for i := range 4 {
		n := newNotification("ann", fmt.Sprintf("rem-%d", i), at(i))
		insertNotification(t, s, n, "tok")
		ann = append(ann, n)
	}
	bobs := newNotification("bob", "rem-0", at(1))
	insertNotification(t, s, bobs, "tok")

	markAll := func(memberID string, readAt time.Time) int {
		var n int
		update(t, s, func(ctx context.Context, tx app.Tx) error {
			var err error
			n, err = tx.MarkAllNotificationsRead(ctx, memberID, readAt)
			return err
		})
		return n
	}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		_, err := tx.MarkNotificationRead(ctx, "ann", ann[0].ID, at(5))
		return err
	})
	if n := markAll("ann", at(10)); n != 3 {
		t.Errorf("MarkAllNotificationsRead changed %d, want the 3 unread", n)
	}
	if n := markAll("ann", at(20)); n != 0 {
		t.Errorf("MarkAllNotificationsRead again changed %d, want 0", n)
	}
	if n := markAll("cid", at(20)); n != 0 {
		t.Errorf("MarkAllNotificationsRead of a member without notifications changed %d, want 0", n)
	}

	for i, n := range ann {
		readAt := at(10)
		if i == 0 {
			readAt = at(5)
		}
		n.ReadAt = &readAt
		got, err := s.Notification(ctx, n.ID)
		if err != nil {
			t.Fatalf("Notification: %v", err)
		}
		checkEqual(t, fmt.Sprintf("ann's notification %d", i), got, storedNotification(n))
	}
	got, err := s.Notification(ctx, bobs.ID)
	if err != nil {
		t.Fatalf("Notification: %v", err)
	}
	checkEqual(t, "bob's notification", got, storedNotification(bobs))
}
