-- The transactional outbox: one row per event that no node has published
-- yet. Tx.AppendEvent inserts the row in the transaction that stores the
-- event; the node that committed it deletes it once the broker took the
-- event (MarkPublished), and any node relays the rows left behind by a node
-- that died in between (RelayUnpublished). Rows live for a fraction of a
-- second, so the table stays small however long the event log grows. Relays
-- walk its primary key, which names the event, in (room_id, seq) order.

-- +goose Up
CREATE TABLE outbox (
    room_id    text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq)
);

-- +goose Down
DROP TABLE outbox;
