package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/scheduler/river"
)

// call is one run of the FireFunc the scheduler was given.
type call struct {
	token      string
	start, end time.Time
	err        error
}

// pass is one pass of River's leader over its scheduled jobs, as River logs
// it: when it finished and how many jobs it made available.
type pass struct {
	at   time.Time
	jobs int64
}

// recorder notes every fire, every notification that reaches the member's
// live subscription and every pass of River's scheduler. It is safe for
// concurrent use.
type recorder struct {
	mu       sync.Mutex
	calls    map[string][]call    // by reminder id
	notified map[string]time.Time // first notification, by reminder id
	notes    map[string]int       // notifications, by reminder id
	passes   []pass
	fired    int // reminders with a successful call

	// progress wakes waitFired after a successful call; it holds at most one
	// wake-up, which is all a waiter needs to look again.
	progress chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		calls:    make(map[string][]call),
		notified: make(map[string]time.Time),
		notes:    make(map[string]int),
		progress: make(chan struct{}, 1),
	}
}

// wrap returns fire timed: the start is taken before fire is called, so the
// lateness measured includes nothing of the use case's own work.
func (r *recorder) wrap(fire river.FireFunc) river.FireFunc {
	return func(ctx context.Context, reminderID, token string) error {
		start := time.Now()
		err := fire(ctx, reminderID, token)
		r.record(reminderID, call{token: token, start: start, end: time.Now(), err: err})
		return err
	}
}

func (r *recorder) record(reminderID string, c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.calls[reminderID]
	r.calls[reminderID] = append(prev, c)
	if c.err != nil || succeeded(prev) {
		return
	}
	r.fired++
	select {
	case r.progress <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func succeeded(calls []call) bool {
	for _, c := range calls {
		if c.err == nil {
			return true
		}
	}
	return false
}

// notify notes a notification of the reminder that reached the subscriber.
func (r *recorder) notify(reminderID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.notified[reminderID]; !ok {
		r.notified[reminderID] = at
	}
	r.notes[reminderID]++
}

// waitFired waits until want reminders have fired, or ctx ends; it reports
// whether they did.
func (r *recorder) waitFired(ctx context.Context, want int) bool {
	for {
		r.mu.Lock()
		n := r.fired
		r.mu.Unlock()
		if n >= want {
			return true
		}
		select {
		case <-r.progress:
		case <-ctx.Done():
			return false
		}
	}
}

// snapshot returns copies of what was recorded, for the report.
func (r *recorder) snapshot() (calls map[string][]call, notified map[string]time.Time, notes map[string]int, passes []pass) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls = make(map[string][]call, len(r.calls))
	for id, cs := range r.calls {
		calls[id] = append([]call(nil), cs...)
	}
	notified = make(map[string]time.Time, len(r.notified))
	for id, at := range r.notified {
		notified[id] = at
	}
	notes = make(map[string]int, len(r.notes))
	for id, n := range r.notes {
		notes[id] = n
	}
	return calls, notified, notes, append([]pass(nil), r.passes...)
}

// passLogger wraps the handler of the server's log: it lets through what
// next would, and notes in r every pass of River's scheduler that moved
// jobs, which River logs at Info.
type passLogger struct {
	next slog.Handler
	r    *recorder
}

// ranMessage ends River's log message of a scheduler pass that moved jobs.
const ranMessage = "JobScheduler: Ran successfully"

// Enabled is true at Info and above, where the passes are logged, and
// wherever next is enabled.
func (h passLogger) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.next.Enabled(ctx, level)
}

// Handle notes a pass and hands the record on if next takes its level.
func (h passLogger) Handle(ctx context.Context, rec slog.Record) error {
	if strings.HasSuffix(rec.Message, ranMessage) {
		p := pass{at: rec.Time}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "num_jobs_scheduled" && a.Value.Kind() == slog.KindInt64 {
				p.jobs = a.Value.Int64()
				return false
			}
			return true
		})
		h.r.mu.Lock()
		h.r.passes = append(h.r.passes, p)
		h.r.mu.Unlock()
	}
	if !h.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.next.Handle(ctx, rec)
}

// WithAttrs wraps next's handler with the attributes.
func (h passLogger) WithAttrs(attrs []slog.Attr) slog.Handler {
	return passLogger{next: h.next.WithAttrs(attrs), r: h.r}
}

// WithGroup wraps next's handler with the group.
func (h passLogger) WithGroup(name string) slog.Handler {
	return passLogger{next: h.next.WithGroup(name), r: h.r}
}
