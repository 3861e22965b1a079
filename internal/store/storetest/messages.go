package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func messageTests() []test {
	return []test{
		{"Messages/InsertAndRead", testInsertAndReadMessage},
		{"Messages/ByClientID", testMessageByClientID},
		{"Messages/UpdateEditsAndTombstones", testUpdateMessage},
		{"Messages/HistoryPages", testMessagesPaging},
		{"Messages/LastMessageSkipsDeleted", testLastMessage},
		{"Messages/UnreadCount", testUnreadCount},
	}
}

// chatRoom stores a private group with ann and bob in it.
func chatRoom(t *testing.T, s app.Store) domain.Room {
	t.Helper()
	r := newRoom(domain.KindPrivateGroup, "crew", t0)
	insertRooms(t, s, r)
	join(t, s, r.ID, "ann", domain.RoleOwner, t0)
	join(t, s, r.ID, "bob", domain.RoleMember, t0)
	return r
}

func testInsertAndReadMessage(t *testing.T, s app.Store) {
	r := chatRoom(t, s)
	edited := at(9)
	tests := []struct {
		name string
		msg  domain.Message
	}{
		{"with client id", domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "ann", Text: "hello", ClientMessageID: "c-1", Seq: 1, CreatedAt: at(1)}},
		{"without client id", domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "bob", Text: "hi", Seq: 2, CreatedAt: at(2)}},
		{"system message", domain.Message{ID: newID(), RoomID: r.ID, Text: "ann renamed the room", Seq: 3, CreatedAt: at(3)}},
		{"edited", domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "ann", Text: "fixed", Seq: 4, CreatedAt: at(4), EditedAt: &edited}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			update(t, s, func(ctx context.Context, tx app.Tx) error {
				return tx.InsertMessage(ctx, tc.msg)
			})
			got, err := s.Message(t.Context(), tc.msg.ID)
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			checkEqual(t, "Message", got, storedMessage(tc.msg))
			update(t, s, func(ctx context.Context, tx app.Tx) error {
				got, err := tx.Message(ctx, tc.msg.ID)
				checkEqual(t, "Tx.Message", got, storedMessage(tc.msg))
				return err
			})
		})
	}

	_, err := s.Message(t.Context(), "no-such-message")
	checkKind(t, "Message of a missing id", err, domain.ErrNotFound)
	err = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		_, err := tx.Message(ctx, "no-such-message")
		return err
	})
	checkKind(t, "Tx.Message of a missing id", err, domain.ErrNotFound)
}

func testMessageByClientID(t *testing.T, s app.Store) {
	r, other := chatRoom(t, s), chatRoom(t, s)
	// The client id is unique per author and room only: bob may reuse ann's.
	annMsg := domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "ann", Text: "one", ClientMessageID: "c-1", Seq: 1, CreatedAt: at(1)}
	bobMsg := domain.Message{ID: newID(), RoomID: r.ID, AuthorID: "bob", Text: "two", ClientMessageID: "c-1", Seq: 2, CreatedAt: at(2)}
	otherMsg := domain.Message{ID: newID(), RoomID: other.ID, AuthorID: "ann", Text: "three", ClientMessageID: "c-2", Seq: 1, CreatedAt: at(3)}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		for _, m := range []domain.Message{annMsg, bobMsg, otherMsg} {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})

	tests := []struct {
		roomID, authorID, clientID string
		want                       *domain.Message
	}{
		{roomID: r.ID, authorID: "ann", clientID: "c-1", want: &annMsg},
		{roomID: r.ID, authorID: "bob", clientID: "c-1", want: &bobMsg},
		{roomID: other.ID, authorID: "ann", clientID: "c-2", want: &otherMsg},
		{roomID: r.ID, authorID: "ann", clientID: "c-2"},
		{roomID: other.ID, authorID: "ann", clientID: "c-1"},
		{roomID: r.ID, authorID: "cid", clientID: "c-1"},
		{roomID: r.ID, authorID: "ann", clientID: ""},
	}
	for _, tc := range tests {
		what := fmt.Sprintf("MessageByClientID(%s, %q)", tc.authorID, tc.clientID)
		err := s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
			got, err := tx.MessageByClientID(ctx, tc.roomID, tc.authorID, tc.clientID)
			if err == nil && tc.want != nil {
				checkEqual(t, what, got, storedMessage(*tc.want))
			}
			return err
		})
		if tc.want == nil {
			checkKind(t, what, err, domain.ErrNotFound)
		} else if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func testUpdateMessage(t *testing.T, s app.Store) {
	r := chatRoom(t, s)
	m := send(t, s, r.ID, "ann", "helo", at(1))

	edited := m
	edited.Text, edited.EditedAt = "hello", new(at(2))
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		return tx.UpdateMessage(ctx, edited)
	})
	got, err := s.Message(t.Context(), m.ID)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	checkEqual(t, "edited message", got, storedMessage(edited))

	tombstone := deleteMessage(t, s, edited, at(3))
	got, err = s.Message(t.Context(), m.ID)
	if err != nil {
		t.Fatalf("Message of a deleted message: %v", err)
	}
	checkEqual(t, "tombstone", got, storedMessage(tombstone))
	if !got.Deleted() || got.Text != "" {
		t.Errorf("tombstone = %+v, want deleted with empty text", got)
	}

	err = s.Update(t.Context(), func(ctx context.Context, tx app.Tx) error {
		return tx.UpdateMessage(ctx, domain.Message{ID: "no-such-message", Text: "x"})
	})
	checkKind(t, "UpdateMessage of a missing message", err, domain.ErrNotFound)
}

