package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// taskColumns are the columns scanTask reads: a task of tasks t and its
// watchers in id order.
const taskColumns = `t.id, t.title, t.url, t.start_at, t.due_at, t.remind, t.room_id, t.created_at, t.updated_at,
	ARRAY(SELECT w.member_id FROM task_watchers w WHERE w.task_id = t.id ORDER BY w.member_id)`

const (
	selectTask = "SELECT " + taskColumns + " FROM tasks t WHERE t.id = $1"
	// lockTask locks the task's row. Tx.Task reads the task after it, in a
	// statement of its own: that statement's snapshot is taken once the lock
	// is held, so it sees the watchers the previous holder committed.
	lockTask = "SELECT id FROM tasks WHERE id = $1 FOR UPDATE"
	// selectTasksOf walks task_watchers_member_due from the page key to the
	// upper due bound; a NULL due_at fails both comparisons.
	selectTasksOf = "SELECT " + taskColumns + `
		FROM task_watchers k JOIN tasks t ON t.id = k.task_id
		WHERE k.member_id = $1 AND (k.due_at, k.task_id) > ($2, $3) AND k.due_at < $4
		ORDER BY k.due_at, k.task_id
		LIMIT $5`
	// upsertTask keeps created_at from the first insert.
	upsertTask = `
		INSERT INTO tasks (id, title, url, start_at, due_at, remind, room_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET
			title = excluded.title, url = excluded.url, start_at = excluded.start_at, due_at = excluded.due_at,
			remind = excluded.remind, room_id = excluded.room_id, updated_at = excluded.updated_at`
	// replaceWatchers makes $2 the task's watchers, each row carrying the
	// task's due time $3, in one round trip. The rows it deletes and those
	// it writes are disjoint, so one statement may do both.
	replaceWatchers = `
		WITH gone AS (
			DELETE FROM task_watchers WHERE task_id = $1 AND member_id <> ALL ($2::text[])
		)
		INSERT INTO task_watchers (task_id, member_id, due_at)
		SELECT $1::text, m, $3::timestamptz FROM unnest($2::text[]) AS m
		ON CONFLICT (task_id, member_id) DO UPDATE SET due_at = excluded.due_at
		WHERE task_watchers.due_at IS DISTINCT FROM excluded.due_at`
)

// Unbounded ends of a range of times.
var (
	beforeAll = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	afterAll  = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
)

// bound is t as the end of a range, open (the given infinity) when t is zero.
func bound(t time.Time, open pgtype.Timestamptz) pgtype.Timestamptz {
	if t.IsZero() {
		return open
	}
	return pgtype.Timestamptz{Time: toDB(t), Valid: true}
}

// Task returns a task with its watchers in id order.
func (s *Store) Task(ctx context.Context, id string) (domain.Task, error) {
	return getTask(ctx, s.pool, id)
}

// TasksOf pages the tasks a member watches that have a due date in
// [DueAfter, DueBefore), ordered by (DueAt, ID), after the key in page. The
// page is one range scan of the member's watcher rows, which carry the due
// time of their task.
func (s *Store) TasksOf(ctx context.Context, memberID string, page app.TaskPage) ([]domain.Task, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	// The page starts after the later of the key and the lower bound: no
	// task id is empty, so (DueAfter, "") is before every task due then.
	keyDue, keyID := bound(page.AfterDue, beforeAll), page.AfterID
	if !page.DueAfter.IsZero() && (page.AfterDue.IsZero() || toDB(page.AfterDue).Before(toDB(page.DueAfter))) {
		keyDue, keyID = bound(page.DueAfter, beforeAll), ""
	}
	return collect(ctx, s.pool, "list tasks of member "+memberID, selectTasksOf,
		[]any{memberID, keyDue, keyID, bound(page.DueBefore, afterAll), page.Limit}, scanTask)
}

func getTask(ctx context.Context, q querier, id string) (domain.Task, error) {
	t, err := scanTask(q.QueryRow(ctx, selectTask, id))
	if err != nil {
		return domain.Task{}, getError("load task "+id, err, taskNotFound(id))
	}
	return t, nil
}

// lockAndGetTask locks the task's row until the transaction ends and reads
// the task.
func lockAndGetTask(ctx context.Context, q querier, id string) (domain.Task, error) {
	var locked string
	if err := q.QueryRow(ctx, lockTask, id).Scan(&locked); err != nil {
		return domain.Task{}, getError("lock task "+id, err, taskNotFound(id))
	}
	return getTask(ctx, q, id)
}

// putTask upserts the task and replaces its watchers, whose rows also carry
// the task's due time.
func putTask(ctx context.Context, q querier, t domain.Task) error {
	what := "put task " + t.ID
	_, err := q.Exec(ctx, upsertTask, t.ID, t.Title, t.URL, toDBPtr(t.StartAt), toDBPtr(t.DueAt),
		string(t.Remind), t.RoomID, toDB(t.CreatedAt), toDB(t.UpdatedAt))
	if err != nil {
		return dbError(what, err)
	}
	// Without duplicates: an upsert may not write one row twice.
	watchers := slices.Compact(slices.Sorted(slices.Values(t.WatcherIDs)))
	if watchers == nil {
		watchers = []string{} // an empty array, not NULL, for <> ALL
	}
	if _, err := q.Exec(ctx, replaceWatchers, t.ID, watchers, toDBPtr(t.DueAt)); err != nil {
		return dbError(what, err)
	}
	return nil
}

func taskNotFound(id string) error { return domain.Errorf(domain.ErrNotFound, "task %s not found", id) }

func scanTask(row scanner) (domain.Task, error) {
	var (
		t                  domain.Task
		start, due         *time.Time
		created, updatedAt time.Time
	)
	err := row.Scan(&t.ID, &t.Title, &t.URL, &start, &due, &t.Remind, &t.RoomID, &created, &updatedAt, &t.WatcherIDs)
	if err != nil {
		return domain.Task{}, err
	}
	t.StartAt = fromDBPtr(start)
	t.DueAt = fromDBPtr(due)
	t.CreatedAt = fromDB(created)
	t.UpdatedAt = fromDB(updatedAt)
	return t, nil
}
