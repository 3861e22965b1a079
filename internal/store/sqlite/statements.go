package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// SQLite spends more time parsing and planning most of our statements than
// running them, so each statement is prepared once per connection and reused.
// database/sql prepares a statement lazily on each connection it runs on; the
// one catch is the write pool, whose only connection is taken for the whole
// of a transaction: a statement cannot be prepared on it from inside one. So
// every statement is declared with statement, and Open prepares them all on
// the write connection before the first transaction.

// statements is every statement the store runs, in declaration order.
var statements []string

// statement declares query as one of the store's statements and returns it.
// Call it only to initialise package-level variables.
func statement(query string) string {
	statements = append(statements, query)
	return query
}

// pool is a connection pool with its prepared statements. It runs statements
// outside a transaction; in returns what runs them inside one.
type pool struct {
	db    *sql.DB
	stmts sync.Map // query string → *sql.Stmt
	// unprepared counts statements run inside a transaction without being
	// prepared first: a statement that was not declared with statement.
	unprepared atomic.Int64
}

func newPool(db *sql.DB) *pool { return &pool{db: db} }

// prepareAll prepares every declared statement.
func (p *pool) prepareAll(ctx context.Context) error {
	for _, q := range statements {
		if _, err := p.prepare(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// prepare returns the prepared form of query, preparing it on first use.
func (p *pool) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, dbError("prepare statement", err)
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		// Another caller prepared it meanwhile.
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes the prepared statements and then the pool.
func (p *pool) close() error {
	var errs []error
	p.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	errs = append(errs, p.db.Close())
	return errors.Join(errs...)
}

// The pool is a querier outside transactions. Should preparing fail, the
// statement runs unprepared and reports its own error, if any.

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.prepare(ctx, query)
	if err != nil {
		return p.db.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.prepare(ctx, query)
	if err != nil {
		return p.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.prepare(ctx, query)
	if err != nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// in returns the querier of a transaction on this pool. It only looks up
// statements prepared already: preparing one would wait for the connection
// the transaction holds.
func (p *pool) in(tx *sql.Tx) querier { return txQuerier{tx: tx, p: p} }

type txQuerier struct {
	tx *sql.Tx
	p  *pool
}

func (q txQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	st, ok := q.p.stmts.Load(query)
	if !ok {
		q.p.unprepared.Add(1)
		return nil
	}
	// The statement is already prepared on the transaction's connection, so
	// this only wraps it.
	return q.tx.StmtContext(ctx, st.(*sql.Stmt))
}

func (q txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}
