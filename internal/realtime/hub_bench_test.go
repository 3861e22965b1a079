package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

// benchEvent is a MESSAGE_SENT event as the app publishes it: with its message,
// so the hub encodes and decodes a payload of realistic size.
func benchEvent(seq int64) realtime.Envelope {
	at := time.Date(2026, time.November, 27, 7, 0, 0, 0, time.UTC)
	msg := &domain.Message{
		ID: "01JQZ8Y3V0000000000000000A", RoomID: "01JQZ8Y3V0000000000000000R", AuthorID: "ann",
		Text: "a message of ordinary length, about as long as people write in a chat", Seq: seq, CreatedAt: at,
	}
	return realtime.Envelope{Event: &domain.Event{
		RoomID: msg.RoomID, Seq: seq, Type: domain.EventMessageSent, At: at, ActorID: "ann", MessageID: msg.ID, Message: msg,
	}}
}

// receivers consumes subscriptions the way a transport does, one goroutine
// per subscription, and counts down the envelopes still expected in the
// current round; the receiver that takes the count to zero signals done.
type receivers struct {
	remaining atomic.Int64
	done      chan struct{}
	wg        sync.WaitGroup
	hang      *time.Timer // reused, so that waiting allocates nothing per round
}

// start runs a receiver for s. It returns when s is closed.
func (r *receivers) start(s *realtime.Subscription) {
	r.wg.Go(func() {
		for {
			if _, ok := s.Receive(context.Background()); !ok {
				return
			}
			if r.remaining.Add(-1) == 0 {
				r.done <- struct{}{}
			}
		}
	})
}

// await blocks until the round's last envelope has been received; the
// timeout is a hang guard (a subscription ended as a slow consumer would
// never count down).
func (r *receivers) await(b *testing.B) {
	r.hang.Reset(waitFor)
	select {
	case <-r.done:
	case <-r.hang.C:
		b.Fatalf("%d envelopes not received within %v", r.remaining.Load(), waitFor)
	}
}

// benchHub returns a hub over the in-process broker with n subscriptions,
// each to the topic topic(i) and each drained by its own goroutine. Cleanup
// closes the subscriptions and waits for the goroutines.
func benchHub(b *testing.B, n int, topic func(i int) string) (*realtime.Hub, *receivers) {
	b.Helper()
	h := realtime.NewHub(memory.New(), realtime.HubOptions{})
	r := &receivers{done: make(chan struct{}, 1), hang: time.NewTimer(waitFor)}
	subs := make([]*realtime.Subscription, 0, n)
	b.Cleanup(func() {
		r.hang.Stop()
		for _, s := range subs {
			s.Close()
		}
		r.wg.Wait()
	})
	for i := range n {
		s, err := h.Subscribe(b.Context(), topic(i))
		if err != nil {
			b.Fatalf("Subscribe %d: %v", i, err)
		}
		subs = append(subs, s)
		r.start(s)
	}
	return h, r
}

// BenchmarkHubFanOut measures one event published on a topic with n local
// subscribers, from Publish until every subscriber's goroutine has received
// it: encoding once, the in-process broker, decoding once and n queue
// handoffs. One op is one event to all n.
func BenchmarkHubFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			const topic = "room:bench"
			h, r := benchHub(b, n, func(int) string { return topic })
			b.ReportAllocs()
			for i := int64(1); b.Loop(); i++ {
				r.remaining.Store(int64(n))
				if err := h.Publish(b.Context(), topic, benchEvent(i)); err != nil {
					b.Fatalf("Publish: %v", err)
				}
				r.await(b)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkHubManyTopics measures one event published on one of n topics,
// each with a single subscriber (n one-to-one chats), until that subscriber
// has received it. The topics take turns, so the hub's map holds n live
// topics and each publish finds a different one.
func BenchmarkHubManyTopics(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			topics := make([]string, n)
			for i := range topics {
				topics[i] = realtime.RoomTopic(fmt.Sprintf("room-%05d", i))
			}
			h, r := benchHub(b, n, func(i int) string { return topics[i] })
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.remaining.Store(1)
				if err := h.Publish(b.Context(), topics[i%n], benchEvent(int64(i+1))); err != nil {
					b.Fatalf("Publish: %v", err)
				}
				r.await(b)
			}
		})
	}
}
