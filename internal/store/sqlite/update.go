package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// querier is what the queries need from either a pool or a transaction, so
// that a read is written once for the Store and for its Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Update runs fn in a transaction on the single write connection and
// returns once that transaction has committed, or fn's error unchanged after
// rolling back fn's writes; a panic in fn rolls back its writes and goes on
// panicking. An Update whose ctx is done before fn starts returns ctx's error
// without running fn; fn runs with a context that keeps ctx's values but is
// not canceled, since a canceled statement would roll back the whole shared
// transaction.
//
// Concurrent Update calls queue for the write connection and run one at a
// time; those that queue while a transaction runs or commits share the next
// transaction, each fn in a savepoint of its own, and its commit (see
// committer). A room "locked" by Tx.Room stays locked simply because no other
// fn runs until this one ends, and since every fn of a transaction commits
// with it, a higher seq is only visible after every lower one. SQLite never
// asks for a retry here, so fn is called exactly once. fn must write only
// through tx: a write through the Store itself would wait for the connection
// fn holds.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx app.Tx) error) error {
	return s.commits.run(ctx, func(ctx context.Context, q querier) error {
		return fn(ctx, &tx{q: q})
	})
}

// tx is the app.Tx of one Update call.
type tx struct {
	q querier
}

var _ app.Tx = (*tx)(nil)

// Room returns the room. It "locks" the room until the transaction ends in
// the sense the port asks for: no other fn runs until this one returns, and
// the fns that run after it in the same transaction commit with it or not
// at all, so none can commit a write based on a room this fn changes
// without this fn's change committing too.
func (t *tx) Room(ctx context.Context, id string) (domain.Room, error) {
	return getRoom(ctx, t.q, id)
}

func (t *tx) ChatByKey(ctx context.Context, key string) (domain.Room, error) {
	return getChatByKey(ctx, t.q, key)
}

func (t *tx) InsertRoom(ctx context.Context, r domain.Room) error {
	return insertRoom(ctx, t.q, r)
}

func (t *tx) RenameRoom(ctx context.Context, roomID, name string) error {
	return renameRoom(ctx, t.q, roomID, name)
}

func (t *tx) Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error) {
	return getMembership(ctx, t.q, roomID, memberID)
}

func (t *tx) Memberships(ctx context.Context, roomID string) ([]domain.Membership, error) {
	return listMemberships(ctx, t.q, roomID)
}

func (t *tx) PutMembership(ctx context.Context, m domain.Membership) error {
	return putMembership(ctx, t.q, m)
}

func (t *tx) DeleteMembership(ctx context.Context, roomID, memberID string) error {
	return deleteMembership(ctx, t.q, roomID, memberID)
}

func (t *tx) MoveReadPointer(ctx context.Context, roomID, memberID string, seq int64, messageID string) (bool, error) {
	return moveReadPointer(ctx, t.q, roomID, memberID, seq, messageID)
}

func (t *tx) Members(ctx context.Context, ids []string) (map[string]domain.Member, error) {
	return getMembers(ctx, t.q, ids)
}

func (t *tx) Message(ctx context.Context, id string) (domain.Message, error) {
	return getMessage(ctx, t.q, id)
}

func (t *tx) MessageByClientID(ctx context.Context, roomID, authorID, clientMessageID string) (domain.Message, error) {
	return getMessageByClientID(ctx, t.q, roomID, authorID, clientMessageID)
}

func (t *tx) InsertMessage(ctx context.Context, m domain.Message) error {
	return insertMessage(ctx, t.q, m)
}

func (t *tx) UpdateMessage(ctx context.Context, m domain.Message) error {
	return updateMessage(ctx, t.q, m)
}

// Task returns the task. Like Room, it is "locked" until the transaction
// ends because no other fn runs meanwhile.
func (t *tx) Task(ctx context.Context, id string) (domain.Task, error) {
	return getTask(ctx, t.q, id)
}

func (t *tx) PutTask(ctx context.Context, task domain.Task) error {
	return putTask(ctx, t.q, task)
}

// Reminder returns the reminder, "locked" as Task is.
func (t *tx) Reminder(ctx context.Context, id string) (domain.Reminder, error) {
	return getReminder(ctx, t.q, id)
}

func (t *tx) PendingReminder(ctx context.Context, taskID string) (domain.Reminder, error) {
	return getPendingReminder(ctx, t.q, taskID)
}

func (t *tx) PutReminder(ctx context.Context, r domain.Reminder) error {
	return putReminder(ctx, t.q, r)
}

func (t *tx) InsertNotification(ctx context.Context, n domain.Notification, token string) (bool, error) {
	return insertNotification(ctx, t.q, n, token)
}

func (t *tx) MarkNotificationRead(ctx context.Context, memberID, id string, at time.Time) (domain.Notification, error) {
	return markRead(ctx, t.q, memberID, id, at)
}

func (t *tx) MarkAllNotificationsRead(ctx context.Context, memberID string, at time.Time) (int, error) {
	return markAllRead(ctx, t.q, memberID, at)
}

func (t *tx) AppendEvent(ctx context.Context, e domain.Event) (domain.Event, error) {
	return appendEvent(ctx, t.q, e)
}
