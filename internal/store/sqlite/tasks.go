package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// taskColumns are the columns scanTask reads: a task of tasks t and its
// watchers as a JSON array in id order.
const taskColumns = `t.id, t.title, t.url, t.start_at, t.due_at, t.remind, t.room_id, t.created_at, t.updated_at,
	(SELECT json_group_array(w.member_id ORDER BY w.member_id) FROM task_watchers w WHERE w.task_id = t.id)`

var (
	selectTask = statement("SELECT " + taskColumns + " FROM tasks t WHERE t.id = ?")
	// selectTasksOf walks task_watchers_member_due from the page key to the
	// upper due bound; a NULL due_at fails both comparisons.
	selectTasksOf = statement("SELECT " + taskColumns + `
		FROM task_watchers k JOIN tasks t ON t.id = k.task_id
		WHERE k.member_id = ? AND (k.due_at, k.task_id) > (?, ?) AND k.due_at < ?
		ORDER BY k.due_at, k.task_id
		LIMIT ?`)
	// upsertTask keeps created_at from the first insert.
	upsertTask = statement(`
		INSERT INTO tasks (id, title, url, start_at, due_at, remind, room_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			title = excluded.title, url = excluded.url, start_at = excluded.start_at, due_at = excluded.due_at,
			remind = excluded.remind, room_id = excluded.room_id, updated_at = excluded.updated_at`)
	deleteTaskWatchers = statement("DELETE FROM task_watchers WHERE task_id = ?")
	// The watcher ids come as one JSON array, so that one prepared statement
	// serves any number of them.
	insertTaskWatchers = statement(`
		INSERT INTO task_watchers (task_id, member_id, due_at)
		SELECT ?, value, ? FROM json_each(?)`)
)

// Task returns a task with its watchers in id order.
func (s *Store) Task(ctx context.Context, id string) (domain.Task, error) {
	return getTask(ctx, s.read, id)
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
	keyDue, keyID := boundMicros(page.AfterDue, math.MinInt64), page.AfterID
	if after := boundMicros(page.DueAfter, math.MinInt64); keyDue < after {
		keyDue, keyID = after, ""
	}
	tasks := []domain.Task{}
	err := queryEach(ctx, s.read, "list tasks of member "+memberID, selectTasksOf,
		[]any{memberID, keyDue, keyID, boundMicros(page.DueBefore, math.MaxInt64), page.Limit},
		func(rows *sql.Rows) error {
			t, err := scanTask(rows)
			if err != nil {
				return err
			}
			tasks = append(tasks, t)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return tasks, nil
}

// boundMicros encodes a bound of a range, unbounded (open) when t is zero.
func boundMicros(t time.Time, open int64) int64 {
	if t.IsZero() {
		return open
	}
	return toMicros(t)
}

func getTask(ctx context.Context, q querier, id string) (domain.Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, selectTask, id))
	if err != nil {
		return domain.Task{}, getError("load task "+id, err, taskNotFound(id))
	}
	return t, nil
}

// putTask upserts the task and replaces its watchers, whose rows also carry
// the task's due time.
func putTask(ctx context.Context, q querier, t domain.Task) error {
	what := "put task " + t.ID
	_, err := q.ExecContext(ctx, upsertTask, t.ID, t.Title, t.URL, toNullMicros(t.StartAt), toNullMicros(t.DueAt),
		string(t.Remind), t.RoomID, toMicros(t.CreatedAt), toMicros(t.UpdatedAt))
	if err != nil {
		return dbError(what, err)
	}
	if _, err := q.ExecContext(ctx, deleteTaskWatchers, t.ID); err != nil {
		return dbError(what, err)
	}
	watchers := slices.Compact(slices.Sorted(slices.Values(t.WatcherIDs)))
	if len(watchers) == 0 {
		return nil
	}
	list, err := json.Marshal(watchers)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := q.ExecContext(ctx, insertTaskWatchers, t.ID, toNullMicros(t.DueAt), string(list)); err != nil {
		return dbError(what, err)
	}
	return nil
}

func taskNotFound(id string) error { return domain.Errorf(domain.ErrNotFound, "task %s not found", id) }

func scanTask(row scanner) (domain.Task, error) {
	var (
		t                  domain.Task
		start, due         sql.NullInt64
		created, updatedAt int64
		watchers           string
	)
	err := row.Scan(&t.ID, &t.Title, &t.URL, &start, &due, &t.Remind, &t.RoomID, &created, &updatedAt, &watchers)
	if err != nil {
		return domain.Task{}, err
	}
	if err := json.Unmarshal([]byte(watchers), &t.WatcherIDs); err != nil {
		return domain.Task{}, fmt.Errorf("decode watchers of task %s: %w", t.ID, err)
	}
	t.StartAt = fromNullMicros(start)
	t.DueAt = fromNullMicros(due)
	t.CreatedAt = fromMicros(created)
	t.UpdatedAt = fromMicros(updatedAt)
	return t, nil
}
