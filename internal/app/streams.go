package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

// Streams hand their output to the transport through a small buffer; the
// real bound is the hub's per-subscription queue behind it.
const streamBuffer = 32

// catchUpPage is how many events one store read returns while catching up.
const catchUpPage = 500

// MyRoomsInterval is the least time between two emissions of MyRooms.
const MyRoomsInterval = 250 * time.Millisecond

// myRoomsLimit bounds the room list MyRooms emits.
const myRoomsLimit = MaxPageSize

// errStreamEnd ends a stream normally: its viewer may no longer see it.
var errStreamEnd = errors.New("end of stream")

// Done is told how a stream ended just before its channel closes: nil when the
// subscriber went away or the stream ended normally, otherwise why.
type Done func(err error)

// RoomEvents streams the durable events of a room the actor may see. With
// after (an event cursor of this room) it first replays every event after it
// from the store, then goes live; without, it starts with the next event.
// Every event is delivered once, in sequence order, with no gap: live events
// already seen are dropped and a gap is filled from the store.
func (s *Service) RoomEvents(ctx context.Context, actor, roomID string, after *string, done Done) (<-chan *domain.Event, error) {
	out, deliver := channelDelivery()
	if err := s.FollowRoomEvents(ctx, actor, roomID, after, deliver, closing(out, done)); err != nil {
		return nil, err
	}
	return out, nil
}

// Deliver hands one event of a stream to its consumer. committed is when
// the event committed if it came live from the fan-out, zero if it was read
// back from the store (a replay after a cursor, or a gap filled). It blocks
// while the consumer is not ready, and returns false, dropping the event,
// when ctx ends or abort closes first (the hub has ended the subscription);
// the stream then ends. Events of one stream are delivered one at a time, in
// order.
type Deliver func(ctx context.Context, e *domain.Event, committed time.Time, abort <-chan struct{}) bool

// FollowRoomEvents is RoomEvents for consumers that take events through a
// callback instead of a channel, with the same guarantees. It checks access
// and the cursor, then streams from a goroutine of its own until ctx ends or
// the stream ends, and then calls done once (after the last deliver).
func (s *Service) FollowRoomEvents(ctx context.Context, actor, roomID string, after *string, deliver Deliver, done Done) error {
	room, _, err := s.Room(ctx, actor, roomID)
	if err != nil {
		return err
	}
	from := int64(-1)
	if after != nil {
		cursorRoom, seq, err := ParseEventCursor(*after)
		if err != nil {
			return err
		}
		if cursorRoom != roomID {
			return domain.Errorf(domain.ErrInvalid, "cursor belongs to another room")
		}
		from = seq
	}
	sub, err := s.hub.Subscribe(ctx, realtime.RoomTopic(roomID))
	if err != nil {
		return fmt.Errorf("subscribe room events: %w", err)
	}
	// Read the position only now that the subscription is live, so that
	// nothing committed in between is missed.
	if room, err = s.store.Room(ctx, roomID); err != nil {
		sub.Close()
		return fmt.Errorf("subscribe room events: %w", err)
	}
	if from > room.Seq {
		// A cursor from the future would silently swallow the events up to it.
		sub.Close()
		return domain.Errorf(domain.ErrInvalid, "cursor is ahead of the room's latest event")
	}
	if from < 0 {
		from = room.Seq
	}
	f := &follower{s: s, actor: actor, sub: sub, pos: map[string]int64{roomID: from}, deliver: deliver}
	f.start(ctx, done, func(ctx context.Context) error { return f.catchUp(ctx, roomID) })
	return nil
}

// channelDelivery is a Deliver that sends into a buffered channel.
func channelDelivery() (chan *domain.Event, Deliver) {
	out := make(chan *domain.Event, streamBuffer)
	return out, func(ctx context.Context, e *domain.Event, _ time.Time, abort <-chan struct{}) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		case <-abort:
			return false
		}
	}
}

// closing closes out after done has been told why the stream ended, so that
// a consumer that sees the channel close can read the reason.
func closing(out chan *domain.Event, done Done) Done {
	return func(err error) {
		if done != nil {
			done(err)
		}
		close(out)
	}
}

// MyEvents streams the durable events of every room the actor is in, with
// the same per-room guarantees as RoomEvents. Rooms the actor joins or is
// added to join the stream with their MEMBER_JOINED event; rooms the actor
// leaves drop out after their MEMBER_LEFT event.
func (s *Service) MyEvents(ctx context.Context, actor string, done Done) (<-chan *domain.Event, error) {
	out, deliver := channelDelivery()
	if err := s.FollowMyEvents(ctx, actor, deliver, closing(out, done)); err != nil {
		return nil, err
	}
	return out, nil
}

