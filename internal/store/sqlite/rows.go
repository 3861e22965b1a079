package sqlite

import (
	"context"
	"database/sql"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryEach runs a query and calls scan for each row.
func queryEach(ctx context.Context, q querier, what, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return dbError(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return dbError(what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(what, err)
	}
	return nil
}

// mustAffect returns notFound when a write changed no row.
func mustAffect(res sql.Result, what string, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(what, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}
