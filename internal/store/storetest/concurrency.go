package storetest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// The cases below run many Updates at once, as the use cases do under load.
// An adapter may run concurrent Updates in one transaction (group commit);
// whatever it does, each Update must keep its own contract: its writes
// commit when, and only when, its fn returns nil, its error and its panic
// are its own, and a canceled one writes nothing.

func concurrencyTests() []test {
	return []test{
		{"Concurrency/ManyUpdatesAllCommit", testManyUpdatesCommit},
		{"Concurrency/FailuresStayWithTheirCaller", testFailuresStayWithCaller},
		{"Concurrency/PanicsStayWithTheirCaller", testPanicsStayWithCaller},
		{"Concurrency/CanceledCallersWriteNothing", testCanceledCallers},
		{"Concurrency/AppendsToManyRoomsAreGapFree", testAppendsToManyRooms},
		{"Concurrency/FnKeepsContextValues", testFnKeepsContextValues},
		{"Concurrency/GoexitInFnRollsBack", testGoexitInFn},
	}
}

// concurrentCallers is how many goroutines the cases run, as many as the
// issue's load of 64 concurrent clients.
const concurrentCallers = 64

// runCallers runs call(i) for i in [0, n) on n goroutines released
// together, and waits for them all.
func runCallers(n int, call func(i int)) {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			call(i)
		})
	}
	close(start)
	wg.Wait()
}

// insertRoomWith returns an fn that stores r and a membership of ann in it,
// then returns ret.
func insertRoomWith(r domain.Room, ret error) func(ctx context.Context, tx app.Tx) error {
	return func(ctx context.Context, tx app.Tx) error {
		if err := tx.InsertRoom(ctx, r); err != nil {
			return err
		}
		if err := tx.PutMembership(ctx, domain.Membership{RoomID: r.ID, MemberID: "ann", Role: domain.RoleOwner, JoinedAt: t0}); err != nil {
			return err
		}
		return ret
	}
}

// checkRooms fails unless exactly the rooms with committed[i] set exist,
// each with ann's membership, and ann is in exactly those.
func checkRooms(t *testing.T, s app.Store, rooms []domain.Room, committed []bool) {
	t.Helper()
	ctx := t.Context()
	var want []string
	for i, r := range rooms {
		_, err := s.Room(ctx, r.ID)
		_, merr := s.Membership(ctx, r.ID, "ann")
		if committed[i] {
			want = append(want, r.ID)
			if err != nil || merr != nil {
				t.Errorf("room %d of a successful Update: Room: %v, Membership: %v", i, err, merr)
			}
			continue
		}
		checkKind(t, fmt.Sprintf("Room %d of a failed Update", i), err, domain.ErrNotFound)
		checkKind(t, fmt.Sprintf("Membership in room %d of a failed Update", i), merr, domain.ErrNotFound)
	}
	got, err := s.MemberRoomIDs(ctx, "ann")
	if err != nil {
		t.Fatalf("MemberRoomIDs: %v", err)
	}
	slices.Sort(got)
	slices.Sort(want)
	checkEqual(t, "rooms ann is in", got, want)
}

func testManyUpdatesCommit(t *testing.T, s app.Store) {
	const perCaller = 5
	rooms := make([]domain.Room, concurrentCallers*perCaller)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
	}
	runCallers(concurrentCallers, func(c int) {
		for j := range perCaller {
			i := c*perCaller + j
			if err := s.Update(t.Context(), insertRoomWith(rooms[i], nil)); err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		}
	})
	committed := make([]bool, len(rooms))
	for i := range committed {
		committed[i] = true
	}
	checkRooms(t, s, rooms, committed)
}

func testFailuresStayWithCaller(t *testing.T, s app.Store) {
	// Every third caller fails after writing: half of them with an error of
	// their own, half with a failed statement (a room whose id exists), which
	// aborts a PostgreSQL transaction unless the adapter confines it.
	const rounds = 4
	existing := newRoom(domain.KindPublicGroup, "existing", t0)
	insertRooms(t, s, existing)
	n := concurrentCallers * rounds
	rooms := make([]domain.Room, n)
	committed := make([]bool, n)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
		committed[i] = i%3 != 0
	}
	errs := make([]error, n)
	runCallers(concurrentCallers, func(c int) {
		for r := range rounds {
			i := r*concurrentCallers + c
			var fn func(context.Context, app.Tx) error
			switch {
			case committed[i]:
				fn = insertRoomWith(rooms[i], nil)
			case i%2 == 0:
				fn = insertRoomWith(rooms[i], fmt.Errorf("caller %d gives up", i))
			default:
				fn = func(ctx context.Context, tx app.Tx) error {
					if err := insertRoomWith(rooms[i], nil)(ctx, tx); err != nil {
						return err
					}
					dup := existing
					dup.Name = "a second room with the same id"
					return tx.InsertRoom(ctx, dup)
				}
			}
			errs[i] = s.Update(t.Context(), fn)
		}
	})
	for i, err := range errs {
		switch {
		case committed[i]:
			if err != nil {
				t.Errorf("Update %d, which succeeds, returned %v", i, err)
			}
		case i%2 == 0:
			if want := fmt.Sprintf("caller %d gives up", i); err == nil || err.Error() != want {
				t.Errorf("Update %d returned %v, want its own error %q", i, err, want)
			}
		default:
			checkKind(t, fmt.Sprintf("Update %d inserting a room that exists", i), err, domain.ErrConflict)
		}
	}
	checkRooms(t, s, rooms, committed)
	got, err := s.Room(t.Context(), existing.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	checkEqual(t, "the existing room", got, storedRoom(existing))
}

// callerPanic is the panic value of caller i.
type callerPanic struct{ i int }

