package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// This file holds the use cases of callers that are services rather than
// members: the internal gRPC API names the member it acts for in each
// request, provisions members explicitly and posts as the system.

// CheckActor checks that id names a member a service may act for: a
// well-formed id that is not reserved, of a member that exists. A member
// acting through GraphQL is provisioned from their token; one named by a
// service must have been provisioned (UpsertMember) before.
func (s *Service) CheckActor(ctx context.Context, id string) error {
	if err := domain.CheckMemberID(id); err != nil {
		return domain.Errorf(domain.ErrInvalid, "malformed actor id")
	}
	if domain.ReservedMemberID(id) {
		return domain.Errorf(domain.ErrInvalid, "actor id %q is reserved", id)
	}
	if _, err := s.Member(ctx, id); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Errorf(domain.ErrNotFound, "member %s not found: provision them first", id)
		}
		return err
	}
	return nil
}

// UpsertMember creates a member, or renames an existing one, and returns the
// member as stored. An empty name keeps an existing member's name and names
// a new member after their id. Unlike EnsureMember, which trims a name a
// token carries, a name that is too long is refused: the caller chose it.
func (s *Service) UpsertMember(ctx context.Context, id, name string) (domain.Member, error) {
	if err := domain.CheckMemberID(id); err != nil {
		return domain.Member{}, err
	}
	if domain.ReservedMemberID(id) {
		return domain.Member{}, domain.Errorf(domain.ErrInvalid, "member id %q is reserved", id)
	}
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n > domain.MaxMemberName {
		return domain.Member{}, domain.Errorf(domain.ErrInvalid, "member name is %d characters long; the limit is %d", n, domain.MaxMemberName)
	}
	if name == "" {
		m, err := s.store.Member(ctx, id)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return domain.Member{}, fmt.Errorf("upsert member: %w", err)
		}
		name = id
	}
	// The store updates the name of an existing member when it differs.
	m, err := s.store.EnsureMember(ctx, domain.Member{ID: id, Name: name, CreatedAt: s.clock.Now()})
	if err != nil {
		return domain.Member{}, fmt.Errorf("upsert member: %w", err)
	}
	s.members.Add(id, cachedMember{m: m, at: s.clock.Now()})
	return m, nil
}

// PostSystemMessage posts text into a room as the service member
// (domain.ServiceMemberID), on behalf of another service: it needs no
// membership and is not rate limited. A repeat with the same non-empty
// clientMessageID returns the first message and posts nothing.
func (s *Service) PostSystemMessage(ctx context.Context, roomID, text, clientMessageID string) (domain.Message, error) {
	if err := checkRoomID(roomID); err != nil {
		return domain.Message{}, err
	}
	text, err := domain.NormalizeText(text)
	if err != nil {
		return domain.Message{}, err
	}
	if utf8.RuneCountInString(clientMessageID) > domain.MaxClientMsgID {
		return domain.Message{}, domain.Errorf(domain.ErrInvalid, "clientMessageId is longer than %d characters", domain.MaxClientMsgID)
	}
	author := domain.Member{ID: domain.ServiceMemberID, Name: domain.ServiceMemberName}
	msg, err := s.postAs(ctx, author, roomID, text, clientMessageID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Message{}, roomNotFound(roomID)
	}
	if err != nil {
		return domain.Message{}, fmt.Errorf("post system message: %w", err)
	}
	return msg, nil
}

// postAs posts a message authored by one of nordkapp42's own members into a
// room, once per non-empty clientMessageID, creating the member on first
// use. It checks no permission: the system may post anywhere.
func (s *Service) postAs(ctx context.Context, author domain.Member, roomID, text, clientMessageID string) (domain.Message, error) {
	if err := s.ensureOwnMember(ctx, author); err != nil {
		return domain.Message{}, err
	}
	var msg domain.Message
	var events []domain.Event
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		events = events[:0]
		if _, err := tx.Room(ctx, roomID); err != nil {
			return err
		}
		var e *domain.Event
		var err error
		if msg, e, err = s.appendMessage(ctx, tx, roomID, author.ID, text, clientMessageID); err != nil || e == nil {
			return err
		}
		events = append(events, *e)
		return nil
	})
	if err != nil {
		return domain.Message{}, err
	}
	s.publish(ctx, events)
	return msg, nil
}

// ensureOwnMember creates one of nordkapp42's own members, or gives it back
// its name, unless the cache says it is as it should be.
func (s *Service) ensureOwnMember(ctx context.Context, want domain.Member) error {
	if m, ok := s.cachedMember(want.ID); ok && m.Name == want.Name {
		return nil
	}
	want.CreatedAt = s.clock.Now()
	m, err := s.store.EnsureMember(ctx, want)
	if err != nil {
		return fmt.Errorf("system member %s: %w", want.ID, err)
	}
	s.members.Add(m.ID, cachedMember{m: m, at: s.clock.Now()})
	return nil
}
