package river

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/pgtest"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	pgtest.URL(t) // skip (or fail under CI) once, not per case
	runSuite(t, func(t *testing.T) opener {
		conn := freshSchema(t)
		return func(t *testing.T, fire FireFunc) *Scheduler {
			t.Helper()
			s, err := openPostgres(t, conn, fire)
			if err != nil {
				t.Fatalf("NewPostgres: %v", err)
			}
			return s
		}
	})

	t.Run("ExactlyOnceAcrossNodes", func(t *testing.T) {
		t.Parallel()
		conn := freshSchema(t)
		rec := newRecorder()
		// Two nodes, opened together as replicas start: they take turns
		// migrating.
		nodes := make([]*Scheduler, 2)
		errs := make([]error, len(nodes))
		fired := make([]atomic.Int32, len(nodes)) // by node, for the log
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() {
				nodes[i], errs[i] = openPostgres(t, conn, func(ctx context.Context, reminderID, token string) error {
					fired[i].Add(1)
					return rec.fire(ctx, reminderID, token)
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("NewPostgres: %v", err)
			}
		}
		stops := make([]func(), len(nodes))
		for i, n := range nodes {
			stops[i] = start(t, n)
		}
		at := time.Now()
		for i, sch := range burstSchedules() {
			if err := nodes[i%len(nodes)].Schedule(t.Context(), sch.ReminderID, sch.Token, at); err != nil {
				t.Fatalf("Schedule(%v): %v", sch, err)
			}
		}
		got := collect(t, rec.calls, burst, 30*time.Second)
		for _, stop := range stops {
			stop()
		}
		noMore(t, rec.calls)
		checkBurst(t, got, at, at)
		t.Logf("fired by node: %d, %d", fired[0].Load(), fired[1].Load())
	})
}

// openPostgres opens a Scheduler on conn, closed when the test ends if no
// Run closed it. It is safe to call from any goroutine.
func openPostgres(t *testing.T, conn string, fire FireFunc) (*Scheduler, error) {
	s, err := NewPostgres(context.Background(), conn, fire, testOptions(t))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

// freshSchema creates an empty schema for one test, dropped when it ends,
// and returns the URL of the test server pointed at it, so that River keeps
// its tables there. Each node's pool is kept small: the cases run in
// parallel, with other packages' tests, within the server's max_connections.
func freshSchema(t testing.TB) string {
	t.Helper()
	conn, _ := pgtest.FreshSchema(t, "nk_test_river_", 4)
	return conn
}
