package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// outboxStore is a Store with an outbox, as the stores that several nodes
// share are.
type outboxStore interface {
	app.Store
	app.Outbox
}

// outboxTest is one case of the outbox suite, run on a store of its own.
type outboxTest struct {
	name string
	run  func(t *testing.T, s outboxStore)
}

// RunOutbox runs the contract suite of app.Outbox, for the stores that
// implement it. open must return a new, empty, migrated store each time it
// is called, and close it with t.Cleanup. Every case runs in parallel with
// the others on a store of its own.
func RunOutbox(t *testing.T, open func(t *testing.T) interface {
	app.Store
	app.Outbox
}) {
	tests := []outboxTest{
		{"Outbox/AppendedEventsArePendingInRoomSeqOrder", testOutboxPending},
		{"Outbox/MarkPublishedRemovesOnlyThoseKeys", testOutboxMarkPublished},
		{"Outbox/YoungerThanMinAgeWaits", testOutboxMinAge},
		{"Outbox/FailedPublishLeavesThemPending", testOutboxFailedPublish},
		{"Outbox/ConcurrentRelaysClaimDisjointEvents", testOutboxConcurrentRelays},
		{"Outbox/RolledBackEventsNeverAppear", testOutboxRollback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// errPeek makes a publish fail on purpose, so that RelayUnpublished shows
// what is pending without marking it published.
var errPeek = errors.New("peek only")

// pending returns the events RelayUnpublished would publish now, leaving
// them pending.
func pending(t *testing.T, s outboxStore) []domain.Event {
	t.Helper()
	var got []domain.Event
	n, err := s.RelayUnpublished(t.Context(), 0, 1000, func(_ context.Context, events []domain.Event) error {
		got = append(got, events...)
		return errPeek
	})
	if len(got) == 0 {
		if err != nil || n != 0 {
			t.Fatalf("RelayUnpublished with nothing pending = %d, %v; want 0, nil", n, err)
		}
		return nil
	}
	if !errors.Is(err, errPeek) || n != 0 {
		t.Fatalf("RelayUnpublished with a failing publish = %d, %v; want 0 and the publish error", n, err)
	}
	return got
}

// relay publishes every pending event and returns them.
func relay(t *testing.T, s outboxStore) []domain.Event {
	t.Helper()
	var got []domain.Event
	n, err := s.RelayUnpublished(t.Context(), 0, 1000, func(_ context.Context, events []domain.Event) error {
		got = append(got, events...)
		return nil
	})
	if err != nil {
		t.Fatalf("RelayUnpublished: %v", err)
	}
	if n != len(got) {
		t.Errorf("RelayUnpublished returned %d, but published %d events", n, len(got))
	}
	return got
}

// eventsOf returns every event of the rooms, as Events reads them, in
// (RoomID, Seq) order.
func eventsOf(t *testing.T, s outboxStore, rooms ...domain.Room) []domain.Event {
	t.Helper()
	var all []domain.Event
	for _, r := range rooms {
		events, err := s.Events(t.Context(), r.ID, 0, 1000)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		all = append(all, events...)
	}
	slices.SortFunc(all, compareEvents)
	return all
}

func compareEvents(a, b domain.Event) int {
	return cmp.Or(cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.Seq, b.Seq))
}

// keyOf returns the key of an event.
func keyOf(e domain.Event) app.EventKey { return app.EventKey{RoomID: e.RoomID, Seq: e.Seq} }

// appendUpdates appends n ROOM_UPDATED events to the room, one per Update.
func appendUpdates(t *testing.T, s app.Store, roomID string, n int) {
	t.Helper()
	for i := range n {
		update(t, s, func(ctx context.Context, tx app.Tx) error {
			if _, err := tx.Room(ctx, roomID); err != nil {
				return err
			}
			_, err := tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventRoomUpdated, At: at(i)})
			return err
		})
	}
}

