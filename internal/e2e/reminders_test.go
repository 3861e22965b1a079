package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

const setTaskDates = `mutation($in: SetTaskDatesInput!) { setTaskDates(input: $in) { id remindAt reminder { id state fireAt } } }`

type taskOut struct {
	ID       string
	RemindAt *time.Time
	Reminder *struct {
		ID     string
		State  string
		FireAt time.Time
	}
}

type notificationOut struct {
	ID     string
	Kind   string
	Text   string
	ReadAt *time.Time
	Task   *ref
}

func notifications(t *testing.T, srv *e2e.Server, token string, unreadOnly bool) []notificationOut {
	t.Helper()
	var out struct {
		Notifications struct {
			Edges []struct{ Node notificationOut }
		}
	}
	srv.Do(t, token, `query($u: Boolean) { notifications(unreadOnly: $u) { edges { node { id kind text readAt task { id } } } } }`,
		map[string]any{"u": unreadOnly}).Decode(t, &out)
	ns := make([]notificationOut, 0, len(out.Notifications.Edges))
	for _, e := range out.Notifications.Edges {
		ns = append(ns, e.Node)
	}
	return ns
}

// TestReminderFiresLive: a reminder set through the API fires at its time,
// reaches a watcher's live notifications subscription, posts into the room,
// and stays readable afterwards.
func TestReminderFiresLive(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})
	alice, bob := member(t, srv, "alice"), member(t, srv, "bob")
	var chat struct{ OpenChat ref }
	srv.Do(t, alice, `mutation { openChat(memberId: "bob") { id } }`, nil).Decode(t, &chat)
	cursor := lastEventCursor(t, srv, bob, chat.OpenChat.ID)
	roomEvents := subscribe(t, srv, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": chat.OpenChat.ID, "after": cursor})

	ws := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(bob))
	ws.Subscribe("1", `subscription { notifications { id kind text task { id } } }`, nil)
	// The subscription is live once the server has answered a later
	// operation and it has had a moment: the reminder below fires seconds
	// later, far beyond that.
	ws.Subscribe("2", `{ me { id } }`, nil)
	ws.NextData(t, "2", &struct{}{})

	due := time.Now().Add(2 * time.Second).UTC().Truncate(time.Millisecond)
	var set struct{ SetTaskDates taskOut }
	srv.Do(t, alice, setTaskDates, map[string]any{"in": map[string]any{
		"taskId": "card-1", "title": "Ship the release", "dueAt": due.Format(time.RFC3339Nano),
		"remind": "AT_DUE", "watcherIds": []string{"bob"}, "roomId": chat.OpenChat.ID,
	}}).Decode(t, &set)
	if set.SetTaskDates.Reminder == nil || set.SetTaskDates.Reminder.State != "SCHEDULED" || !set.SetTaskDates.Reminder.FireAt.Equal(due) {
		t.Fatalf("setTaskDates = %+v, want a SCHEDULED reminder at %v", set.SetTaskDates, due)
	}

	var live struct{ Notifications notificationOut }
	ws.NextData(t, "1", &live)
	if live.Notifications.Kind != "REMINDER" || live.Notifications.Task == nil || live.Notifications.Task.ID != "card-1" {
		t.Fatalf("live notification = %+v", live.Notifications)
	}
	if e := roomEvents.next(t); e.Type != "MESSAGE_SENT" || e.Message == nil || e.Message.Author.ID != "nk:reminders" {
		t.Fatalf("room event = %+v, want the reminder posted by the system member", e)
	}
	for _, tok := range []string{alice, bob} {
		ns := notifications(t, srv, tok, true)
		if len(ns) != 1 || ns[0].Task == nil || ns[0].Task.ID != "card-1" {
			t.Fatalf("unread notifications = %+v, want the reminder", ns)
		}
	}
	ns := notifications(t, srv, bob, true)
	var read struct{ MarkNotificationRead notificationOut }
	srv.Do(t, bob, `mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }`, map[string]any{"id": ns[0].ID}).Decode(t, &read)
	if read.MarkNotificationRead.ReadAt == nil || len(notifications(t, srv, bob, true)) != 0 {
		t.Fatal("markNotificationRead left the notification unread")
	}
	var task struct {
		Task struct{ Reminder struct{ State string } }
	}
	srv.Do(t, bob, `{ task(id: "card-1") { reminder { state } } }`, nil).Decode(t, &task)
	if task.Task.Reminder.State != "FIRED" {
		t.Fatalf("reminder state %s, want FIRED", task.Task.Reminder.State)
	}
}

// TestReminderSurvivesRestart: a reminder scheduled before the server stops
// fires after it starts again.
func TestReminderSurvivesRestart(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})
	alice := member(t, srv, "alice")
	due := time.Now().Add(3 * time.Second).UTC()
	srv.Do(t, alice, setTaskDates, map[string]any{"in": map[string]any{
		"taskId": "card-2", "title": "Renew", "dueAt": due.Format(time.RFC3339Nano), "remind": "AT_DUE",
	}}).Decode(t, &struct{}{})
	srv.Stop(t)
	time.Sleep(time.Until(due)) // the reminder comes due while the server is down
	srv.Restart(t)
	eventually(t, "the reminder fires after the restart", func() bool {
		return len(notifications(t, srv, alice, true)) == 1
	})
}

