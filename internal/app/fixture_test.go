package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/clock"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// The members every fixture provisions.
const (
	alice = "alice"
	bob   = "bob"
	carol = "carol"
	dave  = "dave"
)

// names are the display names of the provisioned members.
var names = map[string]string{alice: "Alice", bob: "Bob", carol: "Carol", dave: "Dave"}

// t0 is where the fake clock starts. It is a whole second, so that the
// store's microsecond truncation leaves the times the tests compare alone.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// waitFor bounds every wait for something a stream should deliver.
const waitFor = 5 * time.Second

// fixtureOptions tunes newFixture; the zero value is the plain setup.
type fixtureOptions struct {
	Config    app.Config
	QueueSize int             // the hub's per-subscription queue; 0: the hub's default
	Broker    realtime.Broker // nil: a fresh in-process broker
	Start     time.Time       // the fake clock's start; zero: t0
}

// newFixture returns a Service over the real in-process adapters (a fresh
// SQLite file, the memory broker under a hub, memory presence), a fake clock
// and real ULIDs, with alice, bob, carol and dave provisioned. Everything is
// closed when the test ends.
func newFixture(t testing.TB, opts fixtureOptions) (*app.Service, *clock.Fake, *sqlite.Store) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	broker := opts.Broker
	if broker == nil {
		broker = memory.New()
	}
	quiet := slog.New(slog.DiscardHandler)
	hub := realtime.NewHub(broker, realtime.HubOptions{QueueSize: opts.QueueSize, Logger: quiet})
	start := t0
	if !opts.Start.IsZero() {
		start = opts.Start
	}
	clk := clock.NewFake(start)
	cfg := opts.Config
	if cfg.Workers == nil {
		// As in production, streams' workers come from a pool; its idle
		// goroutines end soon enough for the leak check.
		cfg.Workers = workpool.New(5 * time.Millisecond)
	}
	svc := app.New(store, hub, presencememory.New(), clk, ulids.New(), quiet, cfg)
	for _, id := range []string{alice, bob, carol, dave} {
		if err := svc.EnsureMember(t.Context(), id, names[id]); err != nil {
			t.Fatalf("EnsureMember(%s): %v", id, err)
		}
	}
	return svc, clk, store
}

// wantErr fails the test unless err is of the given kind; want nil means
// success.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want one wrapping %q", what, err, want)
	}
}

func createRoom(t testing.TB, svc *app.Service, actor string, kind domain.RoomKind, name string, members ...string) domain.Room {
	t.Helper()
	room, err := svc.CreateRoom(t.Context(), actor, kind, name, members)
	if err != nil {
		t.Fatalf("CreateRoom(%s, %s, %q, %v): %v", actor, kind, name, members, err)
	}
	return room
}

func sendMessage(t testing.TB, svc *app.Service, actor, roomID, text string) domain.Message {
	t.Helper()
	msg, err := svc.SendMessage(t.Context(), actor, roomID, text, "")
	if err != nil {
		t.Fatalf("SendMessage(%s, %q): %v", actor, text, err)
	}
	return msg
}

func setRole(t *testing.T, svc *app.Service, actor, roomID, memberID string, role domain.Role) {
	t.Helper()
	if _, err := svc.SetRoomRole(t.Context(), actor, roomID, memberID, role); err != nil {
		t.Fatalf("SetRoomRole(%s, %s, %s): %v", actor, memberID, role, err)
	}
}

// roleOf returns memberID's role in the room, "" when not a member.
func roleOf(t *testing.T, svc *app.Service, roomID, memberID string) domain.Role {
	t.Helper()
	m, err := svc.Membership(t.Context(), memberID, roomID)
	if err != nil {
		t.Fatalf("Membership(%s): %v", memberID, err)
	}
	if m == nil {
		return ""
	}
	return m.Role
}

// roomSeq returns the seq of the room's latest event.
func roomSeq(t *testing.T, store *sqlite.Store, roomID string) int64 {
	t.Helper()
	room, err := store.Room(t.Context(), roomID)
	if err != nil {
		t.Fatalf("load room: %v", err)
	}
	return room.Seq
}

// recv waits up to within for the next value of ch, failing the test if ch
// closes or nothing comes.
func recv[T any](t *testing.T, ch <-chan T, within time.Duration) T {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("channel closed while a value was awaited")
		}
		return v
	case <-timer.C:
		t.Fatalf("nothing received within %v", within)
	}
	var zero T
	return zero
}

// waitClosed drains ch until it closes, failing the test after within. It
// returns how many values it drained.
func waitClosed[T any](t *testing.T, ch <-chan T, within time.Duration) int {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	n := 0
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return n
			}
			n++
		case <-timer.C:
			t.Errorf("channel still open after %v", within)
			return n
		}
	}
}

// opener opens a stream; it is one of the Service's stream methods with its
// arguments bound.
type opener[T any] func(ctx context.Context, done app.Done) (<-chan T, error)

// stream opens a stream whose context is cancelled when the test ends, and
// then waits for its channel to close. It returns the channel and a channel
// that receives what the stream's Done callback is told.
func stream[T any](t *testing.T, open opener[T]) (<-chan T, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	dones := make(chan error, 1)
	ch, err := open(ctx, func(err error) { dones <- err })
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		waitClosed(t, ch, waitFor)
	})
	return ch, dones
}

