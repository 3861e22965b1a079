// Package river is the durable reminder Scheduler of nordkapp42, on River
// (github.com/riverqueue/river), a job queue that keeps its jobs in the
// application's own database: SQLite for the embedded single binary
// (NewSQLite), PostgreSQL for several nodes sharing one database
// (NewPostgres). River's tables sit beside the store's, created by River's
// own migrations.
//
// Each schedule is one job of kind reminder_fire, unique per (reminder,
// token), whose args are the reminder's id and token; the job's worker calls
// the FireFunc. A node claims a due job in a transaction that marks it
// running (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has a single writer),
// so one node runs it at a time. A failed fire is retried with River's
// backoff (attempt⁴ seconds: 1 s, 16 s, 81 s, ...) up to maxAttempts times
// in all; a job whose node died while running it is run again once River
// finds it stuck (rescueAfter). The run is therefore at least once, which is
// what app.Scheduler asks: the use case makes a repeated run do nothing.
//
// How late a reminder fires: a node looks for due jobs every
// FetchPollInterval, so a lone reminder fires within about that of its time.
// A job inserted more than lookAhead (5 s) before its time waits in River's
// "scheduled" state until the elected leader moves it to "available", in a
// pass every 5 s that takes the jobs due within the next 5 s. On PostgreSQL
// 15 that pass is quadratic in the number of jobs it moves when the planner
// expects few (it does, unless the table's statistics show them): measured
// 0.07 s for 200 jobs due in the same 5 s, 0.4 s for 500, 2.6 s for 1 000,
// 10 s for 2 000. Larger bursts due in the same few seconds fire late.
package river

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var _ app.Scheduler = (*Scheduler)(nil)

// FireFunc fires one schedule of a reminder: it is app.Service.FireReminder.
// It may be called more than once for the same schedule and must make the
// repeats harmless. An error makes River run it again later.
type FireFunc func(ctx context.Context, reminderID, token string) error

// River settings. They are fixed rather than options because the
// guarantees in the package comment rest on them.
const (
	// queueName is the queue of reminder jobs, so that other jobs that may
	// come to share River's tables do not hold reminders up.
	queueName = "reminders"

	// maxAttempts bounds the runs of one schedule. With River's default
	// backoff the tenth attempt comes about 4 h 15 min after the first, long
	// enough to ride out a database outage, short enough that a reminder
	// stuck on a bug is given up on (and logged) the same day.
	maxAttempts = 10

	// jobTimeout cancels the context of a fire that runs longer: a fire is
	// one short transaction plus a few publishes, so 30 s means the database
	// or the broker is stuck, and the attempt is better retried.
	jobTimeout = 30 * time.Second

	// rescueAfter is how long a job may stay running before River takes it
	// for abandoned by a dead node and runs it again (River's default is an
	// hour). It must exceed jobTimeout; a fire still running after it, its
	// context long cancelled, may then run twice, which the use case allows.
	rescueAfter = 2 * time.Minute

	// lookAhead is River's scheduler interval (JobSchedulerIntervalDefault,
	// which River does not let a client change). River inserts a job with a
	// time as "scheduled", and only the elected leader moves scheduled jobs to
	// "available", every lookAhead, taking those due within the next
	// lookAhead. A job due sooner than that after its insertion would wait
	// for the leader's next pass, up to lookAhead late, so Schedule inserts
	// it as available at once instead: a node's fetch still takes an
	// available job only once its time has come.
	lookAhead = 5 * time.Second

	// softStop is how long Run's stop lets running fires finish before it
	// cancels their contexts; a cancelled fire is made available again.
	softStop = 5 * time.Second
	// hardStop bounds the wait for cancelled fires to return.
	hardStop = 10 * time.Second
)

// Option defaults.
const (
	defaultWorkers           = 50
	defaultFetchPollInterval = 200 * time.Millisecond
	// maxFetchCooldown is the shortest time between two fetches of a node,
	// whatever wakes it (a poll, an insert, a finished job). A fetch takes at
	// most Workers jobs, so a node fires at most Workers per cooldown: with
	// River's default of 100 ms and 50 workers, 500 a second, and a burst of
	// 1 000 reminders due at once fired its last 2.1 s late on SQLite; with
	// 25 ms, 1.2 s (PostgreSQL: 0.55 s). The cost is more fetches only while
	// jobs keep coming.
	maxFetchCooldown = 25 * time.Millisecond
)

// Options tunes a Scheduler. The zero value is the production setting.
type Options struct {
	// Workers is how many fires one node runs at the same time; 50 by default.
	Workers int
	// Logger receives River's log and the failed fires; slog.Default() by
	// default.
	Logger *slog.Logger
	// FetchPollInterval is how often a node looks for jobs whose time has
	// come, and so about how late a reminder may fire; 200 ms by default.
	// River wakes a node early only for jobs that are due when inserted.
	FetchPollInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FetchPollInterval <= 0 {
		o.FetchPollInterval = defaultFetchPollInterval
	}
	return o
}