// TestReminderBadInput: the bad inputs the issue lists get clear codes.
func TestReminderBadInput(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})
	alice := member(t, srv, "alice")
	future := time.Now().Add(time.Hour).UTC()
	past := time.Now().Add(-time.Hour).UTC()
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("w%d", i)
	}
	tests := []struct {
		name string
		in   map[string]any
		code string
	}{
		{"title over 200", map[string]any{"taskId": "t", "title": string(make([]byte, 201))}, "BAD_USER_INPUT"},
		{"dueAt before startAt", map[string]any{"taskId": "t", "title": "t", "startAt": future.Format(time.RFC3339), "dueAt": future.Add(-time.Minute).Format(time.RFC3339)}, "BAD_USER_INPUT"},
		{"more than 100 watchers", map[string]any{"taskId": "t", "title": "t", "watcherIds": many}, "BAD_USER_INPUT"},
		{"watcher not a member", map[string]any{"taskId": "t", "title": "t", "watcherIds": []string{"nobody"}}, "BAD_USER_INPUT"},
		{"reminder in the past", map[string]any{"taskId": "t", "title": "t", "dueAt": past.Format(time.RFC3339), "remind": "MIN_5"}, "BAD_USER_INPUT"},
	}
	for _, tc := range tests {
		r := srv.Do(t, alice, setTaskDates, map[string]any{"in": tc.in})
		if r.Code() != tc.code {
			t.Errorf("%s: %+v, want %s", tc.name, r.Errors, tc.code)
		}
	}
	if r := srv.Do(t, alice, `mutation { clearTaskDates(taskId: "unknown") { id } }`, nil); r.Code() != "NOT_FOUND" {
		t.Errorf("clearing an unknown task: %+v, want NOT_FOUND", r.Errors)
	}
	// AT_DUE with a due date in the past: accepted, no reminder.
	var set struct{ SetTaskDates taskOut }
	srv.Do(t, alice, setTaskDates, map[string]any{"in": map[string]any{"taskId": "late", "title": "t", "dueAt": past.Format(time.RFC3339), "remind": "AT_DUE"}}).Decode(t, &set)
	if set.SetTaskDates.Reminder != nil {
		t.Errorf("a past AT_DUE task got a reminder: %+v", set.SetTaskDates.Reminder)
	}
	// Snoozing into the past.
	due := time.Now().Add(time.Hour).UTC()
	srv.Do(t, alice, setTaskDates, map[string]any{"in": map[string]any{"taskId": "s", "title": "t", "dueAt": due.Format(time.RFC3339), "remind": "AT_DUE"}}).Decode(t, &set)
	r := srv.Do(t, alice, `mutation($id: ID!, $u: Time!) { snoozeReminder(id: $id, until: $u) { id } }`,
		map[string]any{"id": set.SetTaskDates.Reminder.ID, "u": past.Format(time.RFC3339)})
	if r.Code() != "BAD_USER_INPUT" {
		t.Errorf("snooze into the past: %+v, want BAD_USER_INPUT", r.Errors)
	}
}

// TestClusterFiresRemindersExactlyOnce: three nodes share the database;
// every reminder produces exactly one notification per watcher and one room
// message.
func TestClusterFiresRemindersExactlyOnce(t *testing.T) {
	t.Parallel()
	const reminders = 20
	c := startCluster(t, 3, false)
	alice, bob := member(t, c.nodes[0], "alice"), member(t, c.nodes[1], "bob")
	room := createRoom(t, c.nodes[0], alice, "PRIVATE_GROUP", "Board", "bob")
	due := time.Now().Add(3 * time.Second).UTC()
	for i := range reminders {
		c.nodes[i%3].Do(t, alice, setTaskDates, map[string]any{"in": map[string]any{
			"taskId": fmt.Sprintf("card-%d", i), "title": fmt.Sprintf("task %d", i), "dueAt": due.Format(time.RFC3339Nano),
			"remind": "AT_DUE", "watcherIds": []string{"bob"}, "roomId": room,
		}}).Decode(t, &struct{}{})
	}
	eventually(t, "every reminder fired", func() bool { return len(notifications(t, c.nodes[2], bob, false)) >= reminders })
	// Give a duplicate fire, were there one, time to land before counting.
	time.Sleep(2 * time.Second)
	for name, tok := range map[string]string{"alice": alice, "bob": bob} {
		ns := notifications(t, c.nodes[0], tok, false)
		seen := map[string]bool{}
		for _, n := range ns {
			if seen[n.Task.ID] {
				t.Errorf("%s was notified twice for %s", name, n.Task.ID)
			}
			seen[n.Task.ID] = true
		}
		if len(seen) != reminders {
			t.Errorf("%s has notifications for %d tasks, want %d", name, len(seen), reminders)
		}
	}
	if msgs := history(t, c.nodes[1], bob, room, 100); len(msgs) != reminders {
		t.Errorf("the room has %d messages, want one per reminder (%d)", len(msgs), reminders)
	}
}