// openErr opens a stream that is expected to be refused and returns the
// error; should it open after all, it is closed again at once.
func openErr[T any](t *testing.T, open opener[T]) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := open(ctx, nil)
	if err == nil {
		cancel()
		waitClosed(t, ch, waitFor)
	}
	return err
}

func roomEvents(svc *app.Service, actor, roomID string, after *string) opener[*domain.Event] {
	return func(ctx context.Context, done app.Done) (<-chan *domain.Event, error) {
		return svc.RoomEvents(ctx, actor, roomID, after, done)
	}
}

func myEvents(svc *app.Service, actor string) opener[*domain.Event] {
	return func(ctx context.Context, done app.Done) (<-chan *domain.Event, error) {
		return svc.MyEvents(ctx, actor, done)
	}
}

func roomActivity(svc *app.Service, actor, roomID string) opener[*domain.Signal] {
	return func(ctx context.Context, done app.Done) (<-chan *domain.Signal, error) {
		return svc.RoomActivity(ctx, actor, roomID, done)
	}
}

func myRooms(svc *app.Service, actor string) opener[[]domain.Room] {
	return func(ctx context.Context, done app.Done) (<-chan []domain.Room, error) {
		return svc.MyRooms(ctx, actor, done)
	}
}

// seen is the part of an event the stream tests compare.
type seen struct {
	Type     domain.EventType
	RoomID   string
	Seq      int64
	MemberID string
	Text     string // of the message the event carries
}

func seenOf(e *domain.Event) seen {
	s := seen{Type: e.Type, RoomID: e.RoomID, Seq: e.Seq, MemberID: e.MemberID}
	if e.Message != nil {
		s.Text = e.Message.Text
	}
	return s
}

// seqsOf receives n events from ch and returns their seqs.
func seqsOf(t *testing.T, ch <-chan *domain.Event, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		out[i] = recv(t, ch, waitFor).Seq
	}
	return out
}

// seqRange returns from..to.
func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// testBroker is the in-process broker with two controls for staging what a
// network broker may do: it loses the room events whose seq is in drop, and
// it runs beforeSubscribe ahead of each upstream subscription, in the window
// before the topic is live.
type testBroker struct {
	inner *memory.Broker

	mu              sync.Mutex
	drop            map[int64]bool
	delay           map[int64]bool
	delayed         []delayedPayload
	beforeSubscribe func(topic string)
	handlers        map[string][]realtime.Handler
}

var _ realtime.Broker = (*testBroker)(nil)

func newTestBroker() *testBroker { return &testBroker{inner: memory.New()} }

// dropSeqs makes the broker lose the room events with these seqs.
func (b *testBroker) dropSeqs(seqs ...int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drop = make(map[int64]bool)
	for _, s := range seqs {
		b.drop[s] = true
	}
}

// delayedPayload is a publish the broker holds back.
type delayedPayload struct {
	topic   string
	payload []byte
}

// delaySeqs makes the broker hold back the room events with these seqs until
// releaseDelayed, so that they arrive after later ones.
func (b *testBroker) delaySeqs(seqs ...int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = make(map[int64]bool)
	for _, s := range seqs {
		b.delay[s] = true
	}
}

// releaseDelayed publishes what delaySeqs held back.
func (b *testBroker) releaseDelayed(ctx context.Context) error {
	b.mu.Lock()
	held := b.delayed
	b.delayed, b.delay = nil, nil
	b.mu.Unlock()
	for _, d := range held {
		if err := b.inner.Publish(ctx, d.topic, d.payload); err != nil {
			return err
		}
	}
	return nil
}

func (b *testBroker) onSubscribe(f func(topic string)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.beforeSubscribe = f
}

func (b *testBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	if strings.HasPrefix(topic, realtime.RoomTopic("")) {
		var env realtime.Envelope
		if err := json.Unmarshal(payload, &env); err != nil {
			return err
		}
		b.mu.Lock()
		lose := env.Event != nil && b.drop[env.Event.Seq]
		late := env.Event != nil && b.delay[env.Event.Seq]
		if late {
			b.delayed = append(b.delayed, delayedPayload{topic: topic, payload: payload})
		}
		b.mu.Unlock()
		if lose || late {
			return nil
		}
	}
	return b.inner.Publish(ctx, topic, payload)
}

func (b *testBroker) Subscribe(ctx context.Context, topic string, h realtime.Handler) (func(), error) {
	b.mu.Lock()
	hook := b.beforeSubscribe
	if b.handlers == nil {
		b.handlers = make(map[string][]realtime.Handler)
	}
	b.handlers[topic] = append(b.handlers[topic], h)
	b.mu.Unlock()
	if hook != nil {
		hook(topic)
	}
	return b.inner.Subscribe(ctx, topic, h)
}

// resync tells the subscribers of topic that payloads may have been lost,
// as a network broker does after reconnecting. Call it while nothing is
// being published on topic.
func (b *testBroker) resync(topic string) {
	b.mu.Lock()
	hs := b.handlers[topic]
	b.mu.Unlock()
	for _, h := range hs {
		h.Resync()
	}
}