func testOutboxPending(t *testing.T, s outboxStore) {
	// Two rooms written in turns: the relay orders by room first.
	first, second := newRoom(domain.KindPrivateGroup, "first", t0), newRoom(domain.KindPrivateGroup, "second", t0)
	insertRooms(t, s, first, second)
	m := send(t, s, second.ID, "ann", "helo", at(1))
	send(t, s, first.ID, "bob", "hi", at(2))
	join(t, s, first.ID, "cid", domain.RoleMember, at(3))
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, first.ID); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, domain.Event{RoomID: first.ID, Type: domain.EventMemberJoined, At: at(3), ActorID: "cid", MemberID: "cid", Role: domain.RoleMember})
		return err
	})
	send(t, s, second.ID, "ann", "still there?", at(4))
	// An edit after the send: the relayed event carries the message as it is
	// now, as Events does.
	m.Text, m.EditedAt = "hello", new(at(5))
	update(t, s, func(ctx context.Context, tx app.Tx) error { return tx.UpdateMessage(ctx, m) })

	want := eventsOf(t, s, first, second)
	if len(want) != 4 {
		t.Fatalf("the rooms have %d events, want 4", len(want))
	}
	checkEqual(t, "pending events", pending(t, s), want)
	// A failed publish leaves them pending: they are pending still.
	checkEqual(t, "pending events after a peek", pending(t, s), want)

	checkEqual(t, "relayed events", relay(t, s), want)
	checkEqual(t, "pending events after the relay", pending(t, s), []domain.Event{})
}

func testOutboxMarkPublished(t *testing.T, s outboxStore) {
	r, other := newRoom(domain.KindPublicGroup, "crew", t0), newRoom(domain.KindPublicGroup, "other", t0)
	insertRooms(t, s, r, other)
	appendUpdates(t, s, r.ID, 3)
	appendUpdates(t, s, other.ID, 1)
	all := eventsOf(t, s, r, other)

	if err := s.MarkPublished(t.Context(), nil); err != nil {
		t.Fatalf("MarkPublished of no key: %v", err)
	}
	// Keys that are not pending (a seq not appended yet, a missing room) are
	// ignored.
	keys := []app.EventKey{{RoomID: r.ID, Seq: 1}, {RoomID: r.ID, Seq: 3}, {RoomID: r.ID, Seq: 99}, {RoomID: "no-such-room", Seq: 1}}
	if err := s.MarkPublished(t.Context(), keys); err != nil {
		t.Fatalf("MarkPublished: %v", err)
	}
	var want []domain.Event
	for _, e := range all {
		if e.RoomID != r.ID || e.Seq == 2 {
			want = append(want, e)
		}
	}
	checkEqual(t, "pending after MarkPublished", pending(t, s), want)

	// Marking the same keys again changes nothing.
	if err := s.MarkPublished(t.Context(), keys); err != nil {
		t.Fatalf("MarkPublished again: %v", err)
	}
	checkEqual(t, "pending after MarkPublished again", pending(t, s), want)

	keys = keys[:0]
	for _, e := range want {
		keys = append(keys, keyOf(e))
	}
	if err := s.MarkPublished(t.Context(), keys); err != nil {
		t.Fatalf("MarkPublished of the rest: %v", err)
	}
	checkEqual(t, "pending after marking every event", pending(t, s), []domain.Event{})
}

func testOutboxMinAge(t *testing.T, s outboxStore) {
	r := newRoom(domain.KindPublicGroup, "crew", t0)
	insertRooms(t, s, r)
	appendUpdates(t, s, r.ID, 2)

	// Just appended: far younger than an hour, whatever the event's own At.
	n, err := s.RelayUnpublished(t.Context(), time.Hour, 10, func(context.Context, []domain.Event) error {
		t.Error("publish called for events younger than minAge")
		return nil
	})
	if n != 0 || err != nil {
		t.Errorf("RelayUnpublished with minAge of an hour = %d, %v; want 0, nil", n, err)
	}
	checkEqual(t, "relayed without minAge", relay(t, s), eventsOf(t, s, r))
}

