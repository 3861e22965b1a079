package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// benchAuthor sends every message of the benchmarks.
const benchAuthor = "ann"

// benchText is a message of ordinary length.
const benchText = "a message of ordinary length, about as long as people write in a chat"

// benchClients is how many goroutines per GOMAXPROCS the parallel send
// benchmarks run: 32 × 2 = 64 on the 2-core machine, its number of
// concurrent senders.
const benchClients = 32

// BenchSend measures the store's part of app.Service.SendMessage: one
// transaction that locks the room, reads the sender's membership, looks up
// the client message id, appends the MESSAGE_SENT event, inserts the
// message and moves the sender's read pointer, then commits as the adapter
// commits. It runs one sender, then benchClients×GOMAXPROCS senders into one
// room (every send waits for the room's lock) and into 100 rooms. open must
// return a new, empty, migrated store closed with b.Cleanup, configured as
// in production.
func BenchSend(b *testing.B, open func(b *testing.B) app.Store) {
	b.Run("serial", func(b *testing.B) {
		s := open(b)
		rooms := benchRooms(b, s, 1)
		for i := 0; b.Loop(); i++ {
			if err := benchSendOne(b.Context(), s, rooms[0], "c"+strconv.Itoa(i)); err != nil {
				b.Fatalf("send %d: %v", i, err)
			}
		}
		checkSent(b, s, rooms, b.N)
	})
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("parallel/rooms=%d", n), func(b *testing.B) {
			s := open(b)
			rooms := benchRooms(b, s, n)
			var sent atomic.Int64
			b.SetParallelism(benchClients)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := sent.Add(1)
					if err := benchSendOne(b.Context(), s, rooms[i%int64(n)], "c"+strconv.FormatInt(i, 10)); err != nil {
						b.Errorf("send %d: %v", i, err)
						return
					}
				}
			})
			checkSent(b, s, rooms, int(sent.Load()))
		})
	}
}

// benchRooms stores the author and n public groups with the author in each.
func benchRooms(b *testing.B, s app.Store, n int) []string {
	b.Helper()
	now := time.Now()
	if _, err := s.EnsureMember(b.Context(), domain.Member{ID: benchAuthor, Name: "Ann", CreatedAt: now}); err != nil {
		b.Fatalf("EnsureMember: %v", err)
	}
	ids := make([]string, n)
	err := s.Update(b.Context(), func(ctx context.Context, tx app.Tx) error {
		for i := range ids {
			ids[i] = newID()
			r := domain.Room{ID: ids[i], Kind: domain.KindPublicGroup, Name: "bench", CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertRoom(ctx, r); err != nil {
				return err
			}
			m := domain.Membership{RoomID: r.ID, MemberID: benchAuthor, Role: domain.RoleOwner, JoinedAt: now}
			if err := tx.PutMembership(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("rooms: %v", err)
	}
	return ids
}

// benchSendOne makes the store calls of SendMessage, in its order.
func benchSendOne(ctx context.Context, s app.Store, roomID, clientID string) error {
	return s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, roomID); err != nil {
			return err
		}
		if _, err := tx.Membership(ctx, roomID, benchAuthor); err != nil {
			return err
		}
		if _, err := tx.MessageByClientID(ctx, roomID, benchAuthor, clientID); !errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("client message id %s: %w", clientID, err)
		}
		now := time.Now()
		msg := domain.Message{ID: newID(), RoomID: roomID, AuthorID: benchAuthor, Text: benchText, ClientMessageID: clientID, CreatedAt: now}
		e, err := tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventMessageSent, At: now, ActorID: benchAuthor, MessageID: msg.ID})
		if err != nil {
			return err
		}
		msg.Seq = e.Seq
		if err := tx.InsertMessage(ctx, msg); err != nil {
			return err
		}
		_, err = tx.MoveReadPointer(ctx, roomID, benchAuthor, msg.Seq, msg.ID)
		return err
	})
}

// checkSent fails the benchmark unless the rooms' sequence numbers add up
// to the sends made: every committed send appended exactly one event.
func checkSent(b *testing.B, s app.Store, rooms []string, sends int) {
	b.Helper()
	var total int64
	for _, id := range rooms {
		r, err := s.Room(context.Background(), id)
		if err != nil {
			b.Fatalf("Room: %v", err)
		}
		total += r.Seq
	}
	if total != int64(sends) {
		b.Fatalf("the rooms hold %d events after %d sends", total, sends)
	}
}

// BenchHistory measures the page a chat screen shows: the last 50 messages
// before a cursor at a random position of the room (scrolling back), and
// the newest 50 (opening the room). roomID must hold messages with seq
// 1..size, size > 100, seeded by the caller in whatever way is fastest.
func BenchHistory(b *testing.B, s app.Store, roomID string, size int) {
	const pageSize = 50
	b.Run("before=random", func(b *testing.B) {
		// A fixed seed: every run, and both adapters, read the same pages.
		rnd := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // positions to read need no unpredictability
		b.ReportAllocs()
		for b.Loop() {
			before := int64(pageSize + 1 + rnd.IntN(size-pageSize))
			benchPage(b, s, roomID, app.MessagePage{BeforeSeq: before, Limit: pageSize, Newest: true}, before-1)
		}
	})
	b.Run("newest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchPage(b, s, roomID, app.MessagePage{Limit: pageSize, Newest: true}, int64(size))
		}
	})
}

// benchPage reads one page and fails unless it is full and ends at lastSeq.
func benchPage(b *testing.B, s app.Store, roomID string, page app.MessagePage, lastSeq int64) {
	got, err := s.Messages(b.Context(), roomID, page)
	if err != nil {
		b.Fatalf("Messages: %v", err)
	}
	if len(got) != page.Limit || got[len(got)-1].Seq != lastSeq {
		b.Fatalf("page %+v has %d messages, want %d ending at seq %d", page, len(got), page.Limit, lastSeq)
	}
}
