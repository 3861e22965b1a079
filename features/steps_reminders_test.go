package features

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// task is a task of the board whose dates a scenario sets.
type task struct {
	id         string
	title      string
	setter     string         // who set its dates first: a watcher, and a member of its room
	input      map[string]any // the last setTaskDates input, to send again with other dates
	room       string         // where its reminder is posted; "" for nowhere
	dueAt      time.Time      // its due time, which the reminder's text names
	fireAt     time.Time      // when its reminder fires next, or fired last
	reminderID string         // its current reminder
}

// inbox is a member's live notifications, over a socket of their own, and
// what has arrived on it so far.
type inbox struct {
	ws       *e2e.WS
	received []notification
	taken    map[string]int // by task id: how many of its notifications steps have taken
}

// notification is a Notification as the steps read it.
type notification struct {
	ID        string
	Kind      string
	Text      string
	CreatedAt time.Time
	ReadAt    *time.Time
	Task      *ref
	Reminder  *ref
	Room      *ref
}

// ref is a reference to another object, such as a notification's task; it
// prints as its id, so that failures name what they found.
type ref struct{ ID string }

// String returns the id, or "none" for a null reference.
func (r *ref) String() string {
	if r == nil {
		return "none"
	}
	return r.ID
}

// taskOut is a Task as setTaskDates returns it.
type taskOut struct {
	ID       string
	Title    string
	DueAt    *time.Time
	Remind   string
	RemindAt *time.Time
	Watchers []ref
	Room     *ref
	Reminder *struct {
		ID     string
		State  string
		FireAt time.Time
	}
}

// notificationsOp is the operation id of an inbox's subscription.
const notificationsOp = "notifications"

// pollInterval is how often a step looks again for what the server does
// in its own time and tells no subscription about.
const pollInterval = 50 * time.Millisecond

// fromNow returns the time secs seconds from now, to the millisecond, as
// a client would send it.
func fromNow(secs int) time.Time {
	return time.Now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Millisecond)
}

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// task returns the task of the scenario called title.
func (w *world) task(title string) *task {
	t, ok := w.tasks[title]
	if !ok {
		w.tb.Fatalf("no task %q has dates in this scenario", title)
	}
	return t
}

// newTaskID returns a board task id no scenario has used: task ids are the
// board's, shared by everyone on the server.
func newTaskID() string { return "card-" + ulids.New().New() }

// reminderText is what a reminder of t that fired on time says, in the
// notification and in the room.
func reminderText(t *task) string {
	return fmt.Sprintf("Reminder: %s is due %s", t.title, t.dueAt.UTC().Format("2006-01-02 15:04 UTC"))
}

// isWatchingNotifications opens a member's live notifications over a socket
// of their own.
func (w *world) isWatchingNotifications(name string) {
	if _, ok := w.inboxes[name]; ok {
		w.tb.Fatalf("%s is watching their notifications already", name)
	}
	ws := w.srv.DialWS(w.tb, e2e.TransportWS, e2e.BearerPayload(w.member(name).token))
	ws.Subscribe(notificationsOp, subNotifications, nil)
	// The notifications stream has no cursor to start from, and the server
	// starts a subscription concurrently with reading the socket, so nothing
	// tells exactly when it is live. A query answered on the same socket
	// after it shows that the server has taken it in hand; the reminders of
	// these stories come due seconds later.
	ws.Subscribe("me", opMe, nil)
	var me struct{ Me struct{ ID string } }
	ws.NextData(w.tb, "me", &me)
	w.inboxes[name] = &inbox{ws: ws, taken: map[string]int{}}
}

// setsTask sets the dates of a new task, due secs seconds from now, with a
// reminder at the due time for the actor and the watchers listed, and posted
// in the story's room when inChat says so.
func (w *world) setsTask(name, title string, secs int, watching, inChat string) {
	if _, dup := w.tasks[title]; dup {
		w.tb.Fatalf("%q has dates already: give each task its own title", title)
	}
	var ids []string
	for _, n := range names(watching) {
		ids = append(ids, w.member(n).id)
	}
	t := &task{id: newTaskID(), title: title, setter: name}
	t.input = map[string]any{"taskId": t.id, "title": title, "remind": "AT_DUE", "watcherIds": ids}
	if inChat != "" {
		t.room = w.requireRoom()
		t.input["roomId"] = t.room
	}
	w.tasks[title] = t
	w.setDates(name, t, fromNow(secs))
}

