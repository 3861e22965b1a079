-- Tasks of the board with their dates and watchers, the reminders of those
-- tasks, and the notifications members get when a reminder fires: the same
-- tables as the SQLite adapter's 00002.
--
-- Ids that the store sorts or compares by key use the "C" collation, as in
-- 00001. Optional strings (url, room_id) are '' rather than NULL.

-- +goose Up
CREATE TABLE tasks (
    id         text COLLATE "C" PRIMARY KEY,
    title      text NOT NULL,
    url        text NOT NULL DEFAULT '',
    start_at   timestamptz,
    due_at     timestamptz,
    remind     text NOT NULL,
    room_id    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- due_at is a copy of the task's, written with the watcher rows (PutTask
-- rewrites both together), so that TasksOf is one range scan of
-- task_watchers_member_due in (due_at, task_id) order: a page costs the same
-- for a member watching ten tasks and for one watching ten thousand.
CREATE TABLE task_watchers (
    task_id   text COLLATE "C" NOT NULL REFERENCES tasks (id),
    member_id text COLLATE "C" NOT NULL,
    due_at    timestamptz,
    PRIMARY KEY (task_id, member_id)
);

CREATE INDEX task_watchers_member_due ON task_watchers (member_id, due_at, task_id);

-- At most one reminder of a task is SCHEDULED at a time; the use cases keep
-- it so under the task's lock. The older ones stay as history.
CREATE TABLE reminders (
    id            text COLLATE "C" PRIMARY KEY,
    task_id       text COLLATE "C" NOT NULL REFERENCES tasks (id),
    fire_at       timestamptz NOT NULL,
    state         text NOT NULL,
    token         text NOT NULL,
    fired_at      timestamptz,
    snoozed_until timestamptz,
    created_at    timestamptz NOT NULL
);

-- LatestReminder and PendingReminder read a task's reminders newest first.
CREATE INDEX reminders_task_created ON reminders (task_id, created_at, id);

-- A notification names the reminder fire it tells of by (reminder_id,
-- token): a fire retried after a crash inserts nothing new. is_read splits a
-- member's notifications into the two runs Notifications pages through,
-- unread first, each newest first (a backward scan of the index).
CREATE TABLE notifications (
    id          text COLLATE "C" PRIMARY KEY,
    member_id   text COLLATE "C" NOT NULL,
    kind        text NOT NULL,
    task_id     text NOT NULL DEFAULT '',
    reminder_id text COLLATE "C" NOT NULL DEFAULT '',
    room_id     text NOT NULL DEFAULT '',
    text        text NOT NULL,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    token       text COLLATE "C" NOT NULL DEFAULT '',
    is_read     boolean NOT NULL GENERATED ALWAYS AS (read_at IS NOT NULL) STORED,
    UNIQUE (reminder_id, token, member_id)
);

CREATE INDEX notifications_member_read ON notifications (member_id, is_read, created_at, id);

-- +goose Down
DROP TABLE notifications;
DROP TABLE reminders;
DROP TABLE task_watchers;
DROP TABLE tasks;
