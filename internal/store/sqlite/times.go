package sqlite

import (
	"database/sql"
	"time"
)

// The port keeps times to the microsecond, the precision of PostgreSQL's
// timestamptz: a time is stored as INTEGER microseconds since the Unix epoch,
// truncated, and read back in UTC. Integers keep the order of the times.

// toMicros encodes t for a column.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

// toNullMicros encodes an optional time; nil is NULL.
func toNullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromMicros decodes a column into a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// fromNullMicros decodes an optional time; NULL is nil.
func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// truncate is t as the store keeps it, for values handed back to the caller
// without a round trip through the database.
func truncate(t time.Time) time.Time { return fromMicros(toMicros(t)) }