func testMessagesPaging(t *testing.T, s app.Store) {
	r, other := chatRoom(t, s), chatRoom(t, s)
	var history []domain.Message
	for i := 1; i <= 10; i++ {
		history = append(history, send(t, s, r.ID, "ann", fmt.Sprintf("message %d", i), at(i)))
		send(t, s, other.ID, "bob", "elsewhere", at(i))
	}
	// A tombstone stays in the history.
	history[3] = deleteMessage(t, s, history[3], at(20))

	tests := []struct {
		name string
		page app.MessagePage
		want []int64
	}{
		{"first page", app.MessagePage{Limit: 3}, []int64{1, 2, 3}},
		{"newest page", app.MessagePage{Limit: 3, Newest: true}, []int64{8, 9, 10}},
		{"after", app.MessagePage{AfterSeq: 2, Limit: 3}, []int64{3, 4, 5}},
		{"newest after", app.MessagePage{AfterSeq: 2, Limit: 3, Newest: true}, []int64{8, 9, 10}},
		{"before", app.MessagePage{BeforeSeq: 9, Limit: 3}, []int64{1, 2, 3}},
		{"newest before", app.MessagePage{BeforeSeq: 9, Limit: 3, Newest: true}, []int64{6, 7, 8}},
		{"between", app.MessagePage{AfterSeq: 2, BeforeSeq: 9, Limit: 3}, []int64{3, 4, 5}},
		{"newest between", app.MessagePage{AfterSeq: 2, BeforeSeq: 9, Limit: 3, Newest: true}, []int64{6, 7, 8}},
		{"fewer than the limit", app.MessagePage{AfterSeq: 6, BeforeSeq: 9, Limit: 5}, []int64{7, 8}},
		{"newest fewer than the limit", app.MessagePage{AfterSeq: 6, BeforeSeq: 9, Limit: 5, Newest: true}, []int64{7, 8}},
		{"all", app.MessagePage{Limit: 100, Newest: true}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"after the last", app.MessagePage{AfterSeq: 10, Limit: 3}, nil},
		{"before the first", app.MessagePage{BeforeSeq: 1, Limit: 3, Newest: true}, nil},
		{"empty range", app.MessagePage{AfterSeq: 4, BeforeSeq: 5, Limit: 3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Messages(t.Context(), r.ID, tc.page)
			if err != nil {
				t.Fatalf("Messages(%+v): %v", tc.page, err)
			}
			var want []domain.Message
			for _, seq := range tc.want {
				want = append(want, storedMessage(history[seq-1]))
			}
			checkEqual(t, fmt.Sprintf("Messages(%+v)", tc.page), got, want)
		})
	}
}

func testLastMessage(t *testing.T, s app.Store) {
	r := chatRoom(t, s)
	_, err := s.LastMessage(t.Context(), r.ID)
	checkKind(t, "LastMessage of a room without messages", err, domain.ErrNotFound)

	var sent []domain.Message
	for i := 1; i <= 3; i++ {
		sent = append(sent, send(t, s, r.ID, "ann", fmt.Sprintf("message %d", i), at(i)))
	}
	steps := []struct {
		deleteSeq int64 // the message deleted before looking; 0 for none
		want      *domain.Message
	}{
		{want: &sent[2]},
		{deleteSeq: 3, want: &sent[1]},
		{deleteSeq: 1, want: &sent[1]},
		{deleteSeq: 2},
	}
	for _, step := range steps {
		if step.deleteSeq > 0 {
			deleteMessage(t, s, sent[step.deleteSeq-1], at(10))
		}
		got, err := s.LastMessage(t.Context(), r.ID)
		what := fmt.Sprintf("LastMessage after deleting seq %d", step.deleteSeq)
		if step.want == nil {
			checkKind(t, what, err, domain.ErrNotFound)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkEqual(t, what, got, storedMessage(*step.want))
	}
}

func testUnreadCount(t *testing.T, s app.Store) {
	r := chatRoom(t, s)
	send(t, s, r.ID, "ann", "mine", at(1))         // seq 1
	send(t, s, r.ID, "bob", "theirs", at(2))       // seq 2
	send(t, s, r.ID, "", "system", at(3))          // seq 3
	gone := send(t, s, r.ID, "bob", "oops", at(4)) // seq 4
	send(t, s, r.ID, "bob", "theirs too", at(5))   // seq 5
	deleteMessage(t, s, gone, at(6))

	tests := []struct {
		memberID string
		afterSeq int64
		want     int
	}{
		{"ann", 0, 3}, // 2, 3 and 5: not her own, not the deleted one
		{"ann", 2, 2},
		{"ann", 3, 1},
		{"ann", 5, 0},
		{"bob", 0, 2}, // 1 and 3
		{"cid", 0, 4},
	}
	for _, tc := range tests {
		got, err := s.UnreadCount(t.Context(), r.ID, tc.memberID, tc.afterSeq)
		if err != nil {
			t.Fatalf("UnreadCount: %v", err)
		}
		if got != tc.want {
			t.Errorf("UnreadCount(%s, after %d) = %d, want %d", tc.memberID, tc.afterSeq, got, tc.want)
		}
	}
}
