package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/store/storetest"
)

// openAt opens a store on path and closes it when the test ends.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openTemp opens a store on a new file in the test's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "nordkapp42.db"))
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store { return openTemp(t) })
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	tests := []struct {
		pool, pragma, want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "busy_timeout", "5000"},
		{"read", "synchronous", "2"}, // FULL
		{"read", "query_only", "1"},
	}
	for _, tc := range tests {
		db := s.write.db
		if tc.pool == "read" {
			db = s.read.db
		}
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s on the %s pool: %v", tc.pragma, tc.pool, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s on the %s pool = %q, want %q", tc.pragma, tc.pool, got, tc.want)
		}
	}
}

func TestReadPoolCannotWrite(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	_, err := s.read.db.ExecContext(t.Context(), "INSERT INTO members (id, name, created_at) VALUES ('x', 'x', 0)")
	if err == nil {
		t.Fatal("a write through the read pool succeeded")
	}
}

func TestFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "nordkapp42.db")
	s := openAt(t, path)
	// A write makes sure the -wal and -shm files exist.
	if _, err := s.EnsureMember(t.Context(), domain.Member{ID: "ann", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("EnsureMember: %v", err)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("database directory has mode %v, want 0700", perm)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by others than the owner", filepath.Base(name), perm)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nordkapp42.db")
	created := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	room := domain.Room{ID: "room-1", Kind: domain.KindPublicGroup, Name: "crew", CreatedAt: created, UpdatedAt: created}
	msg := domain.Message{ID: "msg-1", RoomID: room.ID, AuthorID: "ann", Text: "kept", Seq: 1, CreatedAt: created}

	first, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	err = first.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		if err := tx.InsertRoom(ctx, room); err != nil {
			return err
		}
		if _, err := tx.Room(ctx, room.ID); err != nil {
			return err
		}
		if err := tx.InsertMessage(ctx, msg); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, domain.Event{RoomID: room.ID, Type: domain.EventMessageSent, At: created, ActorID: "ann", MessageID: msg.ID})
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Opening again applies no migration twice and finds the data.
	second := openAt(t, path)
	room.Seq = 1
	got, err := second.Room(ctx, room.ID)
	if err != nil {
		t.Fatalf("Room after reopening: %v", err)
	}
	if diff := cmp.Diff(room, got); diff != "" {
		t.Errorf("room after reopening (-want +got):\n%s", diff)
	}
	gotMsg, err := second.Message(ctx, msg.ID)
	if err != nil {
		t.Fatalf("Message after reopening: %v", err)
	}
	if diff := cmp.Diff(msg, gotMsg); diff != "" {
		t.Errorf("message after reopening (-want +got):\n%s", diff)
	}
}

func TestHistoryIsAnIndexRangeScan(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	for _, newest := range []bool{false, true} {
		rows, err := s.read.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+historyQuery(newest), "room", 0, 100, 50)
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		// A sort would read the whole room before returning the first row.
		if !strings.Contains(joined, "USING INDEX messages_room_seq (room_id=? AND seq>? AND seq<?)") || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("history plan (newest %t) is %q; want a range scan of messages_room_seq without a sort", newest, joined)
		}
	}
}

// queryPlan returns the details of SQLite's plan for query, one step each.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.read.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// tableScan matches a step of a plan that reads a whole table; a SCAN of a
// subquery reads only the rows the subquery found.
var tableScan = regexp.MustCompile(`SCAN [a-z]`)