func testOutboxFailedPublish(t *testing.T, s outboxStore) {
	r := newRoom(domain.KindPublicGroup, "crew", t0)
	insertRooms(t, s, r)
	send(t, s, r.ID, "ann", "hello", at(1))
	appendUpdates(t, s, r.ID, 2)
	want := eventsOf(t, s, r)

	errBroker := errors.New("broker down")
	calls := 0
	n, err := s.RelayUnpublished(t.Context(), 0, 10, func(_ context.Context, events []domain.Event) error {
		calls++
		checkEqual(t, "events given to the failing publish", events, want)
		return fmt.Errorf("publish: %w", errBroker)
	})
	if !errors.Is(err, errBroker) || n != 0 {
		t.Errorf("RelayUnpublished with a failing publish = %d, %v; want 0 and the publish error", n, err)
	}
	if calls != 1 {
		t.Errorf("publish called %d times, want 1", calls)
	}
	checkEqual(t, "relayed after the failure", relay(t, s), want)
}

func testOutboxConcurrentRelays(t *testing.T, s outboxStore) {
	const perRelay = 5
	r, other := newRoom(domain.KindPublicGroup, "crew", t0), newRoom(domain.KindPublicGroup, "other", t0)
	insertRooms(t, s, r, other)
	appendUpdates(t, s, r.ID, perRelay)
	appendUpdates(t, s, other.ID, perRelay)
	want := eventsOf(t, s, r, other)

	// Each relay claims perRelay events, then waits in publish until the other
	// has claimed its own: a relay that waited for the first one's claim
	// instead of skipping it, or that claimed the same events, shows.
	var (
		mu        sync.Mutex
		published []domain.Event
		claimed   = make(chan struct{}, 2)
		both      = make(chan struct{})
		wg        sync.WaitGroup
		counts    [2]int
		errs      [2]error
	)
	publish := func(ctx context.Context, events []domain.Event) error {
		mu.Lock()
		published = append(published, events...)
		mu.Unlock()
		claimed <- struct{}{}
		select {
		case <-both:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range 2 {
		wg.Go(func() {
			counts[i], errs[i] = s.RelayUnpublished(t.Context(), 0, perRelay, publish)
		})
	}
	deadline := time.After(10 * time.Second)
	for range 2 {
		select {
		case <-claimed:
		case <-deadline:
			t.Error("the second relay did not claim events while the first held its claim")
		}
	}
	close(both)
	wg.Wait()

	for i := range 2 {
		if errs[i] != nil || counts[i] != perRelay {
			t.Errorf("relay %d = %d, %v; want %d, nil", i, counts[i], errs[i], perRelay)
		}
	}
	slices.SortFunc(published, compareEvents)
	checkEqual(t, "events published by both relays, each once", published, want)
	checkEqual(t, "pending after both relays", pending(t, s), []domain.Event{})
}

func testOutboxRollback(t *testing.T, s outboxStore) {
	r := newRoom(domain.KindPublicGroup, "crew", t0)
	insertRooms(t, s, r)
	errStop := errors.New("stop")
	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, r.ID); err != nil {
			return err
		}
		if _, err := tx.AppendEvent(ctx, domain.Event{RoomID: r.ID, Type: domain.EventRoomUpdated, At: at(1)}); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	checkEqual(t, "pending after a rolled back append", pending(t, s), []domain.Event{})

	// The seq the rolled back event had is the next committed event's.
	appendUpdates(t, s, r.ID, 1)
	got := relay(t, s)
	want := []domain.Event{storedEvent(domain.Event{RoomID: r.ID, Seq: 1, Type: domain.EventRoomUpdated, At: at(0)})}
	checkEqual(t, "relayed after a commit", got, want)
}
