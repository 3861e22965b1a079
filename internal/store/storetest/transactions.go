package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func transactionTests() []test {
	return []test{
		{"Transactions/ErrorRollsBackEverything", testRollbackOnError},
		{"Transactions/PanicRollsBackAndPanicsOn", testRollbackOnPanic},
		{"Transactions/ReadsSeeOnlyCommittedData", testReadsSeeCommitted},
		{"Transactions/CanceledContext", testCanceledContext},
		{"Transactions/ConcurrentAppendsAreGapFree", testConcurrentAppends},
	}
}

// writeEverything writes one of each kind of row: a new room with a
// membership, a message and an event, and a rename and an event in an
// existing room.
func writeEverything(ctx context.Context, tx app.Tx, existing, fresh domain.Room) error {
	if err := tx.InsertRoom(ctx, fresh); err != nil {
		return err
	}
	if err := tx.PutMembership(ctx, domain.Membership{RoomID: fresh.ID, MemberID: "ann", Role: domain.RoleOwner, JoinedAt: t0}); err != nil {
		return err
	}
	for _, id := range []string{existing.ID, fresh.ID} {
		if _, err := tx.Room(ctx, id); err != nil {
			return err
		}
		if err := tx.InsertMessage(ctx, domain.Message{ID: "msg-" + id, RoomID: id, AuthorID: "ann", Text: "x", ClientMessageID: "c-1", Seq: 1, CreatedAt: at(1)}); err != nil {
			return err
		}
		if _, err := tx.AppendEvent(ctx, domain.Event{RoomID: id, Type: domain.EventMessageSent, At: at(1), ActorID: "ann", MessageID: "msg-" + id}); err != nil {
			return err
		}
	}
	if _, err := tx.MoveReadPointer(ctx, existing.ID, "ann", 1, "msg-"+existing.ID); err != nil {
		return err
	}
	return tx.RenameRoom(ctx, existing.ID, "renamed")
}

// checkNothingWritten fails unless the store is as it was before
// writeEverything.
func checkNothingWritten(t *testing.T, s app.Store, existing, fresh domain.Room, annIn domain.Membership) {
	t.Helper()
	ctx := t.Context()
	got, err := s.Room(ctx, existing.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	checkEqual(t, "existing room", got, storedRoom(existing))
	m, err := s.Membership(ctx, existing.ID, "ann")
	if err != nil {
		t.Fatalf("Membership: %v", err)
	}
	checkEqual(t, "membership in the existing room", m, storedMembership(annIn))
	_, err = s.Room(ctx, fresh.ID)
	checkKind(t, "Room of the rolled back room", err, domain.ErrNotFound)
	_, err = s.Membership(ctx, fresh.ID, "ann")
	checkKind(t, "Membership in the rolled back room", err, domain.ErrNotFound)
	for _, id := range []string{existing.ID, fresh.ID} {
		_, err = s.Message(ctx, "msg-"+id)
		checkKind(t, "Message rolled back", err, domain.ErrNotFound)
		events, err := s.Events(ctx, id, 0, 10)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		checkEqual(t, "Events rolled back", events, []domain.Event{})
	}
	ids, err := s.MemberRoomIDs(ctx, "ann")
	if err != nil {
		t.Fatalf("MemberRoomIDs: %v", err)
	}
	checkEqual(t, "MemberRoomIDs", ids, []string{existing.ID})
}

func testRollbackOnError(t *testing.T, s app.Store) {
	existing, fresh := newRoom(domain.KindPrivateGroup, "crew", t0), newRoom(domain.KindPublicGroup, "new", t0)
	insertRooms(t, s, existing)
	annIn := join(t, s, existing.ID, "ann", domain.RoleOwner, t0)

	errStop := errors.New("stop")
	err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		if err := writeEverything(ctx, tx, existing, fresh); err != nil {
			return err
		}
		return fmt.Errorf("after writing: %w", errStop)
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	checkNothingWritten(t, s, existing, fresh, annIn)
}

func testRollbackOnPanic(t *testing.T, s app.Store) {
	existing, fresh := newRoom(domain.KindPrivateGroup, "crew", t0), newRoom(domain.KindPublicGroup, "new", t0)
	insertRooms(t, s, existing)
	annIn := join(t, s, existing.ID, "ann", domain.RoleOwner, t0)

	type boom struct{}
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			if err := writeEverything(ctx, tx, existing, fresh); err != nil {
				t.Errorf("writeEverything: %v", err)
			}
			panic(boom{})
		})
		return nil
	}()
	if _, ok := recovered.(boom); !ok {
		t.Fatalf("recovered %v from Update, want fn's panic value", recovered)
	}
	checkNothingWritten(t, s, existing, fresh, annIn)

	// The store still works after the panic.
	send(t, s, existing.ID, "ann", "still here", at(5))
}

