package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/scheduler/river"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// member is the one member the run provisions; it watches every task.
const member = "bench-watcher"

// reminder is one reminder the run scheduled.
type reminder struct {
	id, token string
	fireAt    time.Time
}

// measure runs one measurement: it sets up a fresh database and the node's
// parts over it, creates the tasks, lets the scheduler fire their reminders
// and returns what it saw. An error means the run could not be set up or
// the tasks not created; reminders that do not fire are a result, not an
// error.
func measure(ctx context.Context, cfg config, stderr io.Writer) (_ *result, err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	rec := newRecorder()
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(passLogger{next: slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), r: rec})

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The database goes last, once the scheduler has stopped, whatever
	// happened; the clean-up has its own bound, since ctx may have ended.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := db.close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()

	hub := realtime.NewHub(memory.New(), realtime.HubOptions{Logger: log})
	svc := app.New(db.store, hub, presencememory.New(), clock.System{}, ulids.New(), log, app.Config{})
	sched, err := db.openScheduler(ctx, rec.wrap(svc.FireReminder),
		river.Options{Workers: cfg.workers, FetchPollInterval: cfg.poll, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open scheduler: %w", err)
	}
	defer func() { _ = sched.Close() }() // after Run has returned: a no-op
	svc.WithScheduler(sched)
	if err := svc.EnsureMember(ctx, member, "Reminder bench"); err != nil {
		return nil, fmt.Errorf("provision member: %w", err)
	}

	// The member's live notifications, read as a client's stream would: they
	// show that each fire reached the hub, and when.
	sub, err := hub.Subscribe(ctx, realtime.MemberTopic(member))
	if err != nil {
		return nil, fmt.Errorf("subscribe to notifications: %w", err)
	}
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		for {
			env, ok := sub.Receive(ctx)
			if !ok {
				return
			}
			if env.Notification != nil {
				rec.notify(env.Notification.ReminderID, time.Now())
			}
		}
	}()
	stopWatching := func() error {
		sub.Close()
		<-watching
		return sub.Err()
	}
	defer func() { _ = stopWatching() }() // a no-op once stopped

	// The scheduler runs from the start, as in serve: the tasks are created
	// on a live node.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- sched.Run(runCtx) }()
	stopScheduler := func() error {
		stopRun()
		return <-runDone
	}

	res := &result{cfg: cfg, database: db.version, loadBefore: loadAverage()}
	res.firstDue = time.Now().Add(cfg.lead).Truncate(time.Second).Add(time.Second)
	createStart := time.Now()
	reminders, err := createTasks(ctx, svc, cfg, res.firstDue)
	res.createTook = time.Since(createStart)
	res.createdBeforeDue = time.Until(res.firstDue)
	if err != nil {
		return nil, errors.Join(err, stopScheduler(), stopWatching())
	}
	if cfg.analyze {
		if err := db.analyze(ctx); err != nil {
			return nil, errors.Join(err, stopScheduler(), stopWatching())
		}
	}

	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return nil, errors.Join(err, stopScheduler(), stopWatching())
	}
	waitCtx, cancelWait := context.WithDeadline(ctx, res.firstDue.Add(cfg.spread).Add(cfg.grace))
	res.complete = rec.waitFired(waitCtx, len(reminders))
	cancelWait()
	if res.complete {
		settle(ctx, cfg.settle)
	}
	res.timedOut = ctx.Err() != nil
	res.loadAfter = loadAverage()
	res.schedulerErr = stopScheduler()
	profileErr := stopProfile()
	res.subscriptionErr = stopWatching()

	// The store's own view, read once nothing fires any more.
	vctx, cancelVerify := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancelVerify()
	res.storeFired, res.storeErr = countFired(vctx, db.store, reminders)
	if db.stats != nil {
		res.riverStats, _ = db.stats(vctx)
	}
	res.summarize(reminders, rec)
	return res, profileErr
}

// createTasks creates cfg.n tasks watched by the member, each with a
// reminder AT_DUE, their due times spread uniformly over cfg.spread from
// first, through the use case (which schedules each through River). It
// returns each task's reminder as the store has it.
func createTasks(ctx context.Context, svc *app.Service, cfg config, first time.Time) ([]reminder, error) {
	reminders := make([]reminder, cfg.n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.writers)
	for i := range cfg.n {
		g.Go(func() error {
			due := first.Add(time.Duration(int64(cfg.spread) * int64(i) / int64(cfg.n)))
			taskID := fmt.Sprintf("bench-task-%06d", i)
			_, err := svc.SetTaskDates(gctx, member, app.TaskDates{
				TaskID: taskID, Title: "Reminder bench " + taskID, DueAt: &due, Remind: domain.RemindAtDue,
			})
			if err != nil {
				return fmt.Errorf("set dates of %s: %w", taskID, err)
			}
			r, err := svc.LatestReminder(gctx, taskID)
			if err != nil {
				return fmt.Errorf("read reminder of %s: %w", taskID, err)
			}
			if r == nil {
				return fmt.Errorf("task %s got no reminder: it was due before its dates were set; raise -lead", taskID)
			}
			reminders[i] = reminder{id: r.ID, token: r.Token, fireAt: r.FireAt}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("create tasks: %w", err)
	}
	return reminders, nil
}

// settle waits d, or until ctx ends: time for repeated fires to show.
func settle(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// countFired counts the reminders whose state in the store is FIRED.
func countFired(ctx context.Context, st app.Store, reminders []reminder) (int, error) {
	n := 0
	for _, r := range reminders {
		got, err := st.Reminder(ctx, r.id)
		if err != nil {
			return n, fmt.Errorf("read reminder %s: %w", r.id, err)
		}
		if got.State == domain.ReminderFired {
			n++
		}
	}
	return n, nil
}

// startProfile starts a CPU profile into path, if one is asked for, and
// returns what stops it.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path) //nolint:gosec // the path is the operator's own -cpuprofile flag
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("write CPU profile: %w", err)
		}
		return nil
	}, nil
}
