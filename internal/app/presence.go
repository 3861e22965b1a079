package app

import (
	"context"
	"fmt"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Connected records a live connection of the actor (an authenticated
// WebSocket, or an open SSE subscription). When it is their first, they come
// online: their last-seen time is set and their rooms hear ONLINE.
func (s *Service) Connected(ctx context.Context, actor string) error {
	first, err := s.presence.Connect(ctx, actor)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if first {
		s.announce(ctx, actor, domain.SignalOnline)
	}
	return nil
}

// Disconnected records the end of a connection; when it was the actor's last,
// they go offline and their rooms hear OFFLINE. ctx should outlive the
// connection it reports on.
func (s *Service) Disconnected(ctx context.Context, actor string) error {
	last, err := s.presence.Disconnect(ctx, actor)
	if err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	if last {
		s.announce(ctx, actor, domain.SignalOffline)
	}
	return nil
}

func (s *Service) announce(ctx context.Context, actor string, typ domain.SignalType) {
	now := s.clock.Now()
	if err := s.store.TouchLastSeen(ctx, actor, now); err != nil {
		s.log.WarnContext(ctx, "touch last seen", "err", err)
	}
	s.members.Remove(actor)
	rooms, err := s.store.MemberRoomIDs(ctx, actor)
	if err != nil {
		s.log.WarnContext(ctx, "announce presence", "err", err)
		return
	}
	for _, r := range rooms {
		s.signal(ctx, domain.Signal{Type: typ, RoomID: r, MemberID: actor, At: now})
	}
}

// PresenceExpired is told by a shared presence adapter that a member's last
// node stopped refreshing their presence (it died): they are offline now,
// and their rooms hear OFFLINE from the node that noticed.
func (s *Service) PresenceExpired(ctx context.Context, memberID string) {
	s.announce(ctx, memberID, domain.SignalOffline)
}
