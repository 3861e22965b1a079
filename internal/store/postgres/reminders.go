package postgres

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const reminderColumns = "id, task_id, fire_at, state, token, fired_at, snoozed_until, created_at"

const (
	selectReminder = "SELECT " + reminderColumns + " FROM reminders WHERE id = $1"
	// lockReminder reads the reminder's row and locks it. Should another
	// transaction change the row meanwhile, it waits for it and returns the
	// row as that transaction left it.
	lockReminder = selectReminder + " FOR UPDATE"
	// selectLatestReminder and selectPendingReminder walk the task's
	// reminders newest first; should a bug have left two SCHEDULED, the
	// newest one is the pending one.
	selectLatestReminder = "SELECT " + reminderColumns + ` FROM reminders
		WHERE task_id = $1
		ORDER BY created_at DESC, id DESC LIMIT 1`
	selectPendingReminder = "SELECT " + reminderColumns + ` FROM reminders
		WHERE task_id = $1 AND state = '` + string(domain.ReminderScheduled) + `'
		ORDER BY created_at DESC, id DESC LIMIT 1`
	// upsertReminder keeps the task and created_at from the first insert. It
	// inserts nothing for a missing task rather than fail on the foreign key,
	// which would abort the whole transaction.
	upsertReminder = `
		INSERT INTO reminders (id, task_id, fire_at, state, token, fired_at, snoozed_until, created_at)
		SELECT $1::text, $2::text, $3::timestamptz, $4::text, $5::text, $6::timestamptz, $7::timestamptz, $8::timestamptz
		WHERE EXISTS (SELECT 1 FROM tasks WHERE id = $2)
		ON CONFLICT (id) DO UPDATE SET
			fire_at = excluded.fire_at, state = excluded.state, token = excluded.token,
			fired_at = excluded.fired_at, snoozed_until = excluded.snoozed_until`
)

// Reminder returns a reminder.
func (s *Store) Reminder(ctx context.Context, id string) (domain.Reminder, error) {
	return getReminder(ctx, s.pool, selectReminder, id)
}

// LatestReminder returns the task's reminder created last, by (CreatedAt,
// ID), whatever its state.
func (s *Store) LatestReminder(ctx context.Context, taskID string) (domain.Reminder, error) {
	r, err := scanReminder(s.pool.QueryRow(ctx, selectLatestReminder, taskID))
	if err != nil {
		return domain.Reminder{}, getError("load latest reminder of task "+taskID, err,
			domain.Errorf(domain.ErrNotFound, "task %s has no reminder", taskID))
	}
	return r, nil
}

// getReminder reads a reminder with query, selectReminder or lockReminder.
func getReminder(ctx context.Context, q querier, query, id string) (domain.Reminder, error) {
	r, err := scanReminder(q.QueryRow(ctx, query, id))
	if err != nil {
		return domain.Reminder{}, getError("load reminder "+id, err, domain.Errorf(domain.ErrNotFound, "reminder %s not found", id))
	}
	return r, nil
}

func getPendingReminder(ctx context.Context, q querier, taskID string) (domain.Reminder, error) {
	r, err := scanReminder(q.QueryRow(ctx, selectPendingReminder, taskID))
	if err != nil {
		return domain.Reminder{}, getError("load pending reminder of task "+taskID, err,
			domain.Errorf(domain.ErrNotFound, "task %s has no pending reminder", taskID))
	}
	return r, nil
}

func putReminder(ctx context.Context, q querier, r domain.Reminder) error {
	tag, err := q.Exec(ctx, upsertReminder, r.ID, r.TaskID, toDB(r.FireAt), string(r.State), r.Token,
		toDBPtr(r.FiredAt), toDBPtr(r.SnoozedUntil), toDB(r.CreatedAt))
	if err != nil {
		return dbError("put reminder "+r.ID, err)
	}
	return mustAffect(tag, taskNotFound(r.TaskID))
}

func scanReminder(row scanner) (domain.Reminder, error) {
	var (
		r                domain.Reminder
		fireAt, created  time.Time
		fired, snoozedTo *time.Time
	)
	err := row.Scan(&r.ID, &r.TaskID, &fireAt, &r.State, &r.Token, &fired, &snoozedTo, &created)
	if err != nil {
		return domain.Reminder{}, err
	}
	r.FireAt = fromDB(fireAt)
	r.FiredAt = fromDBPtr(fired)
	r.SnoozedUntil = fromDBPtr(snoozedTo)
	r.CreatedAt = fromDB(created)
	return r, nil
}
