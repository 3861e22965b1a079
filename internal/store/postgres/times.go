package postgres

import "time"

// The port keeps times to the microsecond, the precision of timestamptz.
// pgx would drop the nanoseconds too; truncating first makes a value handed
// back without a round trip equal to one read back. pgx reads timestamptz in
// the local time zone, so every time read is converted to UTC.

// toDB is t as the store keeps it.
func toDB(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// toDBPtr is toDB for an optional time; nil is NULL.
func toDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := toDB(*t)
	return &v
}

// fromDB is a time read from a column.
func fromDB(t time.Time) time.Time { return t.UTC() }

// fromDBPtr is fromDB for an optional time; NULL is nil.
func fromDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := fromDB(*t)
	return &v
}
