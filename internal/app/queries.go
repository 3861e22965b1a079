package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Rooms pages the actor's rooms, latest activity first, optionally of one kind.
func (s *Service) Rooms(ctx context.Context, actor string, kind domain.RoomKind, args PageArgs) (Page[domain.Room], error) {
	size, err := args.forwardSize()
	if err != nil {
		return Page[domain.Room]{}, err
	}
	page := RoomPage{Kind: kind, Limit: size + 1}
	if args.After != nil {
		p, err := decodeCursor(tagRoom, *args.After, 2)
		if err != nil {
			return Page[domain.Room]{}, err
		}
		if page.BeforeUpdateAt, err = parseNanos(p[0]); err != nil {
			return Page[domain.Room]{}, err
		}
		page.BeforeID = p[1]
	}
	rooms, err := s.store.RoomsOf(ctx, actor, page)
	if err != nil {
		return Page[domain.Room]{}, fmt.Errorf("list rooms: %w", err)
	}
	rooms, more := trim(rooms, size)
	return pageOf(rooms, RoomCursor, more, args.After != nil), nil
}

// SearchRooms pages the groups and channels whose name contains query that
// the actor may see: public ones and the actor's own.
func (s *Service) SearchRooms(ctx context.Context, actor, query string, args PageArgs) (Page[domain.Room], error) {
	size, err := args.forwardSize()
	if err != nil {
		return Page[domain.Room]{}, err
	}
	query = strings.TrimSpace(query)
	if len(query) > domain.MaxRoomName {
		return Page[domain.Room]{}, domain.Errorf(domain.ErrInvalid, "query is longer than %d characters", domain.MaxRoomName)
	}
	page := SearchPage{Limit: size + 1}
	if args.After != nil {
		p, err := decodeCursor(tagSearch, *args.After, 2)
		if err != nil {
			return Page[domain.Room]{}, err
		}
		page.AfterName, page.AfterID = p[0], p[1]
	}
	rooms, err := s.store.SearchRooms(ctx, actor, query, page)
	if err != nil {
		return Page[domain.Room]{}, fmt.Errorf("search rooms: %w", err)
	}
	rooms, more := trim(rooms, size)
	return pageOf(rooms, SearchCursor, more, args.After != nil), nil
}

// RoomMembers pages the members of a room the actor may see, in join order.
func (s *Service) RoomMembers(ctx context.Context, actor, roomID string, args PageArgs) (Page[domain.Membership], error) {
	size, err := args.forwardSize()
	if err != nil {
		return Page[domain.Membership]{}, err
	}
	if _, _, err := s.Room(ctx, actor, roomID); err != nil {
		return Page[domain.Membership]{}, err
	}
	page := MemberPage{Limit: size + 1}
	if args.After != nil {
		p, err := decodeCursor(tagMember, *args.After, 2)
		if err != nil {
			return Page[domain.Membership]{}, err
		}
		if page.AfterJoinedAt, err = parseNanos(p[0]); err != nil {
			return Page[domain.Membership]{}, err
		}
		page.AfterMemberID = p[1]
	}
	ms, err := s.store.RoomMembers(ctx, roomID, page)
	if err != nil {
		return Page[domain.Membership]{}, fmt.Errorf("list room members: %w", err)
	}
	ms, more := trim(ms, size)
	return pageOf(ms, MemberCursor, more, args.After != nil), nil
}

// Messages pages a room's history. With last/before it pages back from the
// newest message, the way chat screens read; with first/after it pages
// forward. With neither it returns the newest DefaultPageSize messages. Each
// page is in chronological order.
func (s *Service) Messages(ctx context.Context, actor, roomID string, args PageArgs) (Page[domain.Message], error) {
	if err := checkSize("first", args.First); err != nil {
		return Page[domain.Message]{}, err
	}
	if err := checkSize("last", args.Last); err != nil {
		return Page[domain.Message]{}, err
	}
	if args.First != nil && args.Last != nil {
		return Page[domain.Message]{}, domain.Errorf(domain.ErrInvalid, "give first or last, not both")
	}
	if _, _, err := s.Room(ctx, actor, roomID); err != nil {
		return Page[domain.Message]{}, err
	}
	var page MessagePage
	var err error
	if args.After != nil {
		if page.AfterSeq, err = parseMessageCursor(roomID, *args.After); err != nil {
			return Page[domain.Message]{}, err
		}
	}
	if args.Before != nil {
		if page.BeforeSeq, err = parseMessageCursor(roomID, *args.Before); err != nil {
			return Page[domain.Message]{}, err
		}
	}
	backward := args.First == nil && (args.Last != nil || args.After == nil)
	size := DefaultPageSize
	switch {
	case args.First != nil:
		size = *args.First
	case args.Last != nil:
		size = *args.Last
	}
	page.Limit, page.Newest = size+1, backward
	msgs, err := s.store.Messages(ctx, roomID, page)
	if err != nil {
		return Page[domain.Message]{}, fmt.Errorf("list messages: %w", err)
	}
	var more bool
	if backward {
		if more = len(msgs) > size; more {
			msgs = msgs[len(msgs)-size:]
		}
		return pageOf(msgs, MessageCursor, args.Before != nil, more), nil
	}
	msgs, more = trim(msgs, size)
	return pageOf(msgs, MessageCursor, more, args.After != nil), nil
}