// setDates sends the task's input again due at due, and checks that it now
// has a SCHEDULED reminder for that time, with the watchers and room it was
// given.
func (w *world) setDates(name string, t *task, due time.Time) {
	in := maps.Clone(t.input)
	in["dueAt"] = stamp(due)
	var out struct{ SetTaskDates taskOut }
	w.must(name, opSetTaskDates, map[string]any{"in": in}, &out)
	got := out.SetTaskDates
	if got.ID != t.id || got.Title != t.title || got.DueAt == nil || !got.DueAt.Equal(due) || got.Remind != "AT_DUE" {
		w.tb.Fatalf("setting %q due at %s returned %+v", t.title, stamp(due), got)
	}
	if got.RemindAt == nil || !got.RemindAt.Equal(due) {
		w.tb.Fatalf("%q reminds at %v, want at its due time %s", t.title, got.RemindAt, stamp(due))
	}
	if got.Reminder == nil || got.Reminder.State != "SCHEDULED" || !got.Reminder.FireAt.Equal(due) {
		w.tb.Fatalf("%q has reminder %+v, want one SCHEDULED at %s", t.title, got.Reminder, stamp(due))
	}
	want := []string{w.member(t.setter).id}
	if ids, ok := in["watcherIds"].([]string); ok {
		want = append(want, ids...)
	}
	slices.Sort(want)
	var watchers []string
	for _, m := range got.Watchers {
		watchers = append(watchers, m.ID)
	}
	slices.Sort(watchers)
	if diff := cmp.Diff(slices.Compact(want), watchers); diff != "" {
		w.tb.Fatalf("watchers of %q, -want +got:\n%s", t.title, diff)
	}
	if room := got.Room; (room == nil) != (t.room == "") || room != nil && room.ID != t.room {
		w.tb.Fatalf("%q posts its reminder in %+v, want room %q", t.title, room, t.room)
	}
	t.input, t.dueAt, t.fireAt, t.reminderID = in, due, due, got.Reminder.ID
}

// movesTask sets the task due secs seconds from now instead, and checks that
// a new reminder replaced the pending one before that one's time.
func (w *world) movesTask(name, title string, secs int) {
	t := w.task(title)
	before, old := t.fireAt, t.reminderID
	w.setDates(name, t, fromNow(secs))
	if t.reminderID == old {
		w.tb.Fatalf("moving %q kept reminder %s, want a new one", title, old)
	}
	w.changedInTime(title, before)
}

// changedInTime fails the step when the change just made may have come after
// the reminder's old time: what the story checks next would not tell.
func (w *world) changedInTime(title string, fireAt time.Time) {
	if late := time.Since(fireAt); late >= 0 {
		w.tb.Fatalf("the change of %q came back %s after its reminder's time: the machine is too slow for this story", title, late)
	}
}

// clearsDates removes the task's dates and checks that none are left.
func (w *world) clearsDates(name, title string) {
	t := w.task(title)
	var out struct {
		ClearTaskDates struct {
			ID             string
			StartAt, DueAt *time.Time
			Remind         string
			RemindAt       *time.Time
		}
	}
	w.must(name, opClearTaskDates, map[string]any{"t": t.id}, &out)
	if got := out.ClearTaskDates; got.ID != t.id || got.StartAt != nil || got.DueAt != nil || got.Remind != "NONE" || got.RemindAt != nil {
		w.tb.Fatalf("clearing the dates of %q returned %+v, want no dates and no reminder", title, got)
	}
	w.changedInTime(title, t.fireAt)
}

// isNotified waits for the next notification of the task on the member's
// live subscription, keeping whatever else arrives meanwhile, and checks it:
// a REMINDER of the task's current reminder, made no earlier than its time,
// with the task's room and the text of a reminder on time.
func (w *world) isNotified(name, title string) {
	t := w.task(title)
	in := w.inbox(name)
	deadline := t.fireAt.Add(e2e.Wait)
	timeout := time.After(time.Until(deadline))
	for w.receivedOf(in, t.id) <= in.taken[t.id] {
		f, ok := in.ws.Poll(notificationsOp, timeout)
		if !ok {
			w.tb.Fatalf("%s was not notified of %q by %s (its reminder was due at %s; socket error: %v)",
				name, title, stamp(deadline), stamp(t.fireAt), in.ws.Err())
		}
		in.received = append(in.received, w.decodeNotification(name, f))
	}
	var n notification
	seen := 0
	for _, r := range in.received {
		if r.Task != nil && r.Task.ID == t.id {
			if seen == in.taken[t.id] {
				n = r
				break
			}
			seen++
		}
	}
	in.taken[t.id]++
	w.checkNotification(name, t, n)
	if n.ReadAt != nil {
		w.tb.Fatalf("%s's new notification of %q is read already", name, title)
	}
}

