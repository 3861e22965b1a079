package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. A commit with synchronous=FULL syncs the WAL to disk, which
// costs more than the statements of a send; and since SQLite has a single
// writer, the sends of concurrent callers queue for it anyway. So the writes
// of callers that queue while a transaction runs or commits go into one
// transaction, each in a savepoint of its own, and share its commit.
//
// No goroutine of its own does this: the callers pass the write connection
// on like a baton. The caller holding it runs its own fn in the open
// transaction (opening one when none is), and on leaving either passes the
// transaction on to the next caller in line or, when none is waiting or the
// batch is full, commits it for everyone in it. The callers whose fn
// succeeded wait for that commit and return its result. A lone Update is
// never delayed: with nobody waiting, its holder commits at once; batches
// grow only when callers arrive faster than transactions commit. Since every
// fn runs in its caller's goroutine, a panic in fn goes on in that goroutine
// and nowhere else.

// Bounds of one batch, so that the first caller of a batch does not wait for
// an endless stream of followers before its commit.
const (
	// maxBatch is the most fns one transaction runs.
	maxBatch = 128
	// maxBatchTime is how long a batch takes in more fns after its first.
	maxBatchTime = 5 * time.Millisecond
)

// Statements of the savepoint each fn runs in. The first fn of a batch
// takes one too: a fn may ignore the error of a statement after which SQLite
// rolled back the whole transaction (a full disk, an I/O error), and only a
// failing RELEASE then tells.
var (
	savepointFn         = statement("SAVEPOINT fn")
	releaseSavepointFn  = statement("RELEASE fn")
	rollbackSavepointFn = statement("ROLLBACK TO fn")
)

// newCommitter returns the committer of the write pool.
func newCommitter(write *pool) *committer {
	return &committer{write: write, maxFns: maxBatch, maxWait: maxBatchTime}
}

// committer batches the transactions of concurrent callers on the write
// connection.
type committer struct {
	write *pool
	// maxFns and maxWait bound a batch: maxBatch and maxBatchTime, but for
	// tests.
	maxFns  int
	maxWait time.Duration
	// queued counts the callers waiting for mu: while any is, the holder
	// leaves the transaction open for them.
	queued atomic.Int64
	// mu is the baton: held by the caller running its fn in the open
	// transaction, or committing it.
	mu sync.Mutex
	// open is the transaction callers add their fns to; nil when none is.
	// Guarded by mu.
	open *batch
}

// batch is one transaction shared by the fns of several callers.
type batch struct {
	tx      *sql.Tx
	started time.Time
	fns     int // fns run in it, including those rolled back
	// done is closed once the transaction has committed or rolled back,
	// with err set to why it failed, if it did.
	done chan struct{}
	err  error
}

// run runs fn in the open transaction, or a new one, and returns once that
// transaction has committed: fn's error when fn fails (its writes are rolled
// back, and the other fns of the transaction commit), or the commit's. A
// panic in fn rolls back its writes and goes on. When ctx is done before fn
// starts, run returns ctx's error and fn does not run; ctx is checked once
// the caller's turn has come, since the turn normally comes soon: after the
// fns before it in line and one commit. fn runs with a context that keeps
// ctx's values but is never canceled, since canceling a statement would roll
// back the other callers' writes too.
func (c *committer) run(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	c.queued.Add(1)
	c.mu.Lock()
	c.queued.Add(-1)
	if err := ctx.Err(); err != nil {
		c.leave()
		return fmt.Errorf("begin transaction: %w", err)
	}
	b, err := c.begin()
	if err != nil {
		c.leave()
		return err
	}
	b.fns++
	if _, err := c.exec(b, savepointFn); err != nil {
		c.abort(b, dbError("begin savepoint", err))
		c.leave()
		return b.err
	}

	returned := false
	defer func() {
		if !returned {
			// fn panicked or called runtime.Goexit: undo its writes and
			// pass the baton on while the panic goes on.
			c.undo(b)
			c.leave()
		}
	}()
	err = fn(context.WithoutCancel(ctx), c.write.in(b.tx))
	returned = true

	if err != nil {
		c.undo(b)
		c.leave()
		return err
	}
	if _, rerr := c.exec(b, releaseSavepointFn); rerr != nil {
		c.abort(b, dbError("release savepoint", rerr))
	}
	c.leave()
	<-b.done
	return b.err
}

// begin returns the open transaction, beginning one when none is open. The
// caller holds mu.
func (c *committer) begin() (*batch, error) {
	if c.open != nil {
		return c.open, nil
	}
	// The transaction belongs to no caller, so no caller's context may
	// end it: database/sql rolls back a transaction whose context ends.
	tx, err := c.write.db.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, dbError("begin transaction", err)
	}
	c.open = &batch{tx: tx, started: time.Now(), done: make(chan struct{})}
	return c.open, nil
}

// exec runs one of the savepoint statements in b.
func (c *committer) exec(b *batch, query string) (sql.Result, error) {
	return c.write.in(b.tx).ExecContext(context.Background(), query)
}

// undo rolls back the writes of the fn that just ran in b, to its
// savepoint; should that fail, the whole transaction. The caller holds mu.
func (c *committer) undo(b *batch) {
	if c.open != b {
		return // aborted already
	}
	_, err := c.exec(b, rollbackSavepointFn)
	if err == nil {
		_, err = c.exec(b, releaseSavepointFn)
	}
	if err != nil {
		c.abort(b, dbError("roll back savepoint", err))
	}
}

// abort rolls back b and ends it with err for the callers waiting for it.
// The caller holds mu.
func (c *committer) abort(b *batch, err error) {
	_ = b.tx.Rollback()
	c.end(b, err)
}

// end closes b with err; the next caller begins a new transaction.
func (c *committer) end(b *batch, err error) {
	b.err = err
	c.open = nil
	close(b.done)
}

// leave passes the baton on: it leaves the open transaction to the next
// caller in line when there is one and the batch may grow, and otherwise
// commits it. Then it unlocks mu. Every caller that takes mu calls leave
// once, which is why a transaction left open is always committed: the
// caller it is left to is counted in queued before it waits for mu.
func (c *committer) leave() {
	defer c.mu.Unlock()
	b := c.open
	if b == nil {
		return
	}
	if c.queued.Load() > 0 && b.fns < c.maxFns && time.Since(b.started) < c.maxWait {
		return
	}
	var err error
	if cerr := b.tx.Commit(); cerr != nil {
		err = dbError("commit transaction", cerr)
	}
	c.end(b, err)
}
