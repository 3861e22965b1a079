package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Retries of a transaction that PostgreSQL aborted to break a deadlock or a
// serialization conflict.
const (
	// maxAttempts bounds how often Update runs fn.
	maxAttempts = 5
	// retryBackoff is the mean wait before the second attempt; it doubles
	// with each further one, and each wait is jittered so that the
	// transactions that collided do not collide again in step.
	retryBackoff = 5 * time.Millisecond
	// rollbackTimeout bounds a rollback, which runs even when the caller's
	// context has ended, so that the connection goes back to the pool clean.
	rollbackTimeout = 5 * time.Second
)

// Update runs fn in one READ COMMITTED transaction and commits when fn
// returns nil. It returns fn's error after rolling back; a panic in fn rolls
// back and goes on panicking.
//
// Tx.Room locks the room's row until the transaction ends, so the Updates of
// one room queue on that lock across every replica and a higher seq is only
// assigned after every lower one has committed. When PostgreSQL aborts the
// transaction to break a deadlock (SQLSTATE 40P01) or for a serialization
// failure (40001), Update runs fn again, up to maxAttempts times in all, after
// a short jittered wait; fn must therefore have no effect outside tx.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx app.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, func(q pgx.Tx) error {
			return fn(ctx, &tx{q: q})
		})
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w: %w", domain.Errorf(domain.ErrUnavailable, "database busy: gave up after %d attempts", attempt), err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backoff waits before attempt+1: a random time around retryBackoff doubled
// for each attempt made, or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	mean := retryBackoff << (attempt - 1)
	d := mean/2 + rand.N(mean) //nolint:gosec // jitter needs no unpredictability
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to retry transaction: %w", ctx.Err())
	}
}

// inTx runs fn in a READ COMMITTED transaction, whatever the database's
// default, and commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	t, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return dbError("begin transaction", err)
	}
	done := false
	defer func() {
		if !done {
			// Runs on an error and while a panic unwinds; the panic goes on.
			// Should the rollback fail, pgx closes the connection, which
			// ends the transaction as well.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			_ = t.Rollback(rctx)
			cancel()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	done = true
	if err := t.Commit(ctx); err != nil {
		return dbError("commit transaction", err)
	}
	return nil
}

// tx is the app.Tx of one Update attempt.
type tx struct {
	q pgx.Tx
}

var _ app.Tx = (*tx)(nil)

// Room returns the room and locks its row until the transaction ends.
func (t *tx) Room(ctx context.Context, id string) (domain.Room, error) {
	return getRoom(ctx, t.q, lockRoom, id)
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

// Task returns the task and locks its row until the transaction ends.
func (t *tx) Task(ctx context.Context, id string) (domain.Task, error) {
	return lockAndGetTask(ctx, t.q, id)
}

func (t *tx) PutTask(ctx context.Context, task domain.Task) error {
	return putTask(ctx, t.q, task)
}

// Reminder returns the reminder and locks its row until the transaction ends.
func (t *tx) Reminder(ctx context.Context, id string) (domain.Reminder, error) {
	return getReminder(ctx, t.q, lockReminder, id)
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

// AppendEvent appends e to its room's log and to the outbox.
func (t *tx) AppendEvent(ctx context.Context, e domain.Event) (domain.Event, error) {
	return appendEvent(ctx, t.q, e)
}
