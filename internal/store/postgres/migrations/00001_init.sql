-- The first schema of the store, the same tables as the SQLite adapter's.
--
-- Times are timestamptz, which keeps microseconds: the port truncates every
-- time to the microsecond so that both adapters return the same values.
-- Text that the store sorts or compares by key uses the "C" collation, so
-- that orders are byte orders (as in Go and in SQLite) whatever the
-- database's locale, and ILIKE folds ASCII letters only.
-- Optional strings are '' rather than NULL, except chat_key and
-- client_message_id, whose unique indexes must not treat '' as a value.
-- chat_key is bytea: domain.ChatKey joins the two member ids with a NUL
-- byte, which text cannot hold.
-- Only room ids are foreign keys: members are provisioned lazily from their
-- tokens, so a membership or a message may name a member who has no row yet.

-- +goose Up
CREATE TABLE members (
    id           text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz
);

CREATE TABLE rooms (
    id         text COLLATE "C" PRIMARY KEY,
    kind       text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    chat_key   bytea UNIQUE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    seq        bigint NOT NULL DEFAULT 0
);

-- SearchRooms walks this index in (name, id) order from the page key and
-- stops after a page of matches, instead of sorting every visible room. The
-- predicate is the query's own literal, so the planner can use the index.
CREATE INDEX rooms_search ON rooms (name, id) WHERE kind <> 'CHAT';

CREATE TABLE memberships (
    room_id              text COLLATE "C" NOT NULL REFERENCES rooms (id),
    member_id            text COLLATE "C" NOT NULL,
    role                 text NOT NULL,
    joined_at            timestamptz NOT NULL,
    last_read_seq        bigint NOT NULL DEFAULT 0,
    last_read_message_id text NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, member_id)
);

-- RoomsOf, MemberRoomIDs and SearchRooms start from the member; room_id in
-- the key makes MemberRoomIDs an index-only scan and the EXISTS of
-- SearchRooms one probe.
CREATE INDEX memberships_member ON memberships (member_id, room_id);
-- RoomMembers pages a room's members in join order.
CREATE INDEX memberships_room_joined ON memberships (room_id, joined_at, member_id);

CREATE TABLE messages (
    id                text COLLATE "C" PRIMARY KEY,
    room_id           text COLLATE "C" NOT NULL REFERENCES rooms (id),
    author_id         text COLLATE "C" NOT NULL DEFAULT '',
    text              text NOT NULL,
    client_message_id text COLLATE "C",
    seq               bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    edited_at         timestamptz,
    deleted_at        timestamptz
);

-- History pages are range scans of this index in either direction, so a page
-- costs the same in a room of ten messages and in one of millions.
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
-- A client retrying a send finds the message it sent before.
CREATE UNIQUE INDEX messages_client_id ON messages (room_id, author_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- Covers UnreadCount and LastMessage, which skip tombstones: an index-only
-- scan of the live messages after a seq, the author included to filter on.
CREATE INDEX messages_room_live ON messages (room_id, seq) INCLUDE (author_id)
    WHERE deleted_at IS NULL;

-- The room event log is read only by (room_id, seq) ranges of its primary key.
CREATE TABLE room_events (
    room_id    text COLLATE "C" NOT NULL REFERENCES rooms (id),
    seq        bigint NOT NULL,
    type       text NOT NULL,
    at         timestamptz NOT NULL,
    actor_id   text NOT NULL DEFAULT '',
    message_id text COLLATE "C" NOT NULL DEFAULT '',
    member_id  text NOT NULL DEFAULT '',
    role       text NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, seq)
);

-- +goose Down
DROP TABLE room_events;
DROP TABLE messages;
DROP TABLE memberships;
DROP TABLE rooms;
DROP TABLE members;
