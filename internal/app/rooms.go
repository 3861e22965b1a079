package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

func checkRoomID(id string) error {
	if !ulids.Valid(id) {
		return domain.Errorf(domain.ErrInvalid, "malformed room id %q", id)
	}
	return nil
}

func roomNotFound(id string) error { return domain.Errorf(domain.ErrNotFound, "room %s not found", id) }

// membershipOf turns a store lookup into a pointer that is nil when the member
// is not in the room.
func membershipOf(m domain.Membership, err error) (*domain.Membership, error) {
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// Room returns a room the actor may see, with the actor's membership (nil
// when not a member). A private room the actor is not in is not found.
func (s *Service) Room(ctx context.Context, actor, roomID string) (domain.Room, *domain.Membership, error) {
	if err := checkRoomID(roomID); err != nil {
		return domain.Room{}, nil, err
	}
	room, err := s.store.Room(ctx, roomID)
	if err != nil {
		return domain.Room{}, nil, fmt.Errorf("get room: %w", err)
	}
	m, err := membershipOf(s.store.Membership(ctx, roomID, actor))
	if err != nil {
		return domain.Room{}, nil, fmt.Errorf("get membership: %w", err)
	}
	if !domain.CanView(room, m) {
		return domain.Room{}, nil, roomNotFound(roomID)
	}
	return room, m, nil
}

// lockRoom loads and locks a room inside a transaction, with the actor's
// membership; a room the actor may not see is not found.
func lockRoom(ctx context.Context, tx Tx, actor, roomID string) (domain.Room, *domain.Membership, error) {
	if err := checkRoomID(roomID); err != nil {
		return domain.Room{}, nil, err
	}
	room, err := tx.Room(ctx, roomID)
	if err != nil {
		return domain.Room{}, nil, err
	}
	m, err := membershipOf(tx.Membership(ctx, roomID, actor))
	if err != nil {
		return domain.Room{}, nil, err
	}
	if !domain.CanView(room, m) {
		return domain.Room{}, nil, roomNotFound(roomID)
	}
	return room, m, nil
}

func requireManager(m *domain.Membership) error {
	if m == nil || !m.Role.Manager() {
		return domain.Errorf(domain.ErrForbidden, "only owners and admins manage the room")
	}
	return nil
}

// memberIDs checks, de-duplicates and drops the actor from a list of ids.
func memberIDs(actor string, ids []string) ([]string, error) {
	if len(ids) > domain.MaxMembersPerAdd {
		return nil, domain.Errorf(domain.ErrInvalid, "%d member ids given; the limit is %d", len(ids), domain.MaxMembersPerAdd)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := domain.CheckMemberID(id); err != nil {
			return nil, err
		}
		if id != actor && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func requireMembers(ctx context.Context, tx Tx, ids []string) error {
	found, err := tx.Members(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
		}
	}
	return nil
}

// join adds a membership and its MEMBER_JOINED event.
func (s *Service) join(ctx context.Context, tx Tx, room domain.Room, actor, memberID string, role domain.Role) (domain.Event, error) {
	now := s.clock.Now()
	if err := tx.PutMembership(ctx, domain.Membership{RoomID: room.ID, MemberID: memberID, Role: role, JoinedAt: now}); err != nil {
		return domain.Event{}, err
	}
	return tx.AppendEvent(ctx, domain.Event{RoomID: room.ID, Type: domain.EventMemberJoined, At: now, ActorID: actor, MemberID: memberID, Role: role})
}

// CreateRoom creates a group or channel owned by the actor, with the given
// members in it.
func (s *Service) CreateRoom(ctx context.Context, actor string, kind domain.RoomKind, name string, members []string) (domain.Room, error) {
	if !kind.Valid() {
		return domain.Room{}, domain.Errorf(domain.ErrInvalid, "unknown room kind %q", kind)
	}
	if kind == domain.KindChat {
		return domain.Room{}, domain.Errorf(domain.ErrInvalid, "a CHAT is opened with openChat, not created")
	}
	name, err := domain.NormalizeRoomName(name)
	if err != nil {
		return domain.Room{}, err
	}
	ids, err := memberIDs(actor, members)
	if err != nil {
		return domain.Room{}, err
	}
	now := s.clock.Now()
	room := domain.Room{ID: s.ids.New(), Kind: kind, Name: name, CreatedAt: now, UpdatedAt: now}
	var events []domain.Event
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		events = events[:0]
		if err := requireMembers(ctx, tx, ids); err != nil {
			return err
		}
		if err := tx.InsertRoom(ctx, room); err != nil {
			return err
		}
		if _, err := tx.Room(ctx, room.ID); err != nil {
			return err
		}
		for i, id := range append([]string{actor}, ids...) {
			role := domain.RoleMember
			if i == 0 {
				role = domain.RoleOwner
			}
			e, err := s.join(ctx, tx, room, actor, id, role)
			if err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return domain.Room{}, fmt.Errorf("create room: %w", err)
	}
	s.publish(ctx, events)
	return s.reloadRoom(ctx, room.ID)
}

// reloadRoom returns the room as committed, after a change to it.
func (s *Service) reloadRoom(ctx context.Context, roomID string) (domain.Room, error) {
	room, err := s.store.Room(ctx, roomID)
	if err != nil {
		return domain.Room{}, fmt.Errorf("reload room: %w", err)
	}
	return room, nil
}

// OpenChat returns the 1-1 chat between the actor and another member,
// creating it on first use. Calling it again, from either side, returns the
// same room.
func (s *Service) OpenChat(ctx context.Context, actor, other string) (domain.Room, error) {
	if err := domain.CheckMemberID(other); err != nil {
		return domain.Room{}, err
	}
	if other == actor {
		return domain.Room{}, domain.Errorf(domain.ErrInvalid, "a chat needs another member")
	}
	key := domain.ChatKey(actor, other)
	for attempt := 0; ; attempt++ {
		var events []domain.Event
		var found domain.Room
		err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
			events = events[:0]
			existing, err := tx.ChatByKey(ctx, key)
			if err == nil {
				found = existing
				return nil
			}
			if !errors.Is(err, domain.ErrNotFound) {
				return err
			}
			if err := requireMembers(ctx, tx, []string{other}); err != nil {
				return err
			}
			now := s.clock.Now()
			found = domain.Room{ID: s.ids.New(), Kind: domain.KindChat, ChatKey: key, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertRoom(ctx, found); err != nil {
				return err
			}
			if _, err := tx.Room(ctx, found.ID); err != nil {
				return err
			}
			for _, id := range []string{actor, other} {
				e, err := s.join(ctx, tx, found, actor, id, domain.RoleMember)
				if err != nil {
					return err
				}
				events = append(events, e)
			}
			return nil
		})
		// Two first calls may race; the loser finds the winner's chat on retry.
		if errors.Is(err, domain.ErrConflict) && attempt == 0 {
			continue
		}
		if err != nil {
			return domain.Room{}, fmt.Errorf("open chat: %w", err)
		}
		s.publish(ctx, events)
		return s.reloadRoom(ctx, found.ID)
	}
}

// changeRoom runs change on the room, locked and checked visible to the
// actor, in one transaction, then publishes the events change appended.
func (s *Service) changeRoom(ctx context.Context, actor, roomID, what string,
	change func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error),
) error {
	var events []domain.Event
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		room, m, err := lockRoom(ctx, tx, actor, roomID)
		if err != nil {
			return err
		}
		events, err = change(ctx, tx, room, m)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	s.publish(ctx, events)
	return nil
}

