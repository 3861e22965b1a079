package app_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

func TestRoomEventsResumesFromCursor(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	var sent []domain.Message
	for i := range 5 {
		sent = append(sent, sendMessage(t, svc, alice, room.ID, fmt.Sprintf("m%d", i+1)))
	}

	after := app.EventCursor(room.ID, sent[1].Seq)
	events, _ := stream(t, roomEvents(svc, bob, room.ID, &after))
	var got []string
	for range 3 {
		got = append(got, recv(t, events, waitFor).Message.Text)
	}
	sendMessage(t, svc, alice, room.ID, "m6")
	got = append(got, recv(t, events, waitFor).Message.Text)
	// The next event after a marker shows that nothing came twice.
	sendMessage(t, svc, alice, room.ID, "marker")
	got = append(got, recv(t, events, waitFor).Message.Text)
	if diff := cmp.Diff([]string{"m3", "m4", "m5", "m6", "marker"}, got); diff != "" {
		t.Errorf("resumed stream (-want +got):\n%s", diff)
	}
}

func TestRoomEventsWithoutCursorStartsNow(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	for i := range 5 {
		sendMessage(t, svc, alice, room.ID, fmt.Sprintf("old %d", i+1))
	}
	events, _ := stream(t, roomEvents(svc, bob, room.ID, nil))
	sendMessage(t, svc, alice, room.ID, "new")
	if e := recv(t, events, waitFor); e.Message == nil || e.Message.Text != "new" {
		t.Errorf("first event = %+v, want the new message", seenOf(e))
	}
}

func TestRoomEventsRefusesBadCursors(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	other := createRoom(t, svc, alice, domain.KindPrivateGroup, "Other", bob)
	tests := map[string]string{
		"a cursor of another room":   app.EventCursor(other.ID, 1),
		"a garbage cursor":           "%%%",
		"a cursor ahead of the room": app.EventCursor(room.ID, 1000),
		"a message cursor":           app.MessageCursor(sendMessage(t, svc, alice, room.ID, "hi")),
	}
	for name, cursor := range tests {
		t.Run(name, func(t *testing.T) {
			err := openErr(t, roomEvents(svc, bob, room.ID, &cursor))
			wantErr(t, "RoomEvents", err, domain.ErrInvalid)
		})
	}
}

// The broker may lose events; the stream fills each gap from the store when
// the next event shows it.
func TestRoomEventsFillsGaps(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)
	// Lose the first event, a run of two, and one more, but not the last.
	broker.dropSeqs(start+1, start+3, start+4, start+8)

	events, _ := stream(t, roomEvents(svc, bob, room.ID, nil))
	for i := range 10 {
		sendMessage(t, svc, alice, room.ID, fmt.Sprintf("m%d", i+1))
	}
	sendMessage(t, svc, alice, room.ID, "marker")
	if diff := cmp.Diff(seqRange(start+1, start+11), seqsOf(t, events, 11)); diff != "" {
		t.Errorf("seqs delivered (-want +got):\n%s", diff)
	}
}

// TestResyncRecoversALostLastEvent: when the broker loses the last event, no
// later event reveals the gap; the broker's resync after it reconnects must.
func TestResyncRecoversALostLastEvent(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	other := createRoom(t, svc, alice, domain.KindPrivateGroup, "Other", bob)
	start := roomSeq(t, store, room.ID)
	events, _ := stream(t, roomEvents(svc, bob, room.ID, nil))
	mine, _ := stream(t, myEvents(svc, bob))

	sendMessage(t, svc, alice, room.ID, "kept")
	if got := recv(t, events, waitFor).Seq; got != start+1 {
		t.Fatalf("first event seq %d, want %d", got, start+1)
	}
	if got := recv(t, mine, waitFor).Seq; got != start+1 {
		t.Fatalf("myEvents first event seq %d, want %d", got, start+1)
	}
	broker.dropSeqs(start + 2)
	sendMessage(t, svc, alice, room.ID, "lost")
	broker.resync(realtime.RoomTopic(room.ID))

	for name, ch := range map[string]<-chan *domain.Event{"roomEvents": events, "myEvents": mine} {
		e := recv(t, ch, waitFor)
		if e.Seq != start+2 || e.Message == nil || e.Message.Text != "lost" {
			t.Fatalf("%s after resync got seq %d %+v, want the lost message at seq %d", name, e.Seq, e.Message, start+2)
		}
	}
	// The other room's stream is untouched by a resync of this one.
	sendMessage(t, svc, alice, other.ID, "elsewhere")
	if e := recv(t, mine, waitFor); e.RoomID != other.ID {
		t.Fatalf("myEvents next event from room %s, want %s", e.RoomID, other.ID)
	}
}