// FollowMyEvents is MyEvents for consumers that take events through a
// callback; see FollowRoomEvents.
func (s *Service) FollowMyEvents(ctx context.Context, actor string, deliver Deliver, done Done) error {
	sub, pos, err := s.followMyRooms(ctx, actor)
	if err != nil {
		return fmt.Errorf("subscribe my events: %w", err)
	}
	f := &follower{s: s, actor: actor, sub: sub, pos: pos, all: true, deliver: deliver}
	f.start(ctx, done, nil)
	return nil
}

// followMyRooms subscribes to the actor's member topic and to each of their
// rooms, and returns each room's position as of after the subscription.
func (s *Service) followMyRooms(ctx context.Context, actor string) (*realtime.Subscription, map[string]int64, error) {
	sub, err := s.hub.Subscribe(ctx, realtime.MemberTopic(actor))
	if err != nil {
		return nil, nil, err
	}
	ids, err := s.store.MemberRoomIDs(ctx, actor)
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	pos := make(map[string]int64, len(ids))
	for _, id := range ids {
		if err := sub.Add(ctx, realtime.RoomTopic(id)); err != nil {
			sub.Close()
			return nil, nil, err
		}
		room, err := s.store.Room(ctx, id)
		if err != nil {
			sub.Close()
			return nil, nil, err
		}
		pos[id] = room.Seq
	}
	return sub, pos, nil
}

// follower turns the live envelopes of a hub subscription into gap-free,
// duplicate-free, ordered per-room event streams.
//
// A follower has no goroutine of its own while it waits: the hub's OnReady,
// the context's end and the reorder timer each start a worker (kick) unless
// one is running, and the worker returns once nothing is left to do. A room
// with thousands of idle subscribers then costs no goroutine stacks, and a
// busy one a worker per subscriber only while its events are handed on.
// Workers run one at a time (running), so the fields below need no lock.
type follower struct {
	s     *Service
	ctx   context.Context
	done  Done
	actor string
	sub   *realtime.Subscription
	pos   map[string]int64 // room → seq of the last event delivered
	all   bool             // following all the actor's rooms (MyEvents)
	// held are live events ahead of their room's position, by room, in seq
	// order; the gap timer sets gapDue when the oldest gap has waited
	// Config.ReorderWait.
	held     map[string][]*domain.Event
	gapTimer *time.Timer
	gapArmed bool
	gapDue   atomic.Bool
	// deliver hands each event to the consumer.
	deliver Deliver

	running  atomic.Bool // a worker runs
	finished bool        // the stream has ended and done was called
	stopCtx  func() bool // unregisters the kick on ctx's end
	resume   func()      // f.work(nil), made once rather than per kick
}

// start runs the follower: start (when not nil) first, then whatever the
// subscription brings, until ctx ends or the stream ends; done is called once.
func (f *follower) start(ctx context.Context, done Done, start func(context.Context) error) {
	f.ctx, f.done = ctx, done
	f.resume = func() { f.work(nil) }
	f.running.Store(true)
	f.sub.OnReady(f.kick)
	f.stopCtx = context.AfterFunc(ctx, f.kick)
	f.s.cfg.Workers.Go(func() { f.work(start) })
}

// kick starts a worker unless one is running.
func (f *follower) kick() {
	if f.running.CompareAndSwap(false, true) {
		f.s.cfg.Workers.Go(f.resume)
	}
}