// UpdateRoom renames a group or channel.
func (s *Service) UpdateRoom(ctx context.Context, actor, roomID, name string) (domain.Room, error) {
	name, err := domain.NormalizeRoomName(name)
	if err != nil {
		return domain.Room{}, err
	}
	err = s.changeRoom(ctx, actor, roomID, "update room", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if room.Kind == domain.KindChat {
			return nil, domain.Errorf(domain.ErrForbidden, "a chat cannot be renamed")
		}
		if err := requireManager(m); err != nil || room.Name == name {
			return nil, err
		}
		if err := tx.RenameRoom(ctx, roomID, name); err != nil {
			return nil, err
		}
		e, err := tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventRoomUpdated, At: s.clock.Now(), ActorID: actor})
		return []domain.Event{e}, err
	})
	if err != nil {
		return domain.Room{}, err
	}
	return s.reloadRoom(ctx, roomID)
}

// JoinRoom makes the actor a member of a public room. Joining a room one is
// in already changes nothing.
func (s *Service) JoinRoom(ctx context.Context, actor, roomID string) (domain.Room, error) {
	err := s.changeRoom(ctx, actor, roomID, "join room", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if m != nil {
			return nil, nil
		}
		if !room.Kind.Public() {
			return nil, roomNotFound(roomID)
		}
		e, err := s.join(ctx, tx, room, actor, actor, domain.RoleMember)
		return []domain.Event{e}, err
	})
	if err != nil {
		return domain.Room{}, err
	}
	return s.reloadRoom(ctx, roomID)
}