func TestRoomEventsUnderConcurrentSenders(t *testing.T) {
	t.Parallel()
	svc, _, store := newFixture(t, fixtureOptions{})
	members := []string{alice, bob, carol, dave}
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Busy", bob, carol, dave)
	start := roomSeq(t, store, room.ID)
	events, _ := stream(t, roomEvents(svc, alice, room.ID, nil))

	const senders, each = 8, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if _, err := svc.SendMessage(t.Context(), members[g%len(members)], room.ID, fmt.Sprintf("g%d-%d", g, i), ""); err != nil {
					t.Errorf("sender %d, message %d: %v", g, i, err)
					return
				}
			}
		})
	}
	got := seqsOf(t, events, senders*each)
	wg.Wait()
	sendMessage(t, svc, alice, room.ID, "marker")
	got = append(got, recv(t, events, waitFor).Seq)
	if diff := cmp.Diff(seqRange(start+1, start+senders*each+1), got); diff != "" {
		t.Errorf("seqs delivered (-want +got):\n%s", diff)
	}
}

func TestMyEventsFollowsMembership(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	other := createRoom(t, svc, carol, domain.KindPrivateGroup, "Other", bob)
	events, _ := stream(t, myEvents(svc, bob))

	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	want := []seen{{Type: domain.EventMemberJoined, RoomID: room.ID, Seq: 2, MemberID: bob}}
	msg := sendMessage(t, svc, alice, room.ID, "hello bob")
	want = append(want, seen{Type: domain.EventMessageSent, RoomID: room.ID, Seq: msg.Seq, Text: "hello bob"})
	if _, err := svc.RemoveRoomMember(t.Context(), alice, room.ID, bob); err != nil {
		t.Fatalf("RemoveRoomMember: %v", err)
	}
	want = append(want, seen{Type: domain.EventMemberLeft, RoomID: room.ID, Seq: msg.Seq + 1, MemberID: bob})
	sendMessage(t, svc, alice, room.ID, "bob is gone")
	marker := sendMessage(t, svc, carol, other.ID, "still here")
	want = append(want, seen{Type: domain.EventMessageSent, RoomID: other.ID, Seq: marker.Seq, Text: "still here"})

	var got []seen
	for range want {
		got = append(got, seenOf(recv(t, events, waitFor)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bob's events (-want +got):\n%s", diff)
	}
}

// When bob is added to a room, his stream joins the room's topic only after
// it sees the MEMBER_JOINED; what the room publishes in between must still
// reach him, even if the room then stays quiet.
func TestMyEventsCatchesUpOnJoinedRoom(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, _ := newFixture(t, fixtureOptions{Broker: broker})
	events, _ := stream(t, myEvents(svc, bob))

	var once sync.Once
	broker.onSubscribe(func(topic string) {
		roomID, ok := strings.CutPrefix(topic, realtime.RoomTopic(""))
		if !ok {
			return
		}
		once.Do(func() {
			// Published while no node listens to the room: lost to live delivery.
			if _, err := svc.SendMessage(t.Context(), alice, roomID, "in the window", ""); err != nil {
				t.Errorf("SendMessage in the window: %v", err)
			}
		})
	})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)

	want := []seen{
		{Type: domain.EventMemberJoined, RoomID: room.ID, Seq: 2, MemberID: bob},
		{Type: domain.EventMessageSent, RoomID: room.ID, Seq: 3, Text: "in the window"},
	}
	var got []seen
	for range want {
		got = append(got, seenOf(recv(t, events, waitFor)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bob's events (-want +got):\n%s", diff)
	}
}

func TestSlowConsumerIsEnded(t *testing.T) {
	t.Parallel()
	t.Run("RoomEvents", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := newFixture(t, fixtureOptions{QueueSize: 4})
		room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
		stalled, stalledDone := stream(t, roomEvents(svc, bob, room.ID, nil))
		reader, readerDone := stream(t, roomEvents(svc, alice, room.ID, nil))

		var got []string
		for i := range 50 {
			sendMessage(t, svc, alice, room.ID, fmt.Sprintf("m%d", i+1))
			// Reading each event before the next send keeps the reader within
			// its queue of 4 however the goroutines are scheduled.
			got = append(got, recv(t, reader, waitFor).Message.Text)
		}
		var want []string
		for i := range 50 {
			want = append(want, fmt.Sprintf("m%d", i+1))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the reading subscriber got (-want +got):\n%s", diff)
		}

		if err := recv(t, stalledDone, waitFor); !errors.Is(err, domain.ErrSlowConsumer) {
			t.Errorf("the stalled stream ended with %v, want a slow consumer error", err)
		}
		waitClosed(t, stalled, waitFor)
		select {
		case err := <-readerDone:
			t.Errorf("the reading subscriber ended too: %v", err)
		default:
		}
	})
	t.Run("RoomActivity", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := newFixture(t, fixtureOptions{QueueSize: 4})
		room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
		stalled, stalledDone := stream(t, roomActivity(svc, bob, room.ID))
		for range 50 {
			if err := svc.SetTyping(t.Context(), alice, room.ID); err != nil {
				t.Fatalf("SetTyping: %v", err)
			}
		}
		if err := recv(t, stalledDone, waitFor); !errors.Is(err, domain.ErrSlowConsumer) {
			t.Errorf("the stalled stream ended with %v, want a slow consumer error", err)
		}
		waitClosed(t, stalled, waitFor)
	})
}

func TestMyRooms(t *testing.T) {
	t.Parallel()
	svc, clk, _ := newFixture(t, fixtureOptions{})
	rooms := map[string]domain.Room{}
	for _, name := range []string{"first", "second", "third"} {
		clk.Advance(time.Second)
		rooms[name] = createRoom(t, svc, alice, domain.KindPrivateGroup, name, bob)
	}
	check := func(what string, lists <-chan []domain.Room, want ...string) {
		t.Helper()
		var got []string
		for _, r := range recv(t, lists, waitFor) {
			got = append(got, r.Name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}

	opened := time.Now()
	lists, _ := stream(t, myRooms(svc, alice))
	check("first emission", lists, "third", "second", "first")

	clk.Advance(time.Second)
	sendMessage(t, svc, bob, rooms["first"].ID, "bump")
	check("emission after a message", lists, "first", "third", "second")
	// A lower bound only: the first emission went out after opened, and the
	// second at least MyRoomsInterval after the first.
	if since := time.Since(opened); since < app.MyRoomsInterval {
		t.Errorf("two emissions %v apart, want at least %v", since, app.MyRoomsInterval)
	}

	clk.Advance(time.Second)
	rooms["fourth"] = createRoom(t, svc, bob, domain.KindPrivateGroup, "fourth", alice)
	check("emission after being added", lists, "fourth", "first", "third", "second")

	// The new room is followed: a message in it, and nothing else, leads to
	// the next emission.
	clk.Advance(time.Second)
	sendMessage(t, svc, bob, rooms["fourth"].ID, "welcome")
	check("emission after a message in the new room", lists, "fourth", "first", "third", "second")
	clk.Advance(time.Second)
	sendMessage(t, svc, bob, rooms["second"].ID, "bump")
	check("emission after a message in an old room", lists, "second", "fourth", "first", "third")
}

// delivery is one event a followed stream handed on: live when it came from
// the fan-out, not when it was read back from the store.
type delivery struct {
	seq  int64
	live bool
}

// followLive follows the room for bob with FollowRoomEvents and returns what
// it delivers, once a first message (seq start+1) has shown the stream live.
func followLive(t *testing.T, svc *app.Service, roomID string, start int64) <-chan delivery {
	t.Helper()
	got := make(chan delivery, 8)
	deliver := func(ctx context.Context, e *domain.Event, committed time.Time, abort <-chan struct{}) bool {
		got <- delivery{seq: e.Seq, live: !committed.IsZero()}
		return true
	}
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan struct{})
	t.Cleanup(func() { cancel(); <-ended })
	if err := svc.FollowRoomEvents(ctx, bob, roomID, nil, deliver, func(error) { close(ended) }); err != nil {
		t.Fatal(err)
	}
	// Once the stream has delivered a message, it has caught up and is live.
	sendMessage(t, svc, alice, roomID, "ready")
	select {
	case d := <-got:
		if d.seq != start+1 {
			t.Fatalf("first delivery %+v, want seq %d", d, start+1)
		}
	case <-time.After(waitFor):
		t.Fatal("the stream delivered nothing")
	}
	return got
}

// expectDeliveries fails unless got delivers want, in order.
func expectDeliveries(t *testing.T, got <-chan delivery, want ...delivery) {
	t.Helper()
	for _, w := range want {
		select {
		case d := <-got:
			if d != w {
				t.Fatalf("delivered %+v, want %+v", d, w)
			}
		case <-time.After(waitFor):
			t.Fatalf("%+v not delivered", w)
		}
	}
}

// TestRoomEventsReordersLateLiveEvents: an event that arrives after a later
// one (concurrent senders publish in any order) is waited for, not read
// from the store: both are delivered live, in order.
func TestRoomEventsReordersLateLiveEvents(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	// Long enough that only the late event can close the gap.
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker, Config: app.Config{ReorderWait: time.Hour}})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)

	got := followLive(t, svc, room.ID, start)
	broker.delaySeqs(start + 2)
	sendMessage(t, svc, alice, room.ID, "first")
	sendMessage(t, svc, alice, room.ID, "second")
	select {
	case d := <-got:
		t.Fatalf("delivered %+v while the event before it was still on its way", d)
	case <-time.After(20 * time.Millisecond):
	}
	if err := broker.releaseDelayed(t.Context()); err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, got, delivery{start + 2, true}, delivery{start + 3, true})
}

