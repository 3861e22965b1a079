package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDistribution(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * ms // 100 ms … 1 ms, unsorted
	}
	withMissing := append([]time.Duration(nil), hundred[:98]...) // 100 … 3 ms
	withMissing = append(withMissing, never, never)

	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{7 * ms}, summary{P50: 7 * ms, P95: 7 * ms, P99: 7 * ms, Max: 7 * ms, Min: 7 * ms}},
		{"nearest rank of 100", hundred, summary{P50: 50 * ms, P95: 95 * ms, P99: 99 * ms, Max: 100 * ms, Min: 1 * ms}},
		// Two of 100 never came: they are the latest, so p99 is one of them.
		{"missing count as latest", withMissing, summary{P50: 52 * ms, P95: 97 * ms, P99: never, Max: never, Min: 3 * ms}},
		{"early fire is negative", []time.Duration{-2 * ms, 4 * ms}, summary{P50: -2 * ms, P95: 4 * ms, P99: 4 * ms, Max: 4 * ms, Min: -2 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := append([]time.Duration(nil), tt.in...)
			if diff := cmp.Diff(tt.want, distribution(in)); diff != "" {
				t.Errorf("distribution (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.in, in); diff != "" {
				t.Errorf("distribution changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// counts are the tallies of a result that do not depend on time.
type counts struct {
	N, Fired, Missing, Duplicates, FailedAttempts, Stray, WithinTarget, Notified, NotifyDupes int
	OK                                                                                        bool
}

func countsOf(r *result) counts {
	return counts{
		N: r.n, Fired: r.fired, Missing: r.missing, Duplicates: r.duplicates, FailedAttempts: r.failedAttempts,
		Stray: r.stray, WithinTarget: r.withinTarget, Notified: r.notified, NotifyDupes: r.notifyDupes, OK: r.ok(),
	}
}

func TestSummarizeTalliesFires(t *testing.T) {
	t.Parallel()
	first := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return first.Add(d) }
	reminders := []reminder{
		{id: "once", token: "t1", fireAt: first},
		{id: "twice", token: "t2", fireAt: first},
		{id: "retried", token: "t3", fireAt: first},
		{id: "late", token: "t4", fireAt: first},
		{id: "missing", token: "t5", fireAt: first},
	}
	rec := newRecorder()
	ok := func(id, token string, start time.Duration) {
		rec.record(id, call{token: token, start: at(start), end: at(start + time.Millisecond)})
	}
	ok("once", "t1", 100*time.Millisecond)
	ok("twice", "t2", 200*time.Millisecond)
	ok("twice", "t2", 300*time.Millisecond)
	rec.record("retried", call{token: "t3", start: at(50 * time.Millisecond), err: errors.New("not committed yet")})
	ok("retried", "t3", 1050*time.Millisecond)
	ok("late", "t4", 3*time.Second)
	ok("missing", "old-token", 10*time.Millisecond) // a stale schedule's fire
	for _, id := range []string{"once", "twice", "retried", "late", "late"} {
		rec.notify(id, at(4*time.Second))
	}

	r := &result{firstDue: first, cfg: config{window: time.Second}}
	r.summarize(reminders, rec)

	want := counts{
		N: 5, Fired: 4, Missing: 1, Duplicates: 1, FailedAttempts: 1, Stray: 1,
		WithinTarget: 3, Notified: 4, NotifyDupes: 1, OK: false,
	}
	if diff := cmp.Diff(want, countsOf(r)); diff != "" {
		t.Errorf("tallies (-want +got):\n%s", diff)
	}
	// Lateness is the first successful fire's start: 100 ms, 200 ms,
	// 1050 ms, 3 s, never.
	wantFire := summary{P50: 1050 * time.Millisecond, P95: never, P99: never, Max: never, Min: 100 * time.Millisecond}
	if diff := cmp.Diff(wantFire, r.fire); diff != "" {
		t.Errorf("fire lateness (-want +got):\n%s", diff)
	}
}

func TestSummarizeAllFiredOnceIsOK(t *testing.T) {
	t.Parallel()
	first := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	reminders := []reminder{{id: "a", token: "ta", fireAt: first}, {id: "b", token: "tb", fireAt: first.Add(time.Second)}}
	rec := newRecorder()
	for _, rem := range reminders {
		rec.record(rem.id, call{token: rem.token, start: rem.fireAt.Add(10 * time.Millisecond)})
		rec.notify(rem.id, rem.fireAt.Add(11*time.Millisecond))
	}
	r := &result{firstDue: first}
	r.summarize(reminders, rec)
	want := counts{N: 2, Fired: 2, WithinTarget: 2, Notified: 2, OK: true}
	if diff := cmp.Diff(want, countsOf(r)); diff != "" {
		t.Errorf("tallies (-want +got):\n%s", diff)
	}
}

func TestByDueWindow(t *testing.T) {
	t.Parallel()
	first := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := time.Millisecond
	reminders := []reminder{
		{fireAt: first}, {fireAt: first.Add(4900 * ms)}, // window 0
		{fireAt: first.Add(12 * time.Second)}, // window 2; window 1 is empty
	}
	lateness := []time.Duration{10 * ms, 30 * ms, never}
	got := byDueWindow(reminders, lateness, first, 5*time.Second)
	want := []window{
		{offset: 0, reminders: 2, fired: 2, p50: 10 * ms, worst: 30 * ms},
		{offset: 10 * time.Second, reminders: 1, fired: 0, p50: never, worst: never},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(window{})); diff != "" {
		t.Errorf("byDueWindow (-want +got):\n%s", diff)
	}
	if got := byDueWindow(reminders, lateness, first, 0); got != nil {
		t.Errorf("byDueWindow with no width = %v, want none", got)
	}
}

func TestWaitFiredReturnsOnceEnoughFired(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	fire := rec.wrap(func(context.Context, string, string) error { return nil })
	failing := rec.wrap(func(context.Context, string, string) error { return errors.New("down") })
	if err := failing(t.Context(), "a", "ta"); err == nil {
		t.Fatal("the wrapped fire hid its error")
	}
	_ = fire(t.Context(), "a", "ta")
	_ = fire(t.Context(), "a", "ta") // a repeat is not a second reminder
	_ = fire(t.Context(), "b", "tb")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if !rec.waitFired(ctx, 2) {
		t.Fatal("waitFired(2) = false after two reminders fired")
	}
	short, cancelShort := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancelShort()
	if rec.waitFired(short, 3) {
		t.Fatal("waitFired(3) = true after two reminders fired")
	}
}

func TestPassLoggerNotesRiverPasses(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	var out strings.Builder
	log := slog.New(passLogger{next: slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}), r: rec})
	log.Info("maintenance.JobScheduler"+ranMessage, slog.Int("num_jobs_scheduled", 834))
	log.Info("something else", slog.Int("num_jobs_scheduled", 1))
	log.Warn("a warning")

	_, _, _, passes := rec.snapshot()
	got := make([]int64, len(passes))
	for i, p := range passes {
		got[i] = p.jobs
	}
	if diff := cmp.Diff([]int64{834}, got); diff != "" {
		t.Errorf("passes noted (-want +got):\n%s", diff)
	}
	if s := out.String(); strings.Contains(s, "Ran successfully") || !strings.Contains(s, "a warning") {
		t.Errorf("log at warn = %q, want the warning only", s)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-store", "mysql"}, "-store must be"},
		{[]string{"-n", "0"}, "-n must be positive"},
		{[]string{"-spread", "-1s"}, "must not be negative"},
		{[]string{"-timeout", "0"}, "-timeout must be positive"},
		{[]string{"-writers", "0"}, "-writers must be positive"},
		{[]string{"-analyze"}, "postgres only"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		got, err := parseFlags(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := config{store: "sqlite", databaseURL: defaultDatabaseURL, n: 10_000, spread: time.Minute, lead: 10 * time.Second,
			timeout: 10 * time.Minute, grace: 2 * time.Minute, settle: 3 * time.Second, window: 5 * time.Second,
			writers: 8, logLevel: "warn"}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(config{})); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
}

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	if code := run(t.Context(), []string{"-n", "-3"}, io.Discard, io.Discard); code != exitSetup {
		t.Errorf("run with -n -3 = exit %d, want %d", code, exitSetup)
	}
}
