package sqlite

import (
	"context"
	"database/sql"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const reminderColumns = "id, task_id, fire_at, state, token, fired_at, snoozed_until, created_at"

var (
	selectReminder = statement("SELECT " + reminderColumns + " FROM reminders WHERE id = ?")
	// selectLatestReminder and selectPendingReminder walk the task's
	// reminders newest first; should a bug have left two SCHEDULED, the
	// newest one is the pending one.
	selectLatestReminder = statement("SELECT " + reminderColumns + ` FROM reminders
		WHERE task_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`)
	selectPendingReminder = statement("SELECT " + reminderColumns + ` FROM reminders
		WHERE task_id = ? AND state = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`)
	// upsertReminder keeps the task and created_at from the first insert.
	upsertReminder = statement(`
		INSERT INTO reminders (id, task_id, fire_at, state, token, fired_at, snoozed_until, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			fire_at = excluded.fire_at, state = excluded.state, token = excluded.token,
			fired_at = excluded.fired_at, snoozed_until = excluded.snoozed_until`)
)

// Reminder returns a reminder.
func (s *Store) Reminder(ctx context.Context, id string) (domain.Reminder, error) {
	return getReminder(ctx, s.read, id)
}

// LatestReminder returns the task's reminder created last, by (CreatedAt,
// ID), whatever its state.
func (s *Store) LatestReminder(ctx context.Context, taskID string) (domain.Reminder, error) {
	r, err := scanReminder(s.read.QueryRowContext(ctx, selectLatestReminder, taskID))
	if err != nil {
		return domain.Reminder{}, getError("load latest reminder of task "+taskID, err,
			domain.Errorf(domain.ErrNotFound, "task %s has no reminder", taskID))
	}
	return r, nil
}

func getReminder(ctx context.Context, q querier, id string) (domain.Reminder, error) {
	r, err := scanReminder(q.QueryRowContext(ctx, selectReminder, id))
	if err != nil {
		return domain.Reminder{}, getError("load reminder "+id, err, domain.Errorf(domain.ErrNotFound, "reminder %s not found", id))
	}
	return r, nil
}

func getPendingReminder(ctx context.Context, q querier, taskID string) (domain.Reminder, error) {
	r, err := scanReminder(q.QueryRowContext(ctx, selectPendingReminder, taskID, string(domain.ReminderScheduled)))
	if err != nil {
		return domain.Reminder{}, getError("load pending reminder of task "+taskID, err,
			domain.Errorf(domain.ErrNotFound, "task %s has no pending reminder", taskID))
	}
	return r, nil
}

func putReminder(ctx context.Context, q querier, r domain.Reminder) error {
	_, err := q.ExecContext(ctx, upsertReminder, r.ID, r.TaskID, toMicros(r.FireAt), string(r.State), r.Token,
		toNullMicros(r.FiredAt), toNullMicros(r.SnoozedUntil), toMicros(r.CreatedAt))
	if constraint(err) == violatesForeignKey {
		return taskNotFound(r.TaskID)
	}
	if err != nil {
		return dbError("put reminder "+r.ID, err)
	}
	return nil
}

func scanReminder(row scanner) (domain.Reminder, error) {
	var (
		r                domain.Reminder
		fireAt, created  int64
		fired, snoozedTo sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.TaskID, &fireAt, &r.State, &r.Token, &fired, &snoozedTo, &created)
	if err != nil {
		return domain.Reminder{}, err
	}
	r.FireAt = fromMicros(fireAt)
	r.FiredAt = fromNullMicros(fired)
	r.SnoozedUntil = fromNullMicros(snoozedTo)
	r.CreatedAt = fromMicros(created)
	return r, nil
}