// inbox returns the member's live notifications.
func (w *world) inbox(name string) *inbox {
	in, ok := w.inboxes[name]
	if !ok {
		w.tb.Fatalf("%s is not watching their notifications", name)
	}
	return in
}

// receivedOf counts the notifications of a task an inbox has received.
func (w *world) receivedOf(in *inbox, taskID string) int {
	n := 0
	for _, r := range in.received {
		if r.Task != nil && r.Task.ID == taskID {
			n++
		}
	}
	return n
}

// decodeNotification reads one frame of an inbox's subscription, failing on
// anything but a notification.
func (w *world) decodeNotification(name string, f e2e.Frame) notification {
	if f.Type != "next" {
		errs, err := errorsOf(f)
		w.tb.Fatalf("%s's notifications stream sent %s %s (errors %+v, %v)", name, f.Type, f.Payload, errs, err)
	}
	var r e2e.Response
	if err := json.Unmarshal(f.Payload, &r); err != nil {
		w.tb.Fatalf("decode %s's notification %s: %v", name, f.Payload, err)
	}
	var out struct{ Notifications notification }
	r.Decode(w.tb, &out)
	return out.Notifications
}

// checkNotification checks that n is a notification of t's current
// reminder, made no earlier than its time.
func (w *world) checkNotification(name string, t *task, n notification) {
	if n.Kind != "REMINDER" || n.Task == nil || n.Task.ID != t.id {
		w.tb.Fatalf("%s got %+v, want a REMINDER of %q (%s)", name, n, t.title, t.id)
	}
	if n.Reminder == nil || n.Reminder.ID != t.reminderID {
		w.tb.Fatalf("%s's notification of %q is of reminder %+v, want %s", name, t.title, n.Reminder, t.reminderID)
	}
	if n.CreatedAt.Before(t.fireAt) {
		w.tb.Fatalf("%s was notified of %q at %s, before its reminder's time %s", name, t.title, stamp(n.CreatedAt), stamp(t.fireAt))
	}
	if want := reminderText(t); n.Text != want {
		w.tb.Fatalf("%s's notification of %q says %q, want %q", name, t.title, n.Text, want)
	}
	if room := n.Room; (room == nil) != (t.room == "") || room != nil && room.ID != t.room {
		w.tb.Fatalf("%s's notification of %q names room %+v, want %q", name, t.title, room, t.room)
	}
}

// postsReminder waits until the reminder of the task appears in the story's
// room, from the named author, and checks it appears once. The post follows
// the notifications and no subscription of the steps carries it, so the
// step polls the history up to a deadline.
func (w *world) postsReminder(author, title string) {
	t := w.task(title)
	if t.room == "" || t.room != w.requireRoom() {
		w.tb.Fatalf("%q posts its reminder in room %q, not in the chat", title, t.room)
	}
	want := reminderText(t)
	deadline := t.fireAt.Add(e2e.Wait)
	for {
		var out struct {
			Room *struct {
				Messages struct {
					Edges []struct {
						Node struct {
							Text   string
							Author struct{ ID, Name string }
						}
					}
				}
			}
		}
		w.must(t.setter, opRoomMessages, map[string]any{"r": t.room}, &out)
		if out.Room == nil {
			w.tb.Fatalf("%s cannot see the chat", t.setter)
		}
		posts := 0
		for _, e := range out.Room.Messages.Edges {
			if e.Node.Text == want && e.Node.Author.Name == author {
				posts++
			}
		}
		switch {
		case posts == 1:
			return
		case posts > 1:
			w.tb.Fatalf("%q was posted %d times, want once", want, posts)
		case time.Now().After(deadline):
			w.tb.Fatalf("%q did not appear in the chat from %q by %s", want, author, stamp(deadline))
		}
		time.Sleep(pollInterval)
	}
}