func TestTaskAndNotificationListsAreIndexRangeScans(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	tests := []struct {
		name     string
		query    string
		args     []any
		search   string // the SEARCH the plan must make
		searches int    // how often
		sorts    int    // how many TEMP B-TREE sorts the plan may have
	}{
		// The one sort is that of one task's watchers, MaxTaskWatchers at most.
		{"tasks of a member", selectTasksOf, []any{"ann", 0, "", 1000, 50},
			"task_watchers_member_due (member_id=? AND (due_at,task_id)>(?,?) AND due_at<?)", 1, 1},
		// One search per run, unread and read; the one sort merges them, two
		// pages at most.
		{"notifications of a member", selectNotifications, []any{"ann", 0, 1000, "", 50, "ann", 1, 1000, "", 50, 50},
			"notifications_member_read (member_id=? AND is_read=? AND (created_at,id)<(?,?))", 2, 1},
		{"latest reminder", selectLatestReminder, []any{"task"}, "reminders_task_created (task_id=?)", 1, 0},
		{"pending reminder", selectPendingReminder, []any{"task", "SCHEDULED"}, "reminders_task_created (task_id=?)", 1, 0},
		{"mark all read", markAllNotificationsRead, []any{0, "ann"}, "notifications_member_read (member_id=? AND is_read=?)", 1, 0},
	}
	for _, tc := range tests {
		plan := strings.Join(queryPlan(t, s, tc.query, tc.args...), "; ")
		if strings.Count(plan, tc.search) != tc.searches || tableScan.MatchString(plan) || strings.Count(plan, "TEMP B-TREE") > tc.sorts {
			t.Errorf("plan of the %s is %q; want %d searches of %s, no table scan and at most %d sorts",
				tc.name, plan, tc.searches, tc.search, tc.sorts)
		}
	}
}

func TestOpenRejectsPathWithQuery(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "db?mode=memory"))
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Open of a path with '?' returned %v, want ErrInvalid", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "nordkapp42.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = s.Room(t.Context(), "room")
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Room on a closed store returned %v, want ErrUnavailable", err)
	}
	err = s.Update(t.Context(), func(context.Context, app.Tx) error { return nil })
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Update on a closed store returned %v, want ErrUnavailable", err)
	}
}