// leave removes a membership; when the owner leaves, ownership passes to the
// longest-standing admin, else member.
func (s *Service) leave(ctx context.Context, tx Tx, room domain.Room, actor string, gone domain.Membership) ([]domain.Event, error) {
	now := s.clock.Now()
	var events []domain.Event
	if err := tx.DeleteMembership(ctx, room.ID, gone.MemberID); err != nil {
		return nil, err
	}
	e, err := tx.AppendEvent(ctx, domain.Event{RoomID: room.ID, Type: domain.EventMemberLeft, At: now, ActorID: actor, MemberID: gone.MemberID})
	if err != nil {
		return nil, err
	}
	events = append(events, e)
	if gone.Role != domain.RoleOwner {
		return events, nil
	}
	rest, err := tx.Memberships(ctx, room.ID)
	if err != nil {
		return nil, err
	}
	next, ok := domain.NextOwner(rest)
	if !ok || next.Role == domain.RoleOwner {
		return events, nil
	}
	next.Role = domain.RoleOwner
	if err := tx.PutMembership(ctx, next); err != nil {
		return nil, err
	}
	e, err = tx.AppendEvent(ctx, domain.Event{RoomID: room.ID, Type: domain.EventRoleChanged, At: now, ActorID: actor, MemberID: next.MemberID, Role: domain.RoleOwner})
	if err != nil {
		return nil, err
	}
	return append(events, e), nil
}

// LeaveRoom removes the actor from a room. A chat cannot be left.
func (s *Service) LeaveRoom(ctx context.Context, actor, roomID string) error {
	return s.changeRoom(ctx, actor, roomID, "leave room", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if m == nil {
			return nil, domain.Errorf(domain.ErrNotFound, "you are not a member of room %s", roomID)
		}
		if room.Kind == domain.KindChat {
			return nil, domain.Errorf(domain.ErrForbidden, "a chat cannot be left")
		}
		return s.leave(ctx, tx, room, actor, *m)
	})
}

// AddRoomMembers adds members to a group or channel; members already in it
// are left as they are.
func (s *Service) AddRoomMembers(ctx context.Context, actor, roomID string, members []string) (domain.Room, error) {
	ids, err := memberIDs(actor, members)
	if err != nil {
		return domain.Room{}, err
	}
	err = s.changeRoom(ctx, actor, roomID, "add room members", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if room.Kind == domain.KindChat {
			return nil, domain.Errorf(domain.ErrForbidden, "nobody is added to a chat")
		}
		if err := requireManager(m); err != nil {
			return nil, err
		}
		if err := requireMembers(ctx, tx, ids); err != nil {
			return nil, err
		}
		var events []domain.Event
		for _, id := range ids {
			existing, err := membershipOf(tx.Membership(ctx, roomID, id))
			if err != nil {
				return nil, err
			}
			if existing != nil {
				continue
			}
			e, err := s.join(ctx, tx, room, actor, id, domain.RoleMember)
			if err != nil {
				return nil, err
			}
			events = append(events, e)
		}
		return events, nil
	})
	if err != nil {
		return domain.Room{}, err
	}
	return s.reloadRoom(ctx, roomID)
}