// notifications lists the member's notifications, only the unread ones when
// unread is set.
func (w *world) notifications(name string, unread bool) []notification {
	var out struct {
		Notifications struct {
			Edges []struct{ Node notification }
		}
	}
	w.must(name, opNotifications, map[string]any{"unread": unread}, &out)
	ns := make([]notification, 0, len(out.Notifications.Edges))
	for _, e := range out.Notifications.Edges {
		ns = append(ns, e.Node)
	}
	return ns
}

// notificationsOf returns those of ns about the task called title.
func (w *world) notificationsOf(ns []notification, title string) []notification {
	t := w.task(title)
	var out []notification
	for _, n := range ns {
		if n.Task != nil && n.Task.ID == t.id {
			out = append(out, n)
		}
	}
	return out
}

// hasUnreadNotificationsOf checks that the member's unread notifications
// are n, all of the task.
func (w *world) hasUnreadNotificationsOf(name string, n int, title string) {
	unread := w.notifications(name, true)
	of := w.notificationsOf(unread, title)
	if len(unread) != n || len(of) != n {
		w.tb.Fatalf("%s has %d unread notifications, %d of them of %q; want %d, all of it: %+v", name, len(unread), len(of), title, n, unread)
	}
	for _, u := range unread {
		if u.ReadAt != nil {
			w.tb.Fatalf("%s's unread notifications list a read one: %+v", name, u)
		}
	}
}

func (w *world) hasNoUnreadNotifications(name string) {
	if unread := w.notifications(name, true); len(unread) != 0 {
		w.tb.Fatalf("%s has %d unread notifications, want none: %+v", name, len(unread), unread)
	}
}

// hasNotificationsOf counts the member's notifications of a task, read or
// not, as the server lists them.
func (w *world) hasNotificationsOf(name string, n int, title string) {
	if of := w.notificationsOf(w.notifications(name, false), title); len(of) != n {
		w.tb.Fatalf("%s has %d notifications of %q, want %d: %+v", name, len(of), title, n, of)
	}
}

// hasReceivedLive counts the notifications of a task the member's live
// subscription has delivered so far.
func (w *world) hasReceivedLive(name string, n int, title string) {
	if got := w.receivedOf(w.inbox(name), w.task(title).id); got != n {
		w.tb.Fatalf("%s has received %d notifications of %q live, want %d", name, got, title, n)
	}
}

// marksNotificationRead marks the member's one unread notification of the
// task read.
func (w *world) marksNotificationRead(name, title string) {
	var unread []notification
	for _, n := range w.notificationsOf(w.notifications(name, false), title) {
		if n.ReadAt == nil {
			unread = append(unread, n)
		}
	}
	if len(unread) != 1 {
		w.tb.Fatalf("%s has %d unread notifications of %q, want one to mark read", name, len(unread), title)
	}
	var out struct{ MarkNotificationRead notification }
	w.must(name, opMarkNotificationRead, map[string]any{"id": unread[0].ID}, &out)
	if got := out.MarkNotificationRead; got.ID != unread[0].ID || got.ReadAt == nil {
		w.tb.Fatalf("marking %s read returned %+v", unread[0].ID, got)
	}
}

// stillHasReadNotification checks that the member's notification of the task
// is still listed, as read.
func (w *world) stillHasReadNotification(name, title string) {
	of := w.notificationsOf(w.notifications(name, false), title)
	if len(of) != 1 || of[0].ReadAt == nil {
		w.tb.Fatalf("%s's notifications of %q are %+v, want one, read", name, title, of)
	}
}

func (w *world) marksAllNotificationsRead(name string) {
	var out struct{ MarkAllNotificationsRead int }
	w.must(name, opMarkAllNotificationsRead, nil, &out)
	w.marked = &out.MarkAllNotificationsRead
}

// markedRead checks what the last markAllNotificationsRead returned.
func (w *world) markedRead(n int) {
	if w.marked == nil {
		w.tb.Fatalf("nobody marked all their notifications read")
	}
	if *w.marked != n {
		w.tb.Fatalf("%d notifications were marked read, want %d", *w.marked, n)
	}
}

