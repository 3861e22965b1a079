package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/pgtest"
	"github.com/nordkapp42/nordkapp42/internal/store/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store { return openTest(t) })
}

func TestOutboxContract(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) interface {
		app.Store
		app.Outbox
	} {
		return openTest(t)
	})
}

// newGroup stores an empty public group.
func newGroup(t testing.TB, s *Store) domain.Room {
	t.Helper()
	now := time.Now()
	r := domain.Room{ID: ulid.Make().String(), Kind: domain.KindPublicGroup, Name: "crew", CreatedAt: now, UpdatedAt: now}
	if err := s.Update(context.Background(), func(ctx context.Context, tx app.Tx) error { return tx.InsertRoom(ctx, r) }); err != nil {
		t.Fatalf("InsertRoom: %v", err)
	}
	return r
}

// sendInTx does what sending a message does to the store: lock the room,
// insert the message at the room's next seq and append its event. The seq
// of the message comes from the room as read under the lock, so two
// transactions that read the room at once would collide on it.
func sendInTx(ctx context.Context, tx app.Tx, roomID, authorID, text string, at time.Time) (domain.Event, error) {
	room, err := tx.Room(ctx, roomID)
	if err != nil {
		return domain.Event{}, err
	}
	m := domain.Message{ID: ulid.Make().String(), RoomID: roomID, AuthorID: authorID, Text: text, Seq: room.Seq + 1, CreatedAt: at}
	if err := tx.InsertMessage(ctx, m); err != nil {
		return domain.Event{}, err
	}
	return tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventMessageSent, At: at, ActorID: authorID, MessageID: m.ID})
}

