package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func eventTests() []test {
	return []test{
		{"Events/AppendNumbersWithoutGaps", testAppendEvent},
		{"Events/AfterSeqWithLimit", testEventsAfterSeq},
		{"Events/CarryTheMessageAsItIsNow", testEventsCarryCurrentMessage},
	}
}

func testAppendEvent(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	msg := &domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "ann", Text: "as published", Seq: 2, CreatedAt: at(2)}
	in := []domain.Event{
		{RoomID: r.ID, Type: domain.EventMemberJoined, At: at(1), ActorID: "ann", MemberID: "ann", Role: domain.RoleOwner},
		{RoomID: r.ID, Type: domain.EventMessageSent, At: at(2), ActorID: "ann", MessageID: msg.ID, Message: msg},
		{RoomID: r.ID, Type: domain.EventRoomUpdated, At: at(3)},
		{RoomID: r.ID, Type: domain.EventRoleChanged, At: at(4), ActorID: "ann", MemberID: "bob", Role: domain.RoleAdmin},
		{RoomID: r.ID, Type: domain.EventMemberLeft, At: at(5), ActorID: "bob", MemberID: "bob"},
	}
	var appended []domain.Event
	for i, e := range in {
		update(t, s, func(ctx context.Context, tx app.Tx) error {
			if _, err := tx.Room(ctx, r.ID); err != nil {
				return err
			}
			got, err := tx.AppendEvent(ctx, e)
			if err != nil {
				return err
			}
			// Seq is assigned and At is as the store keeps it; the rest, the
			// Message included, passes through unchanged.
			want := e
			want.Seq, want.At = int64(i+1), stored(e.At)
			checkEqual(t, fmt.Sprintf("AppendEvent #%d", i+1), got, want)
			if got.Message != e.Message {
				t.Errorf("AppendEvent #%d returned Message %p, want the one given, %p", i+1, got.Message, e.Message)
			}
			appended = append(appended, got)
			return nil
		})
	}

	room, err := s.Room(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if room.Seq != 5 || !room.UpdatedAt.Equal(stored(at(5))) {
		t.Errorf("room after 5 events has Seq %d, UpdatedAt %v; want 5, %v", room.Seq, room.UpdatedAt, stored(at(5)))
	}

	// Read back, an event is what AppendEvent returned, except that it
	// carries the stored message (here none was stored).
	got, err := s.Events(t.Context(), r.ID, 0, 10)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	appended[1].Message = nil
	checkEqual(t, "Events", got, appended)
}

func testEventsAfterSeq(t *testing.T, s app.Store) {
	r, other := newRoom(domain.KindPrivateGroup, "crew", t0), newRoom(domain.KindPrivateGroup, "other", t0)
	insertRooms(t, s, r, other)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for _, id := range []string{r.ID, other.ID} {
			if _, err := tx.Room(ctx, id); err != nil {
				return err
			}
		}
		for i := 1; i <= 10; i++ {
			for _, id := range []string{r.ID, other.ID} {
				if _, err := tx.AppendEvent(ctx, domain.Event{RoomID: id, Type: domain.EventRoomUpdated, At: at(i)}); err != nil {
					return err
				}
			}
		}
		return nil
	})

	tests := []struct {
		afterSeq int64
		limit    int
		want     []int64
	}{
		{0, 3, []int64{1, 2, 3}},
		{3, 4, []int64{4, 5, 6, 7}},
		{8, 5, []int64{9, 10}},
		{0, 100, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{10, 5, nil},
	}
	for _, tc := range tests {
		got, err := s.Events(t.Context(), r.ID, tc.afterSeq, tc.limit)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		var want []domain.Event
		for _, seq := range tc.want {
			want = append(want, storedEvent(domain.Event{RoomID: r.ID, Seq: seq, Type: domain.EventRoomUpdated, At: at(int(seq))}))
		}
		checkEqual(t, fmt.Sprintf("Events(after %d, limit %d)", tc.afterSeq, tc.limit), got, want)
	}
}

func testEventsCarryCurrentMessage(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	m := send(t, s, r.ID, "ann", "helo", at(1)) // seq 1

	edited := m
	edited.Text, edited.EditedAt = "hello", new(at(2))
	joined := domain.Event{RoomID: r.ID, Type: domain.EventMemberJoined, At: at(3), ActorID: "ann", MemberID: "bob", Role: domain.RoleMember}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, r.ID); err != nil {
			return err
		}
		if err := tx.UpdateMessage(ctx, edited); err != nil {
			return err
		}
		if _, err := tx.AppendEvent(ctx, domain.Event{RoomID: r.ID, Type: domain.EventMessageEdited, At: at(2), ActorID: "ann", MessageID: m.ID}); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, joined)
		return err
	})
	tombstone := deleteMessage(t, s, edited, at(4))
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		if _, err := tx.Room(ctx, r.ID); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, domain.Event{RoomID: r.ID, Type: domain.EventMessageDeleted, At: at(4), ActorID: "ann", MessageID: m.ID})
		return err
	})

	now := storedMessage(tombstone)
	joined.Seq = 3
	want := []domain.Event{
		storedEvent(domain.Event{RoomID: r.ID, Seq: 1, Type: domain.EventMessageSent, At: at(1), ActorID: "ann", MessageID: m.ID, Message: &now}),
		storedEvent(domain.Event{RoomID: r.ID, Seq: 2, Type: domain.EventMessageEdited, At: at(2), ActorID: "ann", MessageID: m.ID, Message: &now}),
		storedEvent(joined),
		storedEvent(domain.Event{RoomID: r.ID, Seq: 4, Type: domain.EventMessageDeleted, At: at(4), ActorID: "ann", MessageID: m.ID, Message: &now}),
	}
	got, err := s.Events(t.Context(), r.ID, 0, 10)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	checkEqual(t, "Events", got, want)
}