// seesReminderAs checks the state of the task's current reminder as the
// member sees it.
func (w *world) seesReminderAs(name, title, state string) {
	t := w.task(title)
	var out struct {
		Task *struct {
			Reminder *struct{ ID, State string }
		}
	}
	w.must(name, opTaskReminder, map[string]any{"t": t.id}, &out)
	if out.Task == nil {
		w.tb.Fatalf("%s cannot see %q", name, title)
	}
	if r := out.Task.Reminder; r == nil || r.ID != t.reminderID || r.State != state {
		w.tb.Fatalf("%s sees the reminder of %q as %+v, want %s %s", name, title, r, t.reminderID, state)
	}
}

// snoozes snoozes the task's reminder until secs seconds from now.
func (w *world) snoozes(name, title string, secs int) {
	t := w.task(title)
	until := fromNow(secs)
	var out struct {
		SnoozeReminder struct {
			ID           string
			State        string
			FireAt       time.Time
			SnoozedUntil *time.Time
		}
	}
	w.must(name, opSnooze, map[string]any{"id": t.reminderID, "until": stamp(until)}, &out)
	got := out.SnoozeReminder
	if got.ID != t.reminderID || got.State != "SCHEDULED" || !got.FireAt.Equal(until) || got.SnoozedUntil == nil || !got.SnoozedUntil.Equal(until) {
		w.tb.Fatalf("snoozing %q until %s returned %+v", title, stamp(until), got)
	}
	t.fireAt = until
}

func (w *world) triesToSnooze(name, title string, secs int) {
	w.trySnooze(name, title, fromNow(secs))
}

func (w *world) triesToSnoozeIntoThePast(name, title string) {
	w.trySnooze(name, title, time.Now().Add(-time.Minute).UTC())
}

func (w *world) trySnooze(name, title string, until time.Time) {
	vars := map[string]any{"id": w.task(title).reminderID, "until": stamp(until)}
	w.try(name+" snoozes the reminder of "+title, w.do(name, opSnooze, vars))
}

// trySetTask sets the dates of a new task, with the given input fields over
// a valid title, keeping the outcome.
func (w *world) trySetTask(name string, fields map[string]any) {
	in := map[string]any{"taskId": newTaskID(), "title": "Plan the trip"}
	for k, v := range fields {
		in[k] = v
	}
	w.try(name+" sets the dates of a task", w.do(name, opSetTaskDates, map[string]any{"in": in}))
}

func (w *world) triesTaskTitle(name string, n int) {
	w.trySetTask(name, map[string]any{"title": strings.Repeat("t", n)})
}

// triesTaskStart sets a task starting in an hour and due a minute before
// that, or at that very time.
func (w *world) triesTaskStart(name, when string) {
	start := fromNow(3600)
	due := start
	if when == "a minute before" {
		due = start.Add(-time.Minute)
	}
	w.trySetTask(name, map[string]any{"startAt": stamp(start), "dueAt": stamp(due)})
}

// triesTaskWatchers sets a task watched by the actor and n other members;
// they are all members, so that only their number may be wrong.
func (w *world) triesTaskWatchers(name string, n int) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("watcher%d-%d", i, w.n)
		w.provision(ids[i])
	}
	w.trySetTask(name, map[string]any{"watcherIds": ids})
}

// provision makes a member with the id known to the server, as their first
// request does, without making them one of the scenario's named members.
func (w *world) provision(id string) {
	var me struct{ Me struct{ ID string } }
	w.srv.Do(w.tb, w.srv.Token(w.tb, id, id), opMe, nil).Decode(w.tb, &me)
	if me.Me.ID != id {
		w.tb.Fatalf("%s is provisioned as %q", id, me.Me.ID)
	}
}

// triesTaskStranger sets a task watched by a well-formed id that no member
// has.
func (w *world) triesTaskStranger(name string) {
	w.trySetTask(name, map[string]any{"watcherIds": []string{fmt.Sprintf("nobody-%d", w.n)}})
}

// triesTaskReminder sets a task due in dueMin minutes, reminding remindMin
// minutes before.
func (w *world) triesTaskReminder(name string, dueMin, remindMin int) {
	w.trySetTask(name, map[string]any{
		"dueAt":  stamp(fromNow(dueMin * 60)),
		"remind": fmt.Sprintf("MIN_%d", remindMin),
	})
}

func (w *world) triesClearUnknownTask(name string) {
	w.try(name+" clears the dates of a task", w.do(name, opClearTaskDates, map[string]any{"t": newTaskID()}))
}
