package workpool_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait of a test.
const waitFor = 5 * time.Second

// TestPoolRunsEveryFunction: functions handed to the pool all run, also
// many at once, and a nil pool runs them too.
func TestPoolRunsEveryFunction(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool *workpool.Pool
	}{{"pool", workpool.New(20 * time.Millisecond)}, {"nil", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 1000
			var wg sync.WaitGroup
			var mu sync.Mutex
			ran := map[int]bool{}
			for i := range n {
				wg.Add(1)
				tc.pool.Go(func() {
					defer wg.Done()
					mu.Lock()
					ran[i] = true
					mu.Unlock()
				})
			}
			wg.Wait()
			if len(ran) != n {
				t.Errorf("%d of %d functions ran", len(ran), n)
			}
		})
	}
}

// TestPoolReusesAWaitingGoroutine: a function handed over while a goroutine
// of the pool waits runs on that goroutine, and a goroutine ends once it has
// waited its linger in vain.
func TestPoolReusesAWaitingGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	p := workpool.New(200 * time.Millisecond)
	ids := make(chan string, 1)
	probe := func() { ids <- goroutineID() }
	p.Go(probe)
	first := <-ids
	reused := false
	for range 50 {
		time.Sleep(5 * time.Millisecond) // let the goroutine reach its wait
		p.Go(probe)
		if <-ids == first {
			reused = true
			break
		}
	}
	if !reused {
		t.Errorf("no later function ran on goroutine %s, which was waiting for one", first)
	}

	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("idle goroutines did not end after their linger: %d goroutines, %d before", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutineID returns the calling goroutine's number, from its stack trace.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}