func TestConcurrentSendsToOneRoomAreGapFree(t *testing.T) {
	t.Parallel()
	const writers, sends = 16, 20
	// A connection per writer, so that all of them are in a transaction at
	// once and queue on the room's row lock.
	s := openTest(t, func(cfg *pgxpool.Config) { cfg.MaxConns = writers + 1 })
	room := newGroup(t, s)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		assigned []int64
	)
	for w := range writers {
		wg.Go(func() {
			for i := range sends {
				var seq int64
				err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
					e, err := sendInTx(ctx, tx, room.ID, fmt.Sprintf("w%02d", w), fmt.Sprintf("message %d", i), time.Now())
					seq = e.Seq
					return err
				})
				if err != nil {
					t.Errorf("writer %d, send %d: %v", w, i, err)
					return
				}
				mu.Lock()
				assigned = append(assigned, seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	want := make([]int64, writers*sends)
	for i := range want {
		want[i] = int64(i + 1)
	}
	slices.Sort(assigned)
	if diff := cmp.Diff(want, assigned); diff != "" {
		t.Errorf("assigned seqs (-want +got):\n%s", diff)
	}
	// Every message sits at its event's seq.
	events, err := s.Events(t.Context(), room.ID, 0, writers*sends+1)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(events) != writers*sends {
		t.Fatalf("read back %d events, want %d", len(events), writers*sends)
	}
	for i, e := range events {
		if e.Seq != int64(i+1) || e.Message == nil || e.Message.Seq != e.Seq {
			t.Fatalf("event %d has seq %d and message %+v; want seq %d with its message at that seq", i, e.Seq, e.Message, i+1)
		}
	}
}

func TestUpdateRetriesAfterDeadlock(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	a, b := newGroup(t, s), newGroup(t, s)

	// Two transactions lock the rooms in opposite orders, each waiting until
	// the other holds its first room: PostgreSQL detects the deadlock (after
	// deadlock_timeout, 1 s by default) and aborts one, which Update runs
	// again. Only first attempts wait, so the retry goes through.
	var (
		attempts atomic.Int32
		holding  = [2]chan struct{}{make(chan struct{}), make(chan struct{})}
		wg       sync.WaitGroup
		errs     [2]error
	)
	for i, order := range [2][2]domain.Room{{a, b}, {b, a}} {
		wg.Go(func() {
			first := true
			errs[i] = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
				attempts.Add(1)
				if _, err := sendInTx(ctx, tx, order[0].ID, "ann", "first", time.Now()); err != nil {
					return err
				}
				if first {
					first = false
					close(holding[i])
					select {
					case <-holding[1-i]:
					case <-time.After(10 * time.Second):
						return errors.New("the other transaction never locked its first room")
					}
				}
				_, err := sendInTx(ctx, tx, order[1].ID, "ann", "second", time.Now())
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("fn ran %d times, want 3: once each and once more for the deadlock's victim", n)
	}
	for _, r := range []domain.Room{a, b} {
		got, err := s.Room(t.Context(), r.ID)
		if err != nil {
			t.Fatalf("Room: %v", err)
		}
		if got.Seq != 2 {
			t.Errorf("room has seq %d after both transactions, want 2", got.Seq)
		}
	}
}

// terminate ends the server processes of the connections whose
// application_name is schema (those of a store freshSchema set up), and
// waits until they are gone.
func terminate(t *testing.T, schema string) {
	t.Helper()
	pgtest.Admin(t, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1`, schema)
}

func TestBrokenConnectionsAreUnavailableUntilThePoolRecovers(t *testing.T) {
	t.Parallel()
	conn, schema := freshSchema(t)
	// pgxpool pings a connection idle for over a second before handing it
	// out, which would hide the broken ones this test is about.
	s := openAt(t, conn, func(cfg *pgxpool.Config) {
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	})
	room := newGroup(t, s)

	// A read on a connection whose server process was terminated.
	terminate(t, schema)
	_, err := s.Room(t.Context(), room.ID)
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Room after its connection was terminated returned %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "database unavailable") {
		t.Errorf("error %q, want one saying \"database unavailable\"", err)
	}

	// A transaction whose connection is terminated midway.
	err = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, room.ID); err != nil {
			return err
		}
		terminate(t, schema)
		return tx.RenameRoom(ctx, room.ID, "renamed")
	})
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Update whose connection was terminated returned %v, want ErrUnavailable", err)
	}

	// The pool drops broken connections as they fail and dials new ones.
	var got domain.Room
	for range testPoolConns + 1 {
		if got, err = s.Room(t.Context(), room.ID); err == nil {
			break
		}
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Room while the pool recovers returned %v, want ErrUnavailable or success", err)
		}
	}
	if err != nil {
		t.Fatalf("Room still fails after %d attempts: %v", testPoolConns+1, err)
	}
	if got.Name != room.Name {
		t.Errorf("room after recovery is named %q, want %q: the terminated transaction committed", got.Name, room.Name)
	}
	if err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		return tx.RenameRoom(ctx, room.ID, "renamed")
	}); err != nil {
		t.Errorf("Update after recovery: %v", err)
	}
}

// closedPort returns the URL of a loopback port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "postgres://postgres:secret@" + addr + "/test?sslmode=disable&connect_timeout=2"
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	conn := closedPort(t)
	_, err := Open(t.Context(), conn)
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Open of a closed port returned %v, want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
	err = Migrate(t.Context(), conn, "status", &bytes.Buffer{})
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Migrate on a closed port returned %v, want ErrUnavailable", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	s.Close()
	ctx := t.Context()
	calls := map[string]func() error{
		"Room": func() error { _, err := s.Room(ctx, "room"); return err },
		"Update": func() error {
			return s.Update(ctx, func(context.Context, app.Tx) error { return nil })
		},
		"MarkPublished": func() error { return s.MarkPublished(ctx, []app.EventKey{{RoomID: "room", Seq: 1}}) },
		"RelayUnpublished": func() error {
			_, err := s.RelayUnpublished(ctx, 0, 10, func(context.Context, []domain.Event) error { return nil })
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("%s on a closed store returned %v, want ErrUnavailable", name, err)
		}
	}
}

func TestMigrateUpAndStatus(t *testing.T) {
	t.Parallel()
	conn, _ := freshSchema(t)
	ctx := t.Context()
	// migrate runs the command and returns the first two fields of each
	// line: the file and its state (up: the result and direction first).
	migrate := func(command string) [][]string {
		t.Helper()
		var out bytes.Buffer
		if err := Migrate(ctx, conn, command, &out); err != nil {
			t.Fatalf("migrate %s: %v", command, err)
		}
		var lines [][]string
		for line := range strings.Lines(out.String()) {
			lines = append(lines, strings.Fields(line))
		}
		return lines
	}
	fields := func(lines [][]string, n int) [][]string {
		var out [][]string
		for _, l := range lines {
			out = append(out, l[:min(n, len(l))])
		}
		return out
	}

	before := migrate("status")
	want := [][]string{{"00001_init.sql", "pending"}, {"00002_outbox.sql", "pending"}, {"00003_tasks.sql", "pending"}}
	if diff := cmp.Diff(want, before); diff != "" {
		t.Errorf("status before up (-want +got):\n%s", diff)
	}

	applied := migrate("up")
	want = [][]string{{"OK", "up", "00001_init.sql"}, {"OK", "up", "00002_outbox.sql"}, {"OK", "up", "00003_tasks.sql"}}
	if diff := cmp.Diff(want, fields(applied, 3)); diff != "" {
		t.Errorf("up (-want +got):\n%s", diff)
	}

	after := migrate("status")
	want = [][]string{{"00001_init.sql", "applied"}, {"00002_outbox.sql", "applied"}, {"00003_tasks.sql", "applied"}}
	if diff := cmp.Diff(want, fields(after, 2)); diff != "" {
		t.Errorf("status after up (-want +got):\n%s", diff)
	}
	for _, l := range after {
		if len(l) != 3 {
			t.Errorf("status line %q, want file, state and the time applied", l)
			continue
		}
		if _, err := time.Parse(time.RFC3339, l[2]); err != nil {
			t.Errorf("status line %q: time applied: %v", l, err)
		}
	}

	again := migrate("up")
	if diff := cmp.Diff([][]string{{"no", "migration", "to", "apply"}}, again); diff != "" {
		t.Errorf("second up (-want +got):\n%s", diff)
	}

	// Open finds nothing left to do and works on the migrated schema.
	s := openAt(t, conn)
	newGroup(t, s)

	err := Migrate(ctx, conn, "down", &bytes.Buffer{})
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("migrate down returned %v, want ErrInvalid", err)
	}
}

func TestOpenRejectsMalformedURL(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://postgres:secret@127.0.0.1:notaport/test")
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Open of a malformed URL returned %v, want ErrInvalid", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestConflictsLeaveTheTransactionUsable(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	now := time.Now()
	room := domain.Room{ID: "room-1", Kind: domain.KindPublicGroup, Name: "crew", CreatedAt: now, UpdatedAt: now}
	chat := domain.Room{ID: "chat-1", Kind: domain.KindChat, ChatKey: domain.ChatKey("ann", "bob"), CreatedAt: now, UpdatedAt: now}
	msg := domain.Message{ID: "msg-1", RoomID: room.ID, AuthorID: "ann", Text: "x", ClientMessageID: "c-1", Seq: 1, CreatedAt: now}
	notification := domain.Notification{ID: "n-1", MemberID: "ann", Kind: domain.NotificationReminder, ReminderID: "rem-1", Text: "x", CreatedAt: now}
	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		for _, r := range []domain.Room{room, chat} {
			if err := tx.InsertRoom(ctx, r); err != nil {
				return err
			}
		}
		if _, err := tx.InsertNotification(ctx, notification, "tok-1"); err != nil {
			return err
		}
		return tx.InsertMessage(ctx, msg)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	other := msg
	other.ID, other.Seq = "msg-2", 2
	otherChat := chat
	otherChat.ID = "chat-2"
	tests := []struct {
		name    string
		fn      func(ctx context.Context, tx app.Tx) error
		want    error
		message string
	}{
		{"room id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertRoom(ctx, room) },
			domain.ErrConflict, "room room-1 exists already"},
		{"chat key taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertRoom(ctx, otherChat) },
			domain.ErrConflict, "a chat between these members exists already"},
		{"message id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertMessage(ctx, msg) },
			domain.ErrConflict, "message msg-1 exists already"},
		{"client message id taken", func(ctx context.Context, tx app.Tx) error { return tx.InsertMessage(ctx, other) },
			domain.ErrConflict, `room room-1 has a message with seq 2 or client message id "c-1" already`},
		{"membership of a missing room", func(ctx context.Context, tx app.Tx) error {
			return tx.PutMembership(ctx, domain.Membership{RoomID: "nowhere", MemberID: "ann", Role: domain.RoleMember, JoinedAt: now})
		}, domain.ErrNotFound, "room nowhere not found"},
		{"message in a missing room", func(ctx context.Context, tx app.Tx) error {
			m := other
			m.RoomID, m.ClientMessageID = "nowhere", ""
			return tx.InsertMessage(ctx, m)
		}, domain.ErrNotFound, "room nowhere not found"},
		{"reminder of a missing task", func(ctx context.Context, tx app.Tx) error {
			return tx.PutReminder(ctx, domain.Reminder{ID: "rem-1", TaskID: "nowhere", FireAt: now, State: domain.ReminderScheduled, Token: "t", CreatedAt: now})
		}, domain.ErrNotFound, "task nowhere not found"},
		{"notification id taken", func(ctx context.Context, tx app.Tx) error {
			_, err := tx.InsertNotification(ctx, notification, "tok-2")
			return err
		}, domain.ErrConflict, "notification n-1 exists already"},
	}
	for _, tc := range tests {
		// The error leaves the transaction usable, as in SQLite: a use case
		// may go on after it, and what it writes next commits.
		name := "after " + tc.name
		err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			err := tc.fn(ctx, tx)
			if !errors.Is(err, tc.want) || err.Error() != tc.message {
				t.Errorf("%s: error %v, want %q wrapping %v", tc.name, err, tc.message, tc.want)
			}
			return tx.RenameRoom(ctx, room.ID, name)
		})
		if err != nil {
			t.Errorf("%s: the transaction failed: %v", tc.name, err)
			continue
		}
		got, err := s.Room(t.Context(), room.ID)
		if err != nil {
			t.Fatalf("Room: %v", err)
		}
		if got.Name != name {
			t.Errorf("%s: the rename in the same transaction did not commit: name %q", tc.name, got.Name)
		}
	}
}

func TestTextPostgreSQLCannotKeepIsInvalid(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	room := newGroup(t, s)
	now := time.Now()
	// SQLite keeps any string; text in PostgreSQL is valid UTF-8 without NUL,
	// so such input is the caller's mistake, not an internal failure.
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"message with NUL", func(ctx context.Context) error {
			return s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
				return tx.InsertMessage(ctx, domain.Message{ID: "m", RoomID: room.ID, Text: "a\x00b", Seq: 1, CreatedAt: now})
			})
		}},
		{"room name of invalid UTF-8", func(ctx context.Context) error {
			return s.Update(ctx, func(ctx context.Context, tx app.Tx) error { return tx.RenameRoom(ctx, room.ID, "\xff") })
		}},
		{"member name with NUL", func(ctx context.Context) error {
			_, err := s.EnsureMember(ctx, domain.Member{ID: "ann", Name: "\x00", CreatedAt: now})
			return err
		}},
	}
	for _, tc := range tests {
		if err := tc.call(t.Context()); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestLimitMustBePositive(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	calls := map[string]func() error{
		"Events":   func() error { _, err := s.Events(ctx, "r", 0, 0); return err },
		"Messages": func() error { _, err := s.Messages(ctx, "r", app.MessagePage{}); return err },
		"RoomsOf":  func() error { _, err := s.RoomsOf(ctx, "m", app.RoomPage{Limit: -1}); return err },
		"SearchRooms": func() error {
			_, err := s.SearchRooms(ctx, "m", "", app.SearchPage{})
			return err
		},
		"RoomMembers": func() error { _, err := s.RoomMembers(ctx, "r", app.MemberPage{}); return err },
		"TasksOf":     func() error { _, err := s.TasksOf(ctx, "m", app.TaskPage{}); return err },
		"Notifications": func() error {
			_, err := s.Notifications(ctx, "m", app.NotificationPage{})
			return err
		},
		"RelayUnpublished": func() error {
			_, err := s.RelayUnpublished(ctx, 0, 0, func(context.Context, []domain.Event) error { return nil })
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s with a limit of 0 returned %v, want ErrInvalid", name, err)
		}
	}
}

// explain returns the plan PostgreSQL chooses for query with args.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	return strings.Join(lines, "\n")
}

func TestReadsAreIndexScans(t *testing.T) {
	t.Parallel()
	const messages, rooms = 100_000, 20_000
	s := openTest(t)
	ctx := t.Context()
	room := newGroup(t, s)
	prefill(t, s, room.ID, messages)
	// Many rooms, a few of them ann's, so that a scan of every room or
	// membership costs what it would in production.
	for _, q := range []string{
		`INSERT INTO rooms (id, kind, name, created_at, updated_at)
			SELECT 'room-' || i, 'PUBLIC_GROUP', 'room ' || i, now(), now() - i * interval '1 second'
			FROM generate_series(1, $1::int) i`,
		`INSERT INTO memberships (room_id, member_id, role, joined_at)
			SELECT 'room-' || i, CASE WHEN i % 1000 = 0 THEN 'ann' ELSE 'member-' || i END, 'MEMBER', now()
			FROM generate_series(1, $1::int) i`,
	} {
		if _, err := s.pool.Exec(ctx, q, rooms); err != nil {
			t.Fatalf("prefill rooms: %v", err)
		}
	}
	// Many tasks and notifications, a tenth of them ann's, so that a sort of
	// all of hers would show.
	for _, q := range []string{
		`INSERT INTO tasks (id, title, due_at, remind, created_at, updated_at)
			SELECT 'task-' || i, 'task ' || i, now() + i * interval '1 minute', 'AT_DUE', now(), now()
			FROM generate_series(1, $1::int) i`,
		`INSERT INTO task_watchers (task_id, member_id, due_at)
			SELECT 'task-' || i, m, now() + i * interval '1 minute'
			FROM generate_series(1, $1::int) i,
			     LATERAL (VALUES ('member-' || i % 1000), (CASE WHEN i % 10 = 0 THEN 'ann' END)) w (m)
			WHERE m IS NOT NULL`,
		`INSERT INTO reminders (id, task_id, fire_at, state, token, created_at)
			SELECT 'rem-' || i || '-' || j, 'task-' || i, now(), 'CANCELLED', 'tok', now() + j * interval '1 second'
			FROM generate_series(1, $1::int) i, generate_series(1, 3) j`,
		`INSERT INTO notifications (id, member_id, kind, reminder_id, text, created_at, read_at)
			SELECT 'n-' || i, CASE WHEN i % 10 = 0 THEN 'ann' ELSE 'member-' || i % 1000 END, 'REMINDER', 'rem-' || i, 'x',
			       now() - i * interval '1 second', CASE WHEN i % 3 = 0 THEN now() END
			FROM generate_series(1, $1::int * 5) i`,
	} {
		if _, err := s.pool.Exec(ctx, q, rooms); err != nil {
			t.Fatalf("prefill tasks: %v", err)
		}
	}
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatalf("VACUUM ANALYZE: %v", err)
	}

	tests := []struct {
		name  string
		query string
		args  []any
		index string
		sort  bool // whether the plan may sort: RoomsOf sorts the member's rooms
	}{
		{"newest history page", historyQueries[1], []any{room.ID, 0, messages / 2, 50}, "messages_room_seq", false},
		{"oldest history page", historyQueries[0], []any{room.ID, messages / 2, int64(1) << 62, 50}, "messages_room_seq", false},
		{"last message", selectLastMessage, []any{room.ID}, "messages_room_", false},
		{"unread count", countUnread, []any{room.ID, messages - 100, "ann"}, "messages_room_live", false},
		{"rooms of a member", roomsOfQueries[0][0], []any{"ann", 50}, "memberships_member", true},
		{"room ids of a member", selectMemberRoomIDs, []any{"ann"}, "memberships_member", false},
		{"tasks of a member", selectTasksOf, []any{"ann", beforeAll, "", afterAll, 50}, "task_watchers_member_due", false},
		{"task", selectTask, []any{"task-10"}, "task_watchers_pkey", false},
		{"latest reminder", selectLatestReminder, []any{"task-10"}, "reminders_task_created", false},
		// PendingReminder sorts the few reminders of one task.
		{"pending reminder", selectPendingReminder, []any{"task-10"}, "reminders_task_created", true},
		{"mark all notifications read", markAllNotificationsRead, []any{time.Now(), "ann"}, "notifications_member_read", false},
	}
	for _, tc := range tests {
		plan := explain(t, s, tc.query, tc.args...)
		scansIndex := strings.Contains(plan, " using "+tc.index) || strings.Contains(plan, "Bitmap Index Scan on "+tc.index)
		if !scansIndex || strings.Contains(plan, "Seq Scan") ||
			(!tc.sort && strings.Contains(plan, "Sort")) {
			t.Errorf("plan of the %s:\n%s\nwant a scan of %s, no Seq Scan, sort %t", tc.name, plan, tc.index, tc.sort)
		}
	}

	// A page of notifications is two backward range scans, one per run,
	// whose pages alone are sorted together.
	unread, read := notificationRuns(app.NotificationPage{Limit: 50})
	plan := explain(t, s, selectNotifications, "ann", unread.createdAt, unread.id, unread.limit, read.createdAt, read.id, read.limit, 50)
	if strings.Count(plan, "Index Scan Backward using notifications_member_read") != 2 || strings.Contains(plan, "Seq Scan") ||
		strings.Count(plan, "Sort Key") != 1 || !regexp.MustCompile(`Sort .*\n.*Sort Key.*\n.*Append`).MatchString(plan) {
		t.Errorf("plan of a page of notifications:\n%s\nwant two backward scans of notifications_member_read, with one sort of their pages only", plan)
	}
}
