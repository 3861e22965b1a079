package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// TestGroupCommitSharesOneTransaction queues callers of every kind behind an
// Update that holds the write connection, and checks that they all run in
// its transaction, and that each still gets its own outcome: the storetest
// cases cannot tell whether their Updates did share a transaction.
func TestGroupCommitSharesOneTransaction(t *testing.T) {
	s := openTemp(t)
	s.commits.maxWait = time.Hour // the first fn waits for the others to queue

	type outcome int
	const (
		commits outcome = iota
		fails
		panics
		canceled
	)
	outcomes := []outcome{commits, fails, commits, panics, canceled, commits, fails, panics, commits}
	room := func(i int) domain.Room {
		return domain.Room{ID: fmt.Sprintf("room-%d", i), Kind: domain.KindPublicGroup, Name: "r", CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	}
	errFail := errors.New("fail")
	canceledCtx, cancel := context.WithCancel(t.Context())
	cancel()

	var (
		mu      sync.Mutex
		batches = map[*batch]int{} // the batch each fn ran in, counted
		held    = make(chan struct{})
		release = make(chan struct{})
		wg      sync.WaitGroup
		errs    = make([]error, len(outcomes))
		panicAt = make([]any, len(outcomes))
	)
	record := func() {
		mu.Lock()
		batches[s.commits.open]++ // fn runs holding the baton
		mu.Unlock()
	}
	firstErr := make(chan error, 1)
	go func() {
		firstErr <- s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			record()
			if err := tx.InsertRoom(ctx, room(-1)); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	for i, o := range outcomes {
		ctx := t.Context()
		if o == canceled {
			ctx = canceledCtx
		}
		wg.Go(func() {
			defer func() { panicAt[i] = recover() }()
			errs[i] = s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
				record()
				if err := tx.InsertRoom(ctx, room(i)); err != nil {
					return err
				}
				switch o {
				case fails:
					return errFail
				case panics:
					panic(i)
				}
				return nil
			})
		})
	}
	// Hang guard only: the callers queue at once.
	for deadline := time.Now().Add(10 * time.Second); s.commits.queued.Load() < int64(len(outcomes)); {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want %d", s.commits.queued.Load(), len(outcomes))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-firstErr; err != nil {
		t.Fatalf("first Update: %v", err)
	}

	if len(batches) != 1 {
		t.Errorf("the fns ran in %d transactions, want 1: %v", len(batches), batches)
	}
	for i, o := range outcomes {
		_, err := s.Room(t.Context(), room(i).ID)
		switch o {
		case commits:
			if errs[i] != nil || err != nil {
				t.Errorf("caller %d: Update: %v, Room: %v; want both nil", i, errs[i], err)
			}
		case fails:
			if !errors.Is(errs[i], errFail) || !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("caller %d: Update: %v, Room: %v; want its own error and no room", i, errs[i], err)
			}
		case panics:
			if panicAt[i] != i || !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("caller %d: recovered %v, Room: %v; want its own panic and no room", i, panicAt[i], err)
			}
		case canceled:
			if !errors.Is(errs[i], context.Canceled) || !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("caller %d: Update: %v, Room: %v; want context.Canceled and no room", i, errs[i], err)
			}
		}
	}
	if _, err := s.Room(t.Context(), room(-1).ID); err != nil {
		t.Errorf("room of the first Update: %v", err)
	}
	if s.commits.open != nil {
		t.Error("a transaction is still open after every Update returned")
	}
}

// TestGroupCommitFirstFnFails checks that when the first fn of a batch
// fails, the transaction it began rolls back and the callers queued behind
// it begin a new one.
func TestGroupCommitFirstFnFails(t *testing.T) {
	s := openTemp(t)
	s.commits.maxWait = time.Hour
	r := func(id string) domain.Room {
		return domain.Room{ID: id, Kind: domain.KindPublicGroup, Name: "r", CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	}
	held, release := make(chan struct{}), make(chan struct{})
	errFail := errors.New("fail")
	firstErr := make(chan error, 1)
	go func() {
		firstErr <- s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			if err := tx.InsertRoom(ctx, r("first")); err != nil {
				return err
			}
			close(held)
			<-release
			return errFail
		})
	}()
	<-held
	secondErr := make(chan error, 1)
	go func() {
		secondErr <- s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			return tx.InsertRoom(ctx, r("second"))
		})
	}()
	for deadline := time.Now().Add(10 * time.Second); s.commits.queued.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the second caller did not queue")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-firstErr; !errors.Is(err, errFail) {
		t.Errorf("first Update returned %v, want its error", err)
	}
	if err := <-secondErr; err != nil {
		t.Errorf("second Update: %v", err)
	}
	if _, err := s.Room(t.Context(), "first"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Room of the failed Update: %v, want not found", err)
	}
	if _, err := s.Room(t.Context(), "second"); err != nil {
		t.Errorf("Room of the second Update: %v", err)
	}
}
