// Package app holds the use cases of nordkapp42. Every transport (GraphQL,
// gRPC) calls these and nothing below them, so authorization and validation
// live here once. The ports it needs (Store, Presence, Clock, IDs) are
// declared in ports.go; adapters implement them.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// Config tunes the use cases.
type Config struct {
	// SendRate is the sustained number of messages a member may send per
	// second on this node; 0 disables the limit.
	SendRate float64
	// SendBurst is how many messages a member may send at once above SendRate.
	SendBurst int
	// Observer hears what the use cases do, for metrics; nil hears nothing.
	Observer Observer
	// ReorderWait is how long an event stream waits for a live event that
	// arrived out of order to be followed by the ones before it, before it
	// reads them from the store; 1s when zero.
	ReorderWait time.Duration
	// Workers runs the event streams' workers; nil starts a goroutine for
	// each.
	Workers *workpool.Pool
}

// Observer hears what the use cases do, for metrics. Its methods must not
// block.
type Observer interface {
	// EventsPublished counts room events handed to the fan-out.
	EventsPublished(n int)
	// ReminderScheduled counts a reminder scheduled.
	ReminderScheduled()
	// ReminderFired counts a reminder fired, lateness after its due time.
	ReminderFired(lateness time.Duration)
}

// noObserver is the Observer of a Service given none.
type noObserver struct{}

func (noObserver) EventsPublished(int)         {}
func (noObserver) ReminderScheduled()          {}
func (noObserver) ReminderFired(time.Duration) {}

// Service runs the use cases of the messenger.
type Service struct {
	store    Store
	hub      *realtime.Hub
	presence Presence
	clock    Clock
	ids      IDs
	log      *slog.Logger
	cfg      Config

	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter

	// members caches member rows: every event delivered to every subscriber
	// resolves its author, and a store read per delivery would make the cost
	// of a message grow with its audience. Entries expire so that a change
	// made through another node shows within memberTTL.
	members *lru.Cache[string, cachedMember]

	scheduler Scheduler     // nil: reminders disabled
	outbox    Outbox        // nil on a single node
	published chan EventKey // events to mark published, batched by RunOutbox
}

// cachedMember is a member row and when it was read.
type cachedMember struct {
	m  domain.Member
	at time.Time
}

// Member cache bounds.
const (
	memberCacheSize = 100_000
	memberTTL       = 30 * time.Second
)

// New returns a Service over the given ports.
func New(store Store, hub *realtime.Hub, presence Presence, clock Clock, ids IDs, log *slog.Logger, cfg Config) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.ReorderWait <= 0 {
		cfg.ReorderWait = defaultReorderWait
	}
	s := &Service{
		store: store, hub: hub, presence: presence, clock: clock, ids: ids, log: log, cfg: cfg,
		limiters: make(map[string]*rate.Limiter),
	}
	// lru.New fails only for a size below one.
	s.members, _ = lru.New[string, cachedMember](memberCacheSize)
	return s
}

// EnsureMember provisions the member a token names: created on first use,
// renamed when the token carries a new name. It is called on every
// authenticated request, so it skips the store when nothing changed.
func (s *Service) EnsureMember(ctx context.Context, id, name string) error {
	if err := domain.CheckMemberID(id); err != nil {
		return err
	}
	if domain.ReservedMemberID(id) {
		return domain.Errorf(domain.ErrInvalid, "member id %q is reserved", id)
	}
	if name == "" {
		name = id
	}
	if utf8.RuneCountInString(name) > domain.MaxMemberName {
		// Cut at a character boundary: a byte cut could split a character and
		// store invalid UTF-8.
		name = string([]rune(name)[:domain.MaxMemberName])
	}
	if m, ok := s.cachedMember(id); ok && m.Name == name {
		return nil
	}
	m, err := s.store.EnsureMember(ctx, domain.Member{ID: id, Name: name, CreatedAt: s.clock.Now()})
	if err != nil {
		return fmt.Errorf("provision member: %w", err)
	}
	s.members.Add(id, cachedMember{m: m, at: s.clock.Now()})
	return nil
}

// cachedMember returns a member read less than memberTTL ago.
func (s *Service) cachedMember(id string) (domain.Member, bool) {
	c, ok := s.members.Get(id)
	if !ok || s.clock.Now().Sub(c.at) >= memberTTL {
		return domain.Member{}, false
	}
	return c.m, true
}

// Member returns a member by id.
func (s *Service) Member(ctx context.Context, id string) (domain.Member, error) {
	if err := domain.CheckMemberID(id); err != nil {
		return domain.Member{}, err
	}
	if m, ok := s.cachedMember(id); ok {
		return m, nil
	}
	m, err := s.store.Member(ctx, id)
	if err != nil {
		return domain.Member{}, fmt.Errorf("get member: %w", err)
	}
	s.members.Add(id, cachedMember{m: m, at: s.clock.Now()})
	return m, nil
}

// Members returns the members with the given ids that exist.
func (s *Service) Members(ctx context.Context, ids []string) (map[string]domain.Member, error) {
	ms, err := s.store.Members(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("get members: %w", err)
	}
	return ms, nil
}

// allowSend applies the per-member send rate limit.
func (s *Service) allowSend(memberID string) error {
	if s.cfg.SendRate <= 0 {
		return nil
	}
	s.limitMu.Lock()
	l, ok := s.limiters[memberID]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.cfg.SendRate), max(s.cfg.SendBurst, 1))
		s.limiters[memberID] = l
	}
	s.limitMu.Unlock()
	if !l.AllowN(s.clock.Now(), 1) {
		return domain.Errorf(domain.ErrRateLimited, "sending too fast: the limit is %g messages per second", s.cfg.SendRate)
	}
	return nil
}

// publish hands committed events to the hub. The events are durable already,
// so a failed publish is logged, not returned: subscribers notice the gap at
// the next event and read the store, and with an outbox the relay publishes
// the event again.
func (s *Service) publish(ctx context.Context, events []domain.Event) {
	for i := range events {
		if err := s.publishEvent(ctx, &events[i]); err != nil {
			s.log.WarnContext(ctx, "publish event", "room", events[i].RoomID, "seq", events[i].Seq, "err", err)
			continue
		}
		s.markPublished(EventKey{RoomID: events[i].RoomID, Seq: events[i].Seq})
	}
}

// publishEvent publishes one event on its room's topic, and a membership
// event also on the topic of the member it is about.
func (s *Service) publishEvent(ctx context.Context, e *domain.Event) error {
	env := realtime.Envelope{Event: e}
	if err := s.hub.Publish(ctx, realtime.RoomTopic(e.RoomID), env); err != nil {
		return err
	}
	s.cfg.Observer.EventsPublished(1)
	if e.Type == domain.EventMemberJoined || e.Type == domain.EventMemberLeft {
		return s.hub.Publish(ctx, realtime.MemberTopic(e.MemberID), env)
	}
	return nil
}

// signal publishes an ephemeral signal to the room's activity topic.
func (s *Service) signal(ctx context.Context, sig domain.Signal, topics ...string) {
	for _, t := range append([]string{realtime.ActivityTopic(sig.RoomID)}, topics...) {
		if err := s.hub.Publish(ctx, t, realtime.Envelope{Signal: &sig}); err != nil {
			s.log.WarnContext(ctx, "publish signal", "type", sig.Type, "err", err)
		}
	}
}
