-- The first schema of the store.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC: integers order
-- correctly, compare cheaply, and hold exactly the microsecond precision that
-- PostgreSQL's timestamptz keeps, so both adapters return the same values.
-- Optional strings are '' rather than NULL, except chat_key and
-- client_message_id, whose unique indexes must not treat '' as a value.
-- Only room ids are foreign keys: members are provisioned lazily from their
-- tokens, so a membership or a message may name a member who has no row yet.

-- +goose Up
CREATE TABLE members (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER
) STRICT;

CREATE TABLE rooms (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    chat_key   TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    seq        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE memberships (
    room_id              TEXT NOT NULL REFERENCES rooms (id),
    member_id            TEXT NOT NULL,
    role                 TEXT NOT NULL,
    joined_at            INTEGER NOT NULL,
    last_read_seq        INTEGER NOT NULL DEFAULT 0,
    last_read_message_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, member_id)
) STRICT, WITHOUT ROWID;

-- RoomsOf, MemberRoomIDs and SearchRooms start from the member.
CREATE INDEX memberships_member ON memberships (member_id);
-- RoomMembers pages a room's members in join order.
CREATE INDEX memberships_room_joined ON memberships (room_id, joined_at, member_id);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    room_id           TEXT NOT NULL REFERENCES rooms (id),
    author_id         TEXT NOT NULL DEFAULT '',
    text              TEXT NOT NULL,
    client_message_id TEXT,
    seq               INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    edited_at         INTEGER,
    deleted_at        INTEGER
) STRICT;

-- History pages are range scans of this index in either direction, so a page
-- costs the same in a room of ten messages and in one of millions.
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
-- A client retrying a send finds the message it sent before.
CREATE UNIQUE INDEX messages_client_id ON messages (room_id, author_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- Covers UnreadCount and LastMessage, which skip tombstones, without reading
-- the rows themselves.
CREATE INDEX messages_room_live ON messages (room_id, seq, author_id)
    WHERE deleted_at IS NULL;

-- The room event log is read only by (room_id, seq) ranges: clustering the
-- table on that key makes a catch-up read one sequential scan.
CREATE TABLE room_events (
    room_id    TEXT NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    actor_id   TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    member_id  TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, seq)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE room_events;
DROP TABLE messages;
DROP TABLE memberships;
DROP TABLE rooms;
DROP TABLE members;
