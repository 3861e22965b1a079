package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// BenchmarkFollowerFanOut times one message from SendMessage until each of
// N roomEvents streams of its room has handed it to its consumer: the store
// write, the hub's dispatch, and the followers' workers. pool=on reuses the
// workers' goroutines as the server does; pool=off starts one per delivery.
func BenchmarkFollowerFanOut(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		for _, pooled := range []bool{true, false} {
			name := fmt.Sprintf("subscribers=%d/pool=%s", n, map[bool]string{true: "on", false: "off"}[pooled])
			b.Run(name, func(b *testing.B) {
				cfg := app.Config{}
				if pooled {
					cfg.Workers = workpool.New(time.Second)
				}
				svc, _, _ := newFixture(b, fixtureOptions{Config: cfg})
				room := createRoom(b, svc, alice, domain.KindPublicGroup, "Bench")

				var delivered atomic.Int64
				all := make(chan struct{}, 1)
				var want atomic.Int64
				deliver := func(ctx context.Context, e *domain.Event, committed time.Time, abort <-chan struct{}) bool {
					if delivered.Add(1) == want.Load() {
						all <- struct{}{}
					}
					return true
				}
				ctx, cancel := context.WithCancel(b.Context())
				ended := make(chan struct{}, n)
				b.Cleanup(func() {
					cancel()
					for range n {
						<-ended
					}
				})
				for range n {
					if err := svc.FollowRoomEvents(ctx, bob, room.ID, nil, deliver, func(error) { ended <- struct{}{} }); err != nil {
						b.Fatal(err)
					}
				}

				b.ResetTimer()
				for b.Loop() {
					want.Store(delivered.Load() + int64(n))
					sendMessage(b, svc, alice, room.ID, "bench")
					select {
					case <-all:
					case <-time.After(time.Minute):
						b.Fatalf("%d of %d deliveries", delivered.Load()-want.Load()+int64(n), n)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			})
		}
	}
}