func testPanicsStayWithCaller(t *testing.T, s app.Store) {
	const rounds = 3
	n := concurrentCallers * rounds
	rooms := make([]domain.Room, n)
	committed := make([]bool, n)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
		committed[i] = i%4 != 0
	}
	recovered := make([]any, n)
	runCallers(concurrentCallers, func(c int) {
		for r := range rounds {
			i := r*concurrentCallers + c
			func() {
				// recover sees the panic only if it goes on in this
				// goroutine, the caller's.
				defer func() { recovered[i] = recover() }()
				err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
					if err := insertRoomWith(rooms[i], nil)(ctx, tx); err != nil {
						return err
					}
					if !committed[i] {
						panic(callerPanic{i})
					}
					return nil
				})
				if err != nil {
					t.Errorf("Update %d: %v", i, err)
				}
			}()
		}
	})
	for i, r := range recovered {
		var want any
		if !committed[i] {
			want = callerPanic{i}
		}
		if r != want {
			t.Errorf("caller %d recovered %v, want %v", i, r, want)
		}
	}
	checkRooms(t, s, rooms, committed)
}

func testCanceledCallers(t *testing.T, s app.Store) {
	const rounds = 3
	n := concurrentCallers * rounds
	rooms := make([]domain.Room, n)
	committed := make([]bool, n)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
		committed[i] = i%3 != 0
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	var ranCanceled atomic.Int64
	runCallers(concurrentCallers, func(c int) {
		for r := range rounds {
			i := r*concurrentCallers + c
			if committed[i] {
				if err := s.Update(t.Context(), insertRoomWith(rooms[i], nil)); err != nil {
					t.Errorf("Update %d: %v", i, err)
				}
				continue
			}
			err := s.Update(canceled, func(ctx context.Context, tx app.Tx) error {
				ranCanceled.Add(1)
				return insertRoomWith(rooms[i], nil)(ctx, tx)
			})
			checkKind(t, fmt.Sprintf("Update %d with a canceled context", i), err, context.Canceled)
		}
	})
	if n := ranCanceled.Load(); n != 0 {
		t.Errorf("fn ran in %d Updates whose context was canceled before they began", n)
	}
	checkRooms(t, s, rooms, committed)
}

func testAppendsToManyRooms(t *testing.T, s app.Store) {
	const (
		roomCount = 8
		appends   = 12 // per caller
	)
	rooms := make([]domain.Room, roomCount)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
	}
	insertRooms(t, s, rooms...)

	var (
		mu       sync.Mutex
		assigned = map[string][]int64{}
	)
	runCallers(concurrentCallers, func(c int) {
		for j := range appends {
			r := rooms[(c+j)%roomCount]
			var seq int64
			err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
				if _, err := tx.Room(ctx, r.ID); err != nil {
					return err
				}
				e, err := tx.AppendEvent(ctx, domain.Event{RoomID: r.ID, Type: domain.EventRoomUpdated, At: at(j), ActorID: fmt.Sprintf("c%d", c)})
				seq = e.Seq // the last attempt's, should fn be retried
				return err
			})
			if err != nil {
				t.Errorf("caller %d, append %d: %v", c, j, err)
				return
			}
			mu.Lock()
			assigned[r.ID] = append(assigned[r.ID], seq)
			mu.Unlock()
		}
	})

	perRoom := concurrentCallers * appends / roomCount
	want := make([]int64, perRoom)
	for i := range want {
		want[i] = int64(i + 1)
	}
	for _, r := range rooms {
		got := assigned[r.ID]
		slices.Sort(got)
		checkEqual(t, "seqs assigned in "+r.Name, got, want)
		events, err := s.Events(t.Context(), r.ID, 0, perRoom+1)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		seqs := make([]int64, len(events))
		for i, e := range events {
			seqs[i] = e.Seq
		}
		checkEqual(t, "seqs stored in "+r.Name, seqs, want)
		stored, err := s.Room(t.Context(), r.ID)
		if err != nil {
			t.Fatalf("Room: %v", err)
		}
		if stored.Seq != int64(perRoom) {
			t.Errorf("%s has Seq %d, want %d", r.Name, stored.Seq, perRoom)
		}
	}
}

// ctxKey is the type of the context value testFnKeepsContextValues passes.
type ctxKey struct{}

func testFnKeepsContextValues(t *testing.T, s app.Store) {
	rooms := make([]domain.Room, concurrentCallers)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
	}
	runCallers(concurrentCallers, func(i int) {
		ctx := context.WithValue(t.Context(), ctxKey{}, i)
		err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
			if got, _ := ctx.Value(ctxKey{}).(int); got != i {
				return fmt.Errorf("fn of caller %d sees context value %v", i, ctx.Value(ctxKey{}))
			}
			return insertRoomWith(rooms[i], nil)(ctx, tx)
		})
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	})
}

// testGoexitInFn has fn end its goroutine with runtime.Goexit, as t.FailNow
// does, while other Updates run: its writes roll back and the store goes on.
func testGoexitInFn(t *testing.T, s app.Store) {
	rooms := make([]domain.Room, concurrentCallers)
	committed := make([]bool, concurrentCallers)
	for i := range rooms {
		rooms[i] = newRoom(domain.KindPublicGroup, fmt.Sprintf("room %d", i), t0)
		committed[i] = i%4 != 0
	}
	runCallers(concurrentCallers, func(i int) {
		err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			if err := insertRoomWith(rooms[i], nil)(ctx, tx); err != nil {
				return err
			}
			if !committed[i] {
				runtime.Goexit()
			}
			return nil
		})
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	})
	checkRooms(t, s, rooms, committed)
}