func testReadsSeeCommitted(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPublicGroup, "pending", t0)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		if err := tx.InsertRoom(ctx, r); err != nil {
			return err
		}
		_, err := s.Room(ctx, r.ID)
		checkKind(t, "Store.Room of a room not committed yet", err, domain.ErrNotFound)
		return nil
	})
	if _, err := s.Room(t.Context(), r.ID); err != nil {
		t.Errorf("Room after commit: %v", err)
	}
}

func testCanceledContext(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPublicGroup, "crew", t0)
	insertRooms(t, s, r)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		return tx.RenameRoom(ctx, r.ID, "renamed")
	})
	checkKind(t, "Update", err, context.Canceled)
	_, err = s.Room(ctx, r.ID)
	checkKind(t, "Room", err, context.Canceled)
	_, err = s.Messages(ctx, r.ID, app.MessagePage{Limit: 10})
	checkKind(t, "Messages", err, context.Canceled)
	_, err = s.EnsureMember(ctx, domain.Member{ID: "ann", CreatedAt: t0})
	checkKind(t, "EnsureMember", err, context.Canceled)

	got, err := s.Room(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if got.Name != "crew" {
		t.Errorf("an Update with a canceled context renamed the room to %q", got.Name)
	}
}

func testConcurrentAppends(t *testing.T, s app.Store) {
	const writers, appends = 8, 50
	r := newRoom(domain.KindPublicGroup, "busy", t0)
	insertRooms(t, s, r)
	ctx := t.Context()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		assigned []int64
		done     = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				var seq int64
				err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
					if _, err := tx.Room(ctx, r.ID); err != nil {
						return err
					}
					e, err := tx.AppendEvent(ctx, domain.Event{RoomID: r.ID, Type: domain.EventRoomUpdated, At: at(i), ActorID: fmt.Sprintf("w%d", w)})
					seq = e.Seq // the last attempt's, should fn be retried
					return err
				})
				if err != nil {
					t.Errorf("writer %d, append %d: %v", w, i, err)
					return
				}
				mu.Lock()
				assigned = append(assigned, seq)
				mu.Unlock()
			}
		})
	}
	// A reader meanwhile sees a gap-free prefix of the log every time: a seq
	// is visible only once every lower one has committed.
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		for range 10_000 { // bounded; it normally stops when the writers finish
			select {
			case <-done:
				return
			default:
			}
			events, err := s.Events(ctx, r.ID, 0, writers*appends+1)
			if err != nil {
				t.Errorf("Events while writing: %v", err)
				return
			}
			for i, e := range events {
				if e.Seq != int64(i+1) {
					t.Errorf("Events while writing returned seq %d at index %d: a gap", e.Seq, i)
					return
				}
			}
		}
	})
	wg.Wait()
	close(done)
	readerWG.Wait()

	slices.Sort(assigned)
	want := make([]int64, writers*appends)
	for i := range want {
		want[i] = int64(i + 1)
	}
	checkEqual(t, "assigned seqs", assigned, want)

	room, err := s.Room(ctx, r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if room.Seq != writers*appends {
		t.Errorf("room Seq = %d, want %d", room.Seq, writers*appends)
	}
	events, err := s.Events(ctx, r.ID, 0, writers*appends+1)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	perWriter := map[string]int{}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("committed event %d has seq %d", i, e.Seq)
		}
		perWriter[e.ActorID]++
	}
	if len(events) != writers*appends || len(perWriter) != writers {
		t.Errorf("read back %d events from %d writers, want %d from %d", len(events), len(perWriter), writers*appends, writers)
	}
	for actor, n := range perWriter {
		if n != appends {
			t.Errorf("writer %s has %d events, want %d", actor, n, appends)
		}
	}
}
