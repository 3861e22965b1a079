package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oklog/ulid/v2"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// t0 is the fixed clock of the suite. Its nanoseconds below the microsecond
// (789) check that adapters truncate to the microsecond.
var t0 = time.Date(2031, time.May, 6, 7, 8, 9, 123456789, time.UTC)

// at is t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// stored is t as the store keeps it: truncated to the microsecond, in UTC.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// storedPtr is stored for an optional time.
func storedPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stored(*t)
	return &s
}

func storedRoom(r domain.Room) domain.Room {
	r.CreatedAt = stored(r.CreatedAt)
	r.UpdatedAt = stored(r.UpdatedAt)
	return r
}

func storedMembership(m domain.Membership) domain.Membership {
	m.JoinedAt = stored(m.JoinedAt)
	return m
}

func storedMessage(m domain.Message) domain.Message {
	m.CreatedAt = stored(m.CreatedAt)
	m.EditedAt = storedPtr(m.EditedAt)
	m.DeletedAt = storedPtr(m.DeletedAt)
	return m
}

func storedEvent(e domain.Event) domain.Event {
	e.At = stored(e.At)
	if e.Message != nil {
		m := storedMessage(*e.Message)
		e.Message = &m
	}
	return e
}

// cmpOpts compare times as instants that must also be in UTC, and treat nil
// and empty slices and maps alike.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }),
	cmpopts.EquateEmpty(),
}

// checkEqual fails the test when got differs from want.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// checkKind fails the test unless err wraps kind.
func checkKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, kind)
	}
}

// newID returns a fresh ULID; ids made later sort after ids made earlier.
func newID() string { return ulid.Make().String() }

// update runs fn in one Update and fails the test on error.
func update(t *testing.T, s app.Store, fn func(ctx context.Context, tx app.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// ensureMember stores a member named like its id.
func ensureMember(t *testing.T, s app.Store, id string) domain.Member {
	t.Helper()
	m, err := s.EnsureMember(t.Context(), domain.Member{ID: id, Name: "name of " + id, CreatedAt: t0})
	if err != nil {
		t.Fatalf("EnsureMember(%s): %v", id, err)
	}
	return m
}

// newRoom returns a room that is not stored yet.
func newRoom(kind domain.RoomKind, name string, updatedAt time.Time) domain.Room {
	return domain.Room{ID: newID(), Kind: kind, Name: name, CreatedAt: t0, UpdatedAt: updatedAt}
}

// newChat returns a CHAT between a and b that is not stored yet.
func newChat(a, b string) domain.Room {
	return domain.Room{ID: newID(), Kind: domain.KindChat, ChatKey: domain.ChatKey(a, b), CreatedAt: t0, UpdatedAt: t0}
}

// insertRooms stores rooms in one transaction.
func insertRooms(t *testing.T, s app.Store, rooms ...domain.Room) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for _, r := range rooms {
			if err := tx.InsertRoom(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// join stores a membership.
func join(t *testing.T, s app.Store, roomID, memberID string, role domain.Role, joinedAt time.Time) domain.Membership {
	t.Helper()
	m := domain.Membership{RoomID: roomID, MemberID: memberID, Role: role, JoinedAt: joinedAt}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		return tx.PutMembership(ctx, m)
	})
	return m
}

// send stores a message as the use cases do: in the room's next seq, with
// its MESSAGE_SENT event. It returns the message as given to the store.
func send(t *testing.T, s app.Store, roomID, authorID, text string, sentAt time.Time) domain.Message {
	t.Helper()
	var m domain.Message
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		room, err := tx.Room(ctx, roomID)
		if err != nil {
			return err
		}
		m = domain.Message{ID: newID(), RoomID: roomID, AuthorID: authorID, Text: text, Seq: room.Seq + 1, CreatedAt: sentAt}
		if err := tx.InsertMessage(ctx, m); err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventMessageSent, At: sentAt, ActorID: authorID, MessageID: m.ID})
		return err
	})
	return m
}

// deleteMessage turns a message into its tombstone.
func deleteMessage(t *testing.T, s app.Store, m domain.Message, deletedAt time.Time) domain.Message {
	t.Helper()
	m.Text, m.DeletedAt = "", &deletedAt
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		return tx.UpdateMessage(ctx, m)
	})
	return m
}

// roomIDs returns the ID of each room.
func roomIDs(rooms []domain.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.ID
	}
	return out
}