// work handles what is due, then returns. A kick that came while it was
// busy found running set and started nothing, so before returning the worker
// looks once more, after clearing running, and goes on if there is work and
// no other worker took it.
func (f *follower) work(start func(context.Context) error) {
	for {
		if !f.finished {
			if ended, err := f.steps(start); ended {
				f.finish(err)
			}
			start = nil
		}
		finished := f.finished // read before another worker may start
		f.running.Store(false)
		if finished || !f.due() || !f.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// due reports whether a worker has something to do.
func (f *follower) due() bool {
	return f.ctx.Err() != nil || f.gapDue.Load() || f.sub.Pending()
}

// finish ends the stream: done is told why, then the subscription is closed.
func (f *follower) finish(err error) {
	f.finished = true
	f.stopCtx()
	if f.gapTimer != nil {
		f.gapTimer.Stop()
	}
	if errors.Is(err, errStreamEnd) || f.ctx.Err() != nil {
		err = nil
	}
	if f.done != nil {
		f.done(err)
	}
	f.sub.Close()
}

// steps handles everything due now, and reports ended (with why) when the
// stream is over.
func (f *follower) steps(start func(context.Context) error) (ended bool, err error) {
	ctx := f.ctx
	if start != nil {
		if err := start(ctx); err != nil {
			return true, err
		}
	}
	for {
		if ctx.Err() != nil {
			return true, nil
		}
		env, ok := f.sub.Next()
		if !ok && f.gapDue.Swap(false) {
			// Only once the queue is empty: the missing events may be in it,
			// behind a consumer that is slow to take them.
			f.gapArmed = false
			if err := f.fillGaps(ctx); err != nil {
				return true, err
			}
			continue
		}
		if !ok {
			select {
			case <-f.sub.Done():
				if env, ok = f.sub.Next(); !ok {
					return true, f.sub.Err()
				}
			default:
				return false, nil
			}
		}
		switch {
		case env.Event != nil:
			err = f.take(ctx, env.Event)
		case env.Resync != "":
			err = f.resync(ctx, env.Resync)
		}
		if err != nil {
			return true, err
		}
	}
}

// Events of one room can reach a node out of order: concurrent senders
// publish after their commits in whatever order their goroutines run, and
// nodes publish independently. A follower that meets a gap holds the early
// event for up to Config.ReorderWait, expecting the missing ones to arrive live,
// and reads the store only if they do not (or more than reorderMax pile
// up). Reading the store at once would make every subscriber of a busy room
// read and encode the same events on its own.
const (
	defaultReorderWait = time.Second
	reorderMax         = 256
)

// hold keeps e, which is ahead of its room's position, until the events
// before it arrive; it reports false when too many are held already.
func (f *follower) hold(e *domain.Event) bool {
	held := f.held[e.RoomID]
	i, found := slices.BinarySearchFunc(held, e.Seq, func(h *domain.Event, seq int64) int { return cmp.Compare(h.Seq, seq) })
	if found {
		return true
	}
	if len(held) >= reorderMax {
		return false
	}
	if f.held == nil {
		f.held = map[string][]*domain.Event{}
	}
	f.held[e.RoomID] = slices.Insert(held, i, e)
	if !f.gapArmed {
		f.armGapTimer()
	}
	return true
}

// armGapTimer has a worker fill the gaps after Config.ReorderWait.
func (f *follower) armGapTimer() {
	f.gapArmed = true
	if f.gapTimer == nil {
		f.gapTimer = time.AfterFunc(f.s.cfg.ReorderWait, func() {
			f.gapDue.Store(true)
			f.kick()
		})
		return
	}
	f.gapTimer.Reset(f.s.cfg.ReorderWait)
}

// release emits the held events of the room that follow its position, in
// order, and drops those already delivered.
func (f *follower) release(ctx context.Context, roomID string) error {
	for len(f.held[roomID]) > 0 {
		last, tracked := f.pos[roomID]
		e := f.held[roomID][0]
		if !tracked || e.Seq > last+1 {
			break
		}
		f.held[roomID] = f.held[roomID][1:]
		if e.Seq == last+1 {
			if err := f.emit(ctx, e, true); err != nil {
				return err
			}
		}
	}
	if _, tracked := f.pos[roomID]; !tracked || len(f.held[roomID]) == 0 {
		delete(f.held, roomID)
	}
	return nil
}

// fillGaps reads from the store the events missing before those held for
// too long, and releases what follows them. Only the gaps are read: the
// events after the held ones are on their way live, and reading them too
// would have every subscriber of a busy room execute them on its own.
func (f *follower) fillGaps(ctx context.Context) error {
	for _, roomID := range slices.Collect(maps.Keys(f.held)) {
		held := f.held[roomID]
		if len(held) == 0 {
			continue
		}
		if err := f.readStore(ctx, roomID, held[0].Seq-1); err != nil {
			return err
		}
		if err := f.release(ctx, roomID); err != nil {
			return err
		}
	}
	if len(f.held) > 0 && !f.gapArmed {
		// Events held past what the store had: wait for them once more.
		f.armGapTimer()
	}
	return nil
}

// take handles one live event.
func (f *follower) take(ctx context.Context, e *domain.Event) error {
	last, tracked := f.pos[e.RoomID]
	if !tracked {
		if !f.all || e.Type != domain.EventMemberJoined || e.MemberID != f.actor {
			return nil
		}
		// Added to a new room: follow it from this event on. Whatever the room
		// published before its topic was joined never reached us, and no later
		// event may come to reveal the gap, so read it from the store, which
		// has everything up to e.
		if err := f.sub.Add(ctx, realtime.RoomTopic(e.RoomID)); err != nil {
			return err
		}
		f.pos[e.RoomID] = e.Seq - 1
		return f.catchUp(ctx, e.RoomID)
	}
	switch {
	case e.Seq <= last:
		return nil // seen already
	case e.Seq > last+1:
		if f.hold(e) {
			return nil
		}
		return f.catchUp(ctx, e.RoomID) // a gap: the store has everything up to e
	}
	if err := f.emit(ctx, e, true); err != nil {
		return err
	}
	return f.release(ctx, e.RoomID)
}

// resync recovers from envelopes the broker may have lost on topic: a room
// topic reads the room's events after its position from the store; the
// actor's member topic looks for rooms joined meanwhile (followed from their
// current position: the MEMBER_JOINED itself is not replayed) and reads every
// followed room, which delivers the MEMBER_LEFT of rooms left meanwhile.
func (f *follower) resync(ctx context.Context, topic string) error {
	if roomID, ok := realtime.RoomOfTopic(topic); ok {
		return f.catchUp(ctx, roomID)
	}
	if !f.all {
		return nil
	}
	ids, err := f.s.store.MemberRoomIDs(ctx, f.actor)
	if err != nil {
		return fmt.Errorf("resync rooms: %w", err)
	}
	for _, id := range ids {
		if _, tracked := f.pos[id]; tracked {
			continue
		}
		if err := f.sub.Add(ctx, realtime.RoomTopic(id)); err != nil {
			return err
		}
		room, err := f.s.store.Room(ctx, id)
		if err != nil {
			return fmt.Errorf("resync rooms: %w", err)
		}
		f.pos[id] = room.Seq
	}
	for id := range f.pos {
		if err := f.catchUp(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// catchUp delivers from the store every event of the room after its position.
func (f *follower) catchUp(ctx context.Context, roomID string) error {
	if err := f.readStore(ctx, roomID, math.MaxInt64); err != nil {
		return err
	}
	return f.release(ctx, roomID)
}

// readStore delivers from the store the events of the room after its
// position, up to seq until.
func (f *follower) readStore(ctx context.Context, roomID string, until int64) error {
	for {
		last, tracked := f.pos[roomID]
		if !tracked {
			return nil
		}
		limit := int64(catchUpPage)
		if until-last < limit {
			limit = until - last
		}
		if limit <= 0 {
			return nil
		}
		events, err := f.events(ctx, roomID, last, int(limit))
		if err != nil {
			return fmt.Errorf("read room events: %w", err)
		}
		for i := range events {
			if _, tracked := f.pos[roomID]; !tracked {
				return nil
			}
			if err := f.emit(ctx, &events[i], false); err != nil {
				return err
			}
		}
		if int64(len(events)) < limit {
			return nil
		}
	}
}

// Store outages do not end streams: a read that finds the store unavailable
// is retried with a growing pause, so subscriptions outlive a database
// restart. Nothing new can be committed meanwhile, so nothing piles up.
const (
	retryFirst = 250 * time.Millisecond
	retryMax   = 5 * time.Second
)

// events reads up to limit of the room's events after seq, waiting out
// store outages.
func (f *follower) events(ctx context.Context, roomID string, after int64, limit int) ([]domain.Event, error) {
	pause := retryFirst
	for {
		events, err := f.s.store.Events(ctx, roomID, after, limit)
		if !errors.Is(err, domain.ErrUnavailable) {
			return events, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.sub.Done():
			return nil, f.sub.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
}

// emit delivers one event and advances the room's position. An event telling
// that the actor left a room ends what they may no longer see.
func (f *follower) emit(ctx context.Context, e *domain.Event, live bool) error {
	var committed time.Time
	if live {
		committed = e.At
	}
	if !f.deliver(ctx, e, committed, f.sub.Done()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.sub.Err(); err != nil {
			return err
		}
		return errStreamEnd
	}
	f.pos[e.RoomID] = e.Seq
	if e.Type != domain.EventMemberLeft || e.MemberID != f.actor {
		return nil
	}
	if f.all {
		f.sub.Remove(realtime.RoomTopic(e.RoomID))
		delete(f.pos, e.RoomID)
		return nil
	}
	room, err := f.s.store.Room(ctx, e.RoomID)
	if err != nil {
		return fmt.Errorf("recheck room: %w", err)
	}
	if !room.Kind.Public() {
		return errStreamEnd
	}
	return nil
}

// MyRooms is a live query of the actor's room list: it emits the list now,
// then again after each change to any of the rooms (a message, a rename, a
// member joining, the actor's read pointer moving), at most once per
// MyRoomsInterval, latest activity first.
func (s *Service) MyRooms(ctx context.Context, actor string, done Done) (<-chan []domain.Room, error) {
	sub, pos, err := s.followMyRooms(ctx, actor)
	if err != nil {
		return nil, fmt.Errorf("subscribe my rooms: %w", err)
	}
	out := make(chan []domain.Room, 1)
	go func() {
		defer close(out)
		defer sub.Close()
		err := s.myRoomsLoop(ctx, actor, sub, pos, out)
		if ctx.Err() != nil {
			err = nil
		}
		if done != nil {
			done(err)
		}
	}()
	return out, nil
}

func (s *Service) myRoomsLoop(ctx context.Context, actor string, sub *realtime.Subscription, pos map[string]int64, out chan<- []domain.Room) error {
	emit := func() error {
		rooms, err := s.store.RoomsOf(ctx, actor, RoomPage{Limit: myRoomsLimit})
		if err != nil {
			return fmt.Errorf("list rooms: %w", err)
		}
		return send(ctx, sub, out, rooms)
	}
	if err := emit(); err != nil {
		return err
	}
	last := time.Now()
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Ready():
			changed := false
			for env, ok := sub.Next(); ok; env, ok = sub.Next() {
				changed = true
				if e := env.Event; e != nil && e.MemberID == actor {
					switch _, tracked := pos[e.RoomID]; {
					case e.Type == domain.EventMemberJoined && !tracked:
						if err := sub.Add(ctx, realtime.RoomTopic(e.RoomID)); err != nil {
							return err
						}
						pos[e.RoomID] = e.Seq
					case e.Type == domain.EventMemberLeft && tracked:
						sub.Remove(realtime.RoomTopic(e.RoomID))
						delete(pos, e.RoomID)
					}
				}
			}
			select {
			case <-sub.Done():
				return sub.Err()
			default:
			}
			if changed && fire == nil {
				timer = time.NewTimer(max(MyRoomsInterval-time.Since(last), 0))
				fire = timer.C
			}
		case <-fire:
			fire = nil
			if err := emit(); err != nil {
				return err
			}
			last = time.Now()
		}
	}
}

// RoomActivity streams the ephemeral signals of a room the actor may see:
// members coming online and going offline, typing, read receipts. Signals are
// not stored: a subscriber gets those published while it listens.
func (s *Service) RoomActivity(ctx context.Context, actor, roomID string, done Done) (<-chan *domain.Signal, error) {
	if _, _, err := s.Room(ctx, actor, roomID); err != nil {
		return nil, err
	}
	sub, err := s.hub.Subscribe(ctx, realtime.ActivityTopic(roomID))
	if err != nil {
		return nil, fmt.Errorf("subscribe room activity: %w", err)
	}
	return forward(ctx, sub, done, func(env *realtime.Envelope) *domain.Signal { return env.Signal }), nil
}

// forward streams what pick takes out of a subscription's envelopes (nil:
// skip the envelope) until ctx ends or the hub ends the subscription, then
// tells done why and closes the channel. It is for ephemeral streams that
// need no ordering or recovery.
func forward[T any](ctx context.Context, sub *realtime.Subscription, done Done, pick func(*realtime.Envelope) *T) <-chan *T {
	out := make(chan *T, streamBuffer)
	go func() {
		defer close(out)
		defer sub.Close()
		err := forwardLoop(ctx, sub, out, pick)
		if ctx.Err() != nil || errors.Is(err, errStreamEnd) {
			err = nil
		}
		if done != nil {
			done(err)
		}
	}()
	return out
}

func forwardLoop[T any](ctx context.Context, sub *realtime.Subscription, out chan<- *T, pick func(*realtime.Envelope) *T) error {
	for {
		env, ok := sub.Receive(ctx)
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return sub.Err()
		}
		if v := pick(env); v != nil {
			if err := send(ctx, sub, out, v); err != nil {
				return err
			}
		}
	}
}

// send hands v to the consumer. While the consumer is behind, the hub may
// end the subscription as a slow consumer; send then returns why at once
// instead of waiting for a consumer that is not reading.
func send[T any](ctx context.Context, sub *realtime.Subscription, out chan<- T, v T) error {
	select {
	case out <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-sub.Done():
		if err := sub.Err(); err != nil {
			return err
		}
		return errStreamEnd
	}
}
