package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/pgtest"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/scheduler/river"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// A run starts River, the store's pools and a subscription reader; all of
// them must have stopped when it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestMeasureFiresEveryReminderOnce runs the command's whole path on each
// store with a small burst, and checks what the report counts, never how
// late: every reminder fires once, reaches the live subscriber once and is
// FIRED in the store.
func TestMeasureFiresEveryReminderOnce(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			cfg, err := parseFlags([]string{"-store", store, "-n", "25", "-spread", "0", "-lead", "2s",
				"-settle", "500ms", "-timeout", "2m", "-grace", "1m"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if store == "postgres" {
				cfg.databaseURL = pgtest.URL(t)
			}
			res, err := measure(t.Context(), cfg, io.Discard)
			if err != nil {
				t.Fatalf("measure: %v", err)
			}
			got := countsOf(res)
			// Timing-dependent tallies are not the test's business.
			got.FailedAttempts, got.WithinTarget = 0, 0
			want := counts{N: 25, Fired: 25, Notified: 25, OK: true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tallies (-want +got):\n%s", diff)
			}
			if res.storeFired != 25 || res.storeErr != nil {
				t.Errorf("FIRED in the store: %d (%v), want 25", res.storeFired, res.storeErr)
			}
			if !res.complete || res.timedOut {
				t.Errorf("complete = %t, timed out = %t; want a complete run", res.complete, res.timedOut)
			}
		})
	}
}

// BenchmarkFireReminder is the use case's own cost per fire, without the
// scheduler: FireReminder called one at a time on reminders River holds but
// does not run.
func BenchmarkFireReminder(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			cfg := config{store: store}
			if store == "postgres" {
				cfg.databaseURL = pgtest.URL(b)
			}
			ctx := b.Context()
			db, err := openDatabase(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.close(context.Background()) })
			log := slog.New(slog.DiscardHandler)
			svc := app.New(db.store, realtime.NewHub(memory.New(), realtime.HubOptions{Logger: log}),
				presencememory.New(), clock.System{}, ulids.New(), log, app.Config{})
			sched, err := db.openScheduler(ctx, svc.FireReminder, river.Options{Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = sched.Close() }) // before the database: cleanups run last first
			svc.WithScheduler(sched)
			if err := svc.EnsureMember(ctx, member, ""); err != nil {
				b.Fatal(err)
			}
			due := time.Now().Add(time.Hour)
			reminders := make([]reminder, b.N)
			for i := range reminders {
				taskID := "bench-fire-" + ulids.New().New()
				if _, err := svc.SetTaskDates(ctx, member, app.TaskDates{TaskID: taskID, Title: "t", DueAt: &due, Remind: domain.RemindAtDue}); err != nil {
					b.Fatal(err)
				}
				r, err := svc.LatestReminder(ctx, taskID)
				if err != nil || r == nil {
					b.Fatalf("reminder of %s: %v", taskID, err)
				}
				reminders[i] = reminder{id: r.ID, token: r.Token}
			}
			b.ResetTimer()
			for _, r := range reminders {
				if err := svc.FireReminder(ctx, r.id, r.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
