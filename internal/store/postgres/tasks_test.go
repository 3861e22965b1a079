package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// waitForLockWait returns once a connection of the store in schema waits
// for a lock, and fails the test after a deadline.
func waitForLockWait(t *testing.T, s *Store, schema string) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var waiting bool
		err := s.pool.QueryRow(t.Context(), `
			SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock')`,
			schema).Scan(&waiting)
		if err != nil {
			return err
		}
		if waiting {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("no transaction came to wait for the lock")
		}
		<-tick.C
	}
}

func TestTxLocksWaitForTheHolderAndSeeItsWrites(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Microsecond)
	task := domain.Task{ID: "task-1", Title: "t", DueAt: &now, Remind: domain.RemindAtDue, WatcherIDs: []string{"ann"}, CreatedAt: now, UpdatedAt: now}
	reminder := domain.Reminder{ID: "rem-1", TaskID: task.ID, FireAt: now, State: domain.ReminderScheduled, Token: "tok", CreatedAt: now}

	// The holder locks a row and changes it; a second transaction reading
	// the row through Tx waits for the holder to commit and then sees all
	// it wrote, the task's watchers included.
	tests := []struct {
		name  string
		write func(ctx context.Context, tx app.Tx) error
		read  func(ctx context.Context, tx app.Tx) (any, error)
		want  any
	}{
		{
			"task",
			func(ctx context.Context, tx app.Tx) error {
				if _, err := tx.Task(ctx, task.ID); err != nil {
					return err
				}
				changed := task
				changed.Title, changed.WatcherIDs = "changed", []string{"bob", "cid"}
				return tx.PutTask(ctx, changed)
			},
			func(ctx context.Context, tx app.Tx) (any, error) { return tx.Task(ctx, task.ID) },
			domain.Task{ID: task.ID, Title: "changed", DueAt: &now, Remind: domain.RemindAtDue, WatcherIDs: []string{"bob", "cid"}, CreatedAt: now, UpdatedAt: now},
		},
		{
			"reminder",
			func(ctx context.Context, tx app.Tx) error {
				r, err := tx.Reminder(ctx, reminder.ID)
				if err != nil {
					return err
				}
				r.State, r.FiredAt = domain.ReminderFired, &now
				return tx.PutReminder(ctx, r)
			},
			func(ctx context.Context, tx app.Tx) (any, error) { return tx.Reminder(ctx, reminder.ID) },
			domain.Reminder{ID: reminder.ID, TaskID: task.ID, FireAt: now, State: domain.ReminderFired, Token: "tok", FiredAt: &now, CreatedAt: now},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, schema := freshSchema(t)
			s := openAt(t, conn)
			if err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
				if err := tx.PutTask(ctx, task); err != nil {
					return err
				}
				return tx.PutReminder(ctx, reminder)
			}); err != nil {
				t.Fatalf("Update: %v", err)
			}

			locked := make(chan struct{})
			// The reader starts once the holder has the lock, or has failed.
			startReader := sync.OnceFunc(func() { close(locked) })
			readDone := make(chan error, 1)
			var got any
			go func() {
				<-locked
				readDone <- s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
					var err error
					got, err = tc.read(ctx, tx)
					return err
				})
			}()
			err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
				if err := tc.write(ctx, tx); err != nil {
					return err
				}
				startReader()
				return waitForLockWait(t, s, schema)
			})
			startReader()
			readErr := <-readDone
			if err != nil {
				t.Fatalf("holder: %v", err)
			}
			if readErr != nil {
				t.Fatalf("reader: %v", readErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("read after the holder committed (-want +got):\n%s", diff)
			}
		})
	}
}
