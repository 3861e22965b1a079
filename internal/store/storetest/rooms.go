package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func roomTests() []test {
	return []test{
		{"Rooms/InsertAndRead", testInsertAndReadRoom},
		{"Rooms/NotFound", testRoomNotFound},
		{"Rooms/ChatKeyIsUnique", testChatKeyIsUnique},
		{"Rooms/Rename", testRenameRoom},
		{"Rooms/ChatPartner", testChatPartner},
	}
}

func testInsertAndReadRoom(t *testing.T, s app.Store) {
	ctx := t.Context()
	// Two rooms without a chat key: only CHAT keys are unique.
	group := newRoom(domain.KindPrivateGroup, "crew", at(5))
	channel := newRoom(domain.KindPublicChannel, "news", at(6))
	chat := newChat("ann", "bob")
	insertRooms(t, s, group, channel, chat)

	for _, r := range []domain.Room{group, channel, chat} {
		got, err := s.Room(ctx, r.ID)
		if err != nil {
			t.Fatalf("Room(%s): %v", r.Name, err)
		}
		checkEqual(t, "Room", got, storedRoom(r))
		update(t, s, func(ctx context.Context, tx app.Tx) error {
			got, err := tx.Room(ctx, r.ID)
			checkEqual(t, "Tx.Room", got, storedRoom(r))
			return err
		})
	}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.ChatByKey(ctx, domain.ChatKey("bob", "ann"))
		checkEqual(t, "Tx.ChatByKey", got, storedRoom(chat))
		return err
	})
}

func testRoomNotFound(t *testing.T, s app.Store) {
	const missing = "no-such-room"
	insertRooms(t, s, newChat("ann", "bob"))
	tests := []struct {
		name string
		call func(ctx context.Context, tx app.Tx) error
	}{
		{"Store.Room", func(ctx context.Context, _ app.Tx) error {
			_, err := s.Room(ctx, missing)
			return err
		}},
		{"Tx.Room", func(ctx context.Context, tx app.Tx) error {
			_, err := tx.Room(ctx, missing)
			return err
		}},
		{"Tx.ChatByKey", func(ctx context.Context, tx app.Tx) error {
			_, err := tx.ChatByKey(ctx, domain.ChatKey("ann", "cid"))
			return err
		}},
		{"Tx.RenameRoom", func(ctx context.Context, tx app.Tx) error {
			return tx.RenameRoom(ctx, missing, "name")
		}},
		{"Tx.AppendEvent", func(ctx context.Context, tx app.Tx) error {
			_, err := tx.AppendEvent(ctx, domain.Event{RoomID: missing, Type: domain.EventRoomUpdated, At: t0})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), tc.call)
			checkKind(t, tc.name, err, domain.ErrNotFound)
		})
	}
}

func testChatKeyIsUnique(t *testing.T, s app.Store) {
	ctx := t.Context()
	first := newChat("ann", "bob")
	insertRooms(t, s, first)

	second := newChat("bob", "ann")
	err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		return tx.InsertRoom(ctx, second)
	})
	checkKind(t, "InsertRoom of a second chat with the same key", err, domain.ErrConflict)

	if _, err := s.Room(ctx, second.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the conflicting chat was stored: Room error %v", err)
	}
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.ChatByKey(ctx, first.ChatKey)
		checkEqual(t, "ChatByKey after the conflict", got, storedRoom(first))
		return err
	})
}

func testRenameRoom(t *testing.T, s app.Store) {
	r := newRoom(domain.KindPublicGroup, "old", at(1))
	insertRooms(t, s, r)
	update(t, s, func(ctx context.Context, tx app.Tx) error {
		return tx.RenameRoom(ctx, r.ID, "new")
	})
	got, err := s.Room(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	r.Name = "new"
	checkEqual(t, "renamed room", got, storedRoom(r))
}

func testChatPartner(t *testing.T, s app.Store) {
	chat := newChat("ann", "bob")
	group := newRoom(domain.KindPrivateGroup, "pair", t0)
	insertRooms(t, s, chat, group)
	for _, r := range []domain.Room{chat, group} {
		join(t, s, r.ID, "ann", domain.RoleMember, t0)
		join(t, s, r.ID, "bob", domain.RoleMember, t0)
	}

	tests := []struct {
		roomID, memberID string
		want             string
		wantErr          error
	}{
		{roomID: chat.ID, memberID: "ann", want: "bob"},
		{roomID: chat.ID, memberID: "bob", want: "ann"},
		{roomID: chat.ID, memberID: "cid", wantErr: domain.ErrNotFound},
		{roomID: group.ID, memberID: "ann", wantErr: domain.ErrNotFound},
		{roomID: "no-such-room", memberID: "ann", wantErr: domain.ErrNotFound},
	}
	for _, tc := range tests {
		got, err := s.ChatPartner(t.Context(), tc.roomID, tc.memberID)
		if tc.wantErr != nil {
			checkKind(t, "ChatPartner of "+tc.memberID, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ChatPartner of %s = %q, %v; want %q", tc.memberID, got, err, tc.want)
		}
	}
}