// riverClient is what the Scheduler uses of a River client, whatever the
// transaction type of its driver.
type riverClient interface {
	Insert(ctx context.Context, args riverqueue.JobArgs, opts *riverqueue.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Scheduler is the River implementation of app.Scheduler. Schedule is safe
// for concurrent use, also before Run (the jobs then wait for it) and from
// other nodes on the same database. Run it once.
type Scheduler struct {
	client  riverClient
	log     *slog.Logger
	ran     atomic.Bool
	closeDB func() error
	closed  sync.Once
	err     error // of closeDB
}

// newScheduler builds the River client over a migrated database. closeDB
// releases the database; the Scheduler calls it once, from Run or Close.
func newScheduler[TTx any](driver riverdriver.Driver[TTx], fire FireFunc, opts Options, closeDB func() error) (*Scheduler, error) {
	if fire == nil {
		return nil, domain.Errorf(domain.ErrInvalid, "reminder scheduler needs a fire function")
	}
	opts = opts.withDefaults()
	workers := riverqueue.NewWorkers()
	if err := riverqueue.AddWorkerSafely(workers, &fireWorker{fire: fire, log: opts.Logger}); err != nil {
		return nil, fmt.Errorf("register reminder worker: %w", err)
	}
	client, err := riverqueue.NewClient(driver, &riverqueue.Config{
		FetchCooldown:        min(maxFetchCooldown, opts.FetchPollInterval),
		FetchPollInterval:    opts.FetchPollInterval,
		Hooks:                []rivertype.Hook{riverqueue.HookInsertBeginFunc(availableWhenDueSoon)},
		JobTimeout:           jobTimeout,
		Logger:               opts.Logger,
		MaxAttempts:          maxAttempts,
		Queues:               map[string]riverqueue.QueueConfig{queueName: {MaxWorkers: opts.Workers}},
		RescueStuckJobsAfter: rescueAfter,
		Workers:              workers,
	})
	if err != nil {
		return nil, fmt.Errorf("make river client: %w", err)
	}
	return &Scheduler{client: client, log: opts.Logger, closeDB: closeDB}, nil
}

// Schedule inserts the job that fires (reminderID, token) at or soon after
// at; a time in the past fires at once. It is idempotent: while a job of the
// same reminder and token is pending, running or completed (completed jobs
// are kept 24 hours), Schedule inserts nothing, and the first call's time
// stands. A database that does not answer is domain.ErrUnavailable.
func (s *Scheduler) Schedule(ctx context.Context, reminderID, token string, at time.Time) error {
	if reminderID == "" || token == "" {
		return domain.Errorf(domain.ErrInvalid, "a schedule needs a reminder id and a token")
	}
	_, err := s.client.Insert(ctx, reminderArgs{ReminderID: reminderID, Token: token},
		&riverqueue.InsertOpts{ScheduledAt: at})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("schedule reminder %s: %w", reminderID, err)
	default:
		// The args are valid by construction: what fails is the database.
		return fmt.Errorf("schedule reminder %s: %w: %w", reminderID, domain.ErrUnavailable, err)
	}
}

// Run fires the jobs as they come due until ctx ends. It then stops: it lets
// running fires finish for a few seconds, cancels those still running (they
// run again later, here or on another node), closes the database and returns
// nil. It returns an error only when River cannot start. Call it once;
// Schedule fails after it has returned.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("reminder scheduler: Run called twice")
	}
	defer s.Close()
	// River stops when its start context ends, but without the soft stop
	// below; the stop is Run's to make.
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start reminder scheduler: %w", err)
	}
	<-ctx.Done()
	s.stop(context.WithoutCancel(ctx))
	return nil
}

// stop stops River: softly first, then cancelling the running fires.
func (s *Scheduler) stop(ctx context.Context) {
	soft, cancel := context.WithTimeout(ctx, softStop)
	defer cancel()
	if err := s.client.Stop(soft); err == nil {
		return
	}
	s.log.WarnContext(ctx, "reminder scheduler: fires still running after the soft stop; cancelling them",
		slog.Duration("soft_stop", softStop))
	hard, cancelHard := context.WithTimeout(ctx, hardStop)
	defer cancelHard()
	if err := s.client.StopAndCancel(hard); err != nil {
		s.log.ErrorContext(ctx, "reminder scheduler: fires still running after being cancelled",
			slog.Duration("hard_stop", hardStop), slog.Any("err", err))
	}
}

// Close releases the database of a Scheduler whose Run was never called; Run
// closes it itself when it returns. Calling it while Run runs makes River
// fail. It is idempotent.
func (s *Scheduler) Close() error {
	s.closed.Do(func() { s.err = s.closeDB() })
	return s.err
}