// RemoveRoomMember removes a member from a group or channel. Admins cannot
// remove the owner; removing oneself is leaving.
func (s *Service) RemoveRoomMember(ctx context.Context, actor, roomID, memberID string) (domain.Room, error) {
	if err := domain.CheckMemberID(memberID); err != nil {
		return domain.Room{}, err
	}
	err := s.changeRoom(ctx, actor, roomID, "remove room member", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if room.Kind == domain.KindChat {
			return nil, domain.Errorf(domain.ErrForbidden, "nobody is removed from a chat")
		}
		if memberID != actor {
			if err := requireManager(m); err != nil {
				return nil, err
			}
		} else if m == nil {
			return nil, domain.Errorf(domain.ErrNotFound, "you are not a member of room %s", roomID)
		}
		target, err := membershipOf(tx.Membership(ctx, roomID, memberID))
		if err != nil {
			return nil, err
		}
		if target == nil {
			return nil, domain.Errorf(domain.ErrNotFound, "member %s is not in room %s", memberID, roomID)
		}
		if target.Role == domain.RoleOwner && memberID != actor {
			return nil, domain.Errorf(domain.ErrForbidden, "the owner cannot be removed")
		}
		return s.leave(ctx, tx, room, actor, *target)
	})
	if err != nil {
		return domain.Room{}, err
	}
	return s.reloadRoom(ctx, roomID)
}

// SetRoomRole changes a member's role; only the owner does. Making another
// member OWNER hands ownership over: the old owner becomes an admin.
func (s *Service) SetRoomRole(ctx context.Context, actor, roomID, memberID string, role domain.Role) (domain.Membership, error) {
	if !role.Valid() {
		return domain.Membership{}, domain.Errorf(domain.ErrInvalid, "unknown role %q", role)
	}
	if err := domain.CheckMemberID(memberID); err != nil {
		return domain.Membership{}, err
	}
	var result domain.Membership
	err := s.changeRoom(ctx, actor, roomID, "set room role", func(ctx context.Context, tx Tx, room domain.Room, m *domain.Membership) ([]domain.Event, error) {
		if room.Kind == domain.KindChat {
			return nil, domain.Errorf(domain.ErrForbidden, "a chat has no roles")
		}
		if m == nil || m.Role != domain.RoleOwner {
			return nil, domain.Errorf(domain.ErrForbidden, "only the owner sets roles")
		}
		if memberID == actor {
			return nil, domain.Errorf(domain.ErrInvalid, "the owner hands ownership over by making another member OWNER")
		}
		target, err := membershipOf(tx.Membership(ctx, roomID, memberID))
		if err != nil {
			return nil, err
		}
		if target == nil {
			return nil, domain.Errorf(domain.ErrNotFound, "member %s is not in room %s", memberID, roomID)
		}
		result = *target
		if target.Role == role {
			return nil, nil
		}
		var events []domain.Event
		change := func(ms domain.Membership, r domain.Role) error {
			ms.Role = r
			if err := tx.PutMembership(ctx, ms); err != nil {
				return err
			}
			e, err := tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventRoleChanged, At: s.clock.Now(), ActorID: actor, MemberID: ms.MemberID, Role: r})
			events = append(events, e)
			return err
		}
		result.Role = role
		if err := change(*target, role); err != nil {
			return nil, err
		}
		if role == domain.RoleOwner {
			return events, change(*m, domain.RoleAdmin)
		}
		return events, nil
	})
	if err != nil {
		return domain.Membership{}, err
	}
	return result, nil
}

// RoomIfVisible returns a room the actor may see.
func (s *Service) RoomIfVisible(ctx context.Context, actor, roomID string) (domain.Room, error) {
	room, _, err := s.Room(ctx, actor, roomID)
	return room, err
}
