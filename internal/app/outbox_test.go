package app_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

// fakeOutbox stands in for a shared store's outbox: the SQLite store has
// none, and the PostgreSQL one is exercised by the multi-node tests. It
// relays what the test puts in orphaned and reports marked keys.
type fakeOutbox struct {
	mu       sync.Mutex
	orphaned []domain.Event
	marked   chan app.EventKey
}

func newFakeOutbox() *fakeOutbox { return &fakeOutbox{marked: make(chan app.EventKey, 100)} }

func (o *fakeOutbox) MarkPublished(_ context.Context, keys []app.EventKey) error {
	for _, k := range keys {
		o.marked <- k
	}
	return nil
}

func (o *fakeOutbox) RelayUnpublished(ctx context.Context, _ time.Duration, _ int, publish func(context.Context, []domain.Event) error) (int, error) {
	o.mu.Lock()
	events := o.orphaned
	o.orphaned = nil
	o.mu.Unlock()
	if len(events) == 0 {
		return 0, nil
	}
	if err := publish(ctx, events); err != nil {
		o.mu.Lock()
		o.orphaned = append(events, o.orphaned...)
		o.mu.Unlock()
		return 0, err
	}
	return len(events), nil
}

func runOutbox(t *testing.T, svc *app.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.RunOutbox(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunOutbox: %v", err)
		}
	})
}

func TestOutboxMarksPublishedEvents(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	outbox := newFakeOutbox()
	svc.WithOutbox(outbox)
	runOutbox(t, svc)
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	// Creating the room published two MEMBER_JOINED events.
	for range 2 {
		recv(t, outbox.marked, waitFor)
	}
	msg := sendMessage(t, svc, alice, room.ID, "hello")
	if got := recv(t, outbox.marked, waitFor); got != (app.EventKey{RoomID: room.ID, Seq: msg.Seq}) {
		t.Fatalf("marked %+v, want the message's event %s/%d", got, room.ID, msg.Seq)
	}
}

// TestOutboxRelaysOrphanedEvents: an event committed by a node that died
// before publishing reaches subscribers through the relay, even when it is
// the room's last event, which no later event would reveal.
func TestOutboxRelaysOrphanedEvents(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker})
	outbox := newFakeOutbox()
	svc.WithOutbox(outbox)
	runOutbox(t, svc)
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)
	events, _ := stream(t, roomEvents(svc, bob, room.ID, nil))

	broker.dropSeqs(start + 1) // the publish after commit never happens
	sendMessage(t, svc, alice, room.ID, "orphan")
	orphan, err := store.Events(t.Context(), room.ID, start, 1)
	if err != nil || len(orphan) != 1 {
		t.Fatalf("read the orphaned event: %v %v", orphan, err)
	}
	broker.dropSeqs()
	outbox.mu.Lock()
	outbox.orphaned = orphan
	outbox.mu.Unlock()

	e := recv(t, events, waitFor)
	if e.Seq != start+1 || e.Message == nil || e.Message.Text != "orphan" {
		t.Fatalf("got seq %d %+v, want the orphaned message at seq %d", e.Seq, e.Message, start+1)
	}
}

// flakyStore fails reads of events as an unreachable database does.
type flakyStore struct {
	app.Store
	mu    sync.Mutex
	fails int
}

func (s *flakyStore) Events(ctx context.Context, roomID string, after int64, limit int) ([]domain.Event, error) {
	s.mu.Lock()
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		return nil, domain.Errorf(domain.ErrUnavailable, "database unavailable")
	}
	s.mu.Unlock()
	return s.Store.Events(ctx, roomID, after, limit)
}

// TestStreamsOutliveStoreOutages: a stream whose catch-up finds the store
// unavailable waits and retries instead of ending.
func TestStreamsOutliveStoreOutages(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)
	for _, text := range []string{"one", "two"} {
		sendMessage(t, svc, alice, room.ID, text)
	}
	flaky := &flakyStore{Store: store, fails: 3}
	quiet := slog.New(slog.DiscardHandler)
	hub := realtime.NewHub(memory.New(), realtime.HubOptions{Logger: quiet})
	svc2 := app.New(flaky, hub, presencememory.New(), clock.NewFake(t0), ulids.New(), quiet, app.Config{})
	after := app.EventCursor(room.ID, start)
	events, ended := stream(t, roomEvents(svc2, bob, room.ID, &after))
	for _, want := range []string{"one", "two"} {
		if e := recv(t, events, waitFor); e.Message == nil || e.Message.Text != want {
			t.Fatalf("got %+v, want %q", e.Message, want)
		}
	}
	select {
	case err := <-ended:
		t.Fatalf("stream ended during the outage: %v", err)
	default:
	}
}