// Message returns a message in a room the actor may see.
func (s *Service) Message(ctx context.Context, actor, messageID string) (domain.Message, error) {
	if err := checkMessageID(messageID); err != nil {
		return domain.Message{}, err
	}
	msg, err := s.store.Message(ctx, messageID)
	if err != nil {
		return domain.Message{}, fmt.Errorf("get message: %w", err)
	}
	if _, _, err := s.Room(ctx, actor, msg.RoomID); err != nil {
		return domain.Message{}, domain.Errorf(domain.ErrNotFound, "message %s not found", messageID)
	}
	return msg, nil
}

// LastMessage returns the newest message of a room, or nil when it has none.
// The caller has checked the room is visible.
func (s *Service) LastMessage(ctx context.Context, roomID string) (*domain.Message, error) {
	m, err := s.store.LastMessage(ctx, roomID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last message: %w", err)
	}
	return &m, nil
}

// UnreadCount counts the messages after the actor's read pointer that are not
// theirs and not deleted; zero when the actor is not in the room.
func (s *Service) UnreadCount(ctx context.Context, actor, roomID string) (int, error) {
	m, err := membershipOf(s.store.Membership(ctx, roomID, actor))
	if err != nil || m == nil {
		return 0, err
	}
	n, err := s.store.UnreadCount(ctx, roomID, actor, m.LastReadSeq)
	if err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	return n, nil
}

// Membership returns the actor's membership of a room, nil when not a member.
func (s *Service) Membership(ctx context.Context, actor, roomID string) (*domain.Membership, error) {
	return membershipOf(s.store.Membership(ctx, roomID, actor))
}

// IsRead reports whether the actor has read a message: their own messages
// and those at or before their read pointer are read.
func (s *Service) IsRead(ctx context.Context, actor string, msg domain.Message) (bool, error) {
	if msg.AuthorID == actor {
		return true, nil
	}
	m, err := s.Membership(ctx, actor, msg.RoomID)
	if err != nil || m == nil {
		return false, err
	}
	return msg.Seq <= m.LastReadSeq, nil
}

// RoomName is the name a viewer sees: a chat is named after the other member.
func (s *Service) RoomName(ctx context.Context, actor string, room domain.Room) (string, error) {
	if room.Kind != domain.KindChat {
		return room.Name, nil
	}
	other, err := s.store.ChatPartner(ctx, room.ID, actor)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("chat partner: %w", err)
	}
	m, err := s.store.Member(ctx, other)
	if err != nil {
		return "", fmt.Errorf("chat partner: %w", err)
	}
	return m.Name, nil
}

// onlineScanLimit bounds how many memberships OnlineMembers looks at.
const onlineScanLimit = 10_000

// OnlineMembers returns the members of a room who are online now.
func (s *Service) OnlineMembers(ctx context.Context, roomID string) ([]domain.Member, error) {
	ms, err := s.store.RoomMembers(ctx, roomID, MemberPage{Limit: onlineScanLimit})
	if err != nil {
		return nil, fmt.Errorf("online members: %w", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.MemberID
	}
	return s.onlineOf(ctx, ids)
}

// TypingMembers returns the members typing in a room now.
func (s *Service) TypingMembers(ctx context.Context, roomID string) ([]domain.Member, error) {
	ids, err := s.presence.Typing(ctx, roomID, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("typing members: %w", err)
	}
	slices.Sort(ids)
	found, err := s.store.Members(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("typing members: %w", err)
	}
	out := make([]domain.Member, 0, len(ids))
	for _, id := range ids {
		if m, ok := found[id]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Service) onlineOf(ctx context.Context, ids []string) ([]domain.Member, error) {
	online, err := s.presence.Online(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	var on []string
	for _, id := range ids {
		if online[id] {
			on = append(on, id)
		}
	}
	found, err := s.store.Members(ctx, on)
	if err != nil {
		return nil, fmt.Errorf("online members: %w", err)
	}
	out := make([]domain.Member, 0, len(on))
	for _, id := range on {
		if m, ok := found[id]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// Online reports whether a member is online.
func (s *Service) Online(ctx context.Context, memberID string) (bool, error) {
	on, err := s.presence.Online(ctx, []string{memberID})
	if err != nil {
		return false, fmt.Errorf("presence: %w", err)
	}
	return on[memberID], nil
}