func TestConstraintViolations(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	now := time.Now()
	room := domain.Room{ID: "room-1", Kind: domain.KindPublicGroup, Name: "crew", CreatedAt: now, UpdatedAt: now}
	msg := domain.Message{ID: "msg-1", RoomID: room.ID, AuthorID: "ann", Text: "x", ClientMessageID: "c-1", Seq: 1, CreatedAt: now}
	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		if err := tx.InsertRoom(ctx, room); err != nil {
			return err
		}
		return tx.InsertMessage(ctx, msg)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	other := msg
	other.ID, other.Seq = "msg-2", 2
	tests := []struct {
		name string
		fn   func(ctx context.Context, tx app.Tx) error
		want error
	}{
		{"room id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertRoom(ctx, room) }, domain.ErrConflict},
		{"message id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertMessage(ctx, msg) }, domain.ErrConflict},
		{"client message id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertMessage(ctx, other) }, domain.ErrConflict},
		{"membership of a missing room", func(ctx context.Context, tx app.Tx) error {
			return tx.PutMembership(ctx, domain.Membership{RoomID: "nowhere", MemberID: "ann", Role: domain.RoleMember, JoinedAt: now})
		}, domain.ErrNotFound},
		{"message in a missing room", func(ctx context.Context, tx app.Tx) error {
			m := other
			m.RoomID, m.ClientMessageID = "nowhere", ""
			return tx.InsertMessage(ctx, m)
		}, domain.ErrNotFound},
		{"reminder of a missing task", func(ctx context.Context, tx app.Tx) error {
			return tx.PutReminder(ctx, domain.Reminder{ID: "rem-1", TaskID: "nowhere", FireAt: now, State: domain.ReminderScheduled, Token: "t", CreatedAt: now})
		}, domain.ErrNotFound},
		{"notification id taken", func(ctx context.Context, tx app.Tx) error {
			n := domain.Notification{ID: "n-1", MemberID: "ann", Kind: domain.NotificationReminder, ReminderID: "rem-1", Text: "x", CreatedAt: now}
			if _, err := tx.InsertNotification(ctx, n, "t-1"); err != nil {
				return err
			}
			_, err := tx.InsertNotification(ctx, n, "t-2")
			return err
		}, domain.ErrConflict},
	}
	for _, tc := range tests {
		err := s.Update(t.Context(), tc.fn)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want one wrapping %v", tc.name, err, tc.want)
		}
	}
}

func TestLimitMustBePositive(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	calls := map[string]func() error{
		"Events": func() error { _, err := s.Events(ctx, "r", 0, 0); return err },
		"Messages": func() error {
			_, err := s.Messages(ctx, "r", app.MessagePage{})
			return err
		},
		"RoomsOf": func() error {
			_, err := s.RoomsOf(ctx, "m", app.RoomPage{Limit: -1})
			return err
		},
		"SearchRooms": func() error {
			_, err := s.SearchRooms(ctx, "m", "", app.SearchPage{})
			return err
		},
		"RoomMembers": func() error {
			_, err := s.RoomMembers(ctx, "r", app.MemberPage{})
			return err
		},
		"TasksOf": func() error {
			_, err := s.TasksOf(ctx, "m", app.TaskPage{})
			return err
		},
		"Notifications": func() error {
			_, err := s.Notifications(ctx, "m", app.NotificationPage{})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s with a limit of 0 returned %v, want ErrInvalid", name, err)
		}
	}
}

func TestTransactionsRunPreparedStatements(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	if _, err := s.EnsureMember(ctx, domain.Member{ID: "ann", Name: "Ann", CreatedAt: now}); err != nil {
		t.Fatalf("EnsureMember: %v", err)
	}
	if err := s.TouchLastSeen(ctx, "ann", now); err != nil {
		t.Fatalf("TouchLastSeen: %v", err)
	}
	// Every Tx method once.
	err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		chat := domain.Room{ID: "chat", Kind: domain.KindChat, ChatKey: domain.ChatKey("ann", "bob"), CreatedAt: now, UpdatedAt: now}
		msg := domain.Message{ID: "msg", RoomID: chat.ID, AuthorID: "ann", Text: "hi", ClientMessageID: "c", Seq: 1, CreatedAt: now}
		task := domain.Task{ID: "task", Title: "t", DueAt: &now, Remind: domain.RemindAtDue, WatcherIDs: []string{"ann"}, CreatedAt: now, UpdatedAt: now}
		reminder := domain.Reminder{ID: "rem", TaskID: task.ID, FireAt: now, State: domain.ReminderScheduled, Token: "tok", CreatedAt: now}
		notification := domain.Notification{ID: "n", MemberID: "ann", Kind: domain.NotificationReminder, TaskID: task.ID, ReminderID: reminder.ID, Text: "x", CreatedAt: now}
		for _, step := range []func() error{
			func() error { return tx.InsertRoom(ctx, chat) },
			func() error { _, err := tx.Room(ctx, chat.ID); return err },
			func() error { _, err := tx.ChatByKey(ctx, chat.ChatKey); return err },
			func() error { return tx.RenameRoom(ctx, chat.ID, "") },
			func() error {
				return tx.PutMembership(ctx, domain.Membership{RoomID: chat.ID, MemberID: "ann", Role: domain.RoleMember, JoinedAt: now})
			},
			func() error { _, err := tx.Membership(ctx, chat.ID, "ann"); return err },
			func() error { _, err := tx.Memberships(ctx, chat.ID); return err },
			func() error { _, err := tx.Members(ctx, []string{"ann"}); return err },
			func() error { return tx.InsertMessage(ctx, msg) },
			func() error { _, err := tx.Message(ctx, msg.ID); return err },
			func() error { _, err := tx.MessageByClientID(ctx, chat.ID, "ann", "c"); return err },
			func() error { return tx.UpdateMessage(ctx, msg) },
			func() error {
				_, err := tx.AppendEvent(ctx, domain.Event{RoomID: chat.ID, Type: domain.EventMessageSent, At: now, MessageID: msg.ID})
				return err
			},
			func() error { _, err := tx.MoveReadPointer(ctx, chat.ID, "ann", 1, msg.ID); return err },
			func() error { _, err := tx.MoveReadPointer(ctx, chat.ID, "ann", 1, msg.ID); return err },
			func() error { return tx.DeleteMembership(ctx, chat.ID, "ann") },
			func() error { return tx.PutTask(ctx, task) },
			func() error { _, err := tx.Task(ctx, task.ID); return err },
			func() error { return tx.PutReminder(ctx, reminder) },
			func() error { _, err := tx.Reminder(ctx, reminder.ID); return err },
			func() error { _, err := tx.PendingReminder(ctx, task.ID); return err },
			func() error { _, err := tx.InsertNotification(ctx, notification, reminder.Token); return err },
			func() error { _, err := tx.MarkNotificationRead(ctx, "ann", notification.ID, now); return err },
			func() error { _, err := tx.MarkAllNotificationsRead(ctx, "ann", now); return err },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if n := s.write.unprepared.Load(); n != 0 {
		t.Errorf("%d statements ran unprepared in transactions; declare them with statement", n)
	}
}
