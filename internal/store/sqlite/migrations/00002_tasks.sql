-- Tasks of the board with their dates and watchers, the reminders of those
-- tasks, and the notifications members get when a reminder fires.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC, as in 00001.
-- Optional strings (url, room_id) are '' rather than NULL.

-- +goose Up
CREATE TABLE tasks (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    url        TEXT NOT NULL DEFAULT '',
    start_at   INTEGER,
    due_at     INTEGER,
    remind     TEXT NOT NULL,
    room_id    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- due_at is a copy of the task's, written with the watcher rows (PutTask
-- rewrites both together), so that TasksOf is one range scan of
-- task_watchers_member_due in (due_at, task_id) order: a page costs the same
-- for a member watching ten tasks and for one watching ten thousand.
CREATE TABLE task_watchers (
    task_id   TEXT NOT NULL REFERENCES tasks (id),
    member_id TEXT NOT NULL,
    due_at    INTEGER,
    PRIMARY KEY (task_id, member_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX task_watchers_member_due ON task_watchers (member_id, due_at, task_id);

-- At most one reminder of a task is SCHEDULED at a time; the use cases keep
-- it so under the task's lock. The older ones stay as history.
CREATE TABLE reminders (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    fire_at       INTEGER NOT NULL,
    state         TEXT NOT NULL,
    token         TEXT NOT NULL,
    fired_at      INTEGER,
    snoozed_until INTEGER,
    created_at    INTEGER NOT NULL
) STRICT;

-- LatestReminder and PendingReminder read a task's reminders newest first.
CREATE INDEX reminders_task_created ON reminders (task_id, created_at, id);

-- A notification names the reminder fire it tells of by (reminder_id,
-- token): a fire retried after a crash inserts nothing new. is_read splits a
-- member's notifications into the two runs Notifications pages through,
-- unread first, each newest first.
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    task_id     TEXT NOT NULL DEFAULT '',
    reminder_id TEXT NOT NULL DEFAULT '',
    room_id     TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER,
    token       TEXT NOT NULL DEFAULT '',
    is_read     INTEGER NOT NULL GENERATED ALWAYS AS (read_at IS NOT NULL) STORED,
    UNIQUE (reminder_id, token, member_id)
) STRICT;

CREATE INDEX notifications_member_read ON notifications (member_id, is_read, created_at, id);

-- +goose Down
DROP TABLE notifications;
DROP TABLE reminders;
DROP TABLE task_watchers;
DROP TABLE tasks;