// TestRoomEventsReadTheStoreWhenAGapStays: an event that never arrives is
// read from the store once the follower has waited for it.
func TestRoomEventsReadTheStoreWhenAGapStays(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)
	broker.dropSeqs(start + 1)
	events, _ := stream(t, roomEvents(svc, bob, room.ID, nil))
	sendMessage(t, svc, alice, room.ID, "lost")
	sendMessage(t, svc, alice, room.ID, "after")
	if diff := cmp.Diff(seqRange(start+1, start+2), seqsOf(t, events, 2)); diff != "" {
		t.Errorf("seqs delivered (-want +got):\n%s", diff)
	}
}

// TestGapFillReadsOnlyTheGap: a gap that stays is filled from the store,
// but the events after it that came live are delivered as they came (shared
// by every subscriber), not read again from the store.
func TestGapFillReadsOnlyTheGap(t *testing.T) {
	t.Parallel()
	broker := newTestBroker()
	svc, _, store := newFixture(t, fixtureOptions{Broker: broker, Config: app.Config{ReorderWait: 50 * time.Millisecond}})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	start := roomSeq(t, store, room.ID)

	got := followLive(t, svc, room.ID, start)
	broker.dropSeqs(start + 2)
	sendMessage(t, svc, alice, room.ID, "lost")
	sendMessage(t, svc, alice, room.ID, "after")
	sendMessage(t, svc, alice, room.ID, "later")
	expectDeliveries(t, got, delivery{start + 2, false}, delivery{start + 3, true}, delivery{start + 4, true})
}

// TestIdleStreamsHoldNoGoroutine checks that a stream waiting for events
// costs no goroutine: tens of thousands of idle subscribers per node depend
// on it. Not parallel, so that other tests' goroutines do not blur the count.
func TestIdleStreamsHoldNoGoroutine(t *testing.T) {
	const streams = 100
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "Team", bob)
	base := runtime.NumGoroutine()
	var chans []<-chan *domain.Event
	for range streams {
		events, _ := stream(t, myEvents(svc, bob))
		chans = append(chans, events)
	}
	for round := range 2 {
		text := fmt.Sprintf("round %d", round)
		sendMessage(t, svc, alice, room.ID, text)
		for i, events := range chans {
			if e := recv(t, events, waitFor); e.Message == nil || e.Message.Text != text {
				t.Fatalf("stream %d got %+v, want %q", i, seenOf(e), text)
			}
		}
		// Workers return once their event is handed on.
		deadline := time.Now().Add(waitFor)
		for runtime.NumGoroutine() > base+streams/10 {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines with %d idle streams, started from %d", runtime.NumGoroutine(), streams, base)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
