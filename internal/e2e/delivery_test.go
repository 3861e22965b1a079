package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestDelivery covers the delivery guarantees of subscriptions: resuming
// from a cursor, ordering without gaps or duplicates under concurrent
// senders on every transport, and learning of new rooms. The server has no
// rate limit: these tests send faster than a person would.
func TestDelivery(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Args: []string{"--rate-limit", "0"}})

	for _, transport := range streamTransports {
		t.Run("resume after reconnect/"+transport, func(t *testing.T) {
			t.Parallel()
			testResume(t, srv, transport)
		})
	}
	t.Run("concurrent senders", func(t *testing.T) {
		t.Parallel()
		testConcurrentSenders(t, srv)
	})
	t.Run("myEvents learns of a room one is added to", func(t *testing.T) {
		t.Parallel()
		testMyEventsNewRoom(t, srv)
	})
}

// testResume: a client that reconnects with the cursor of the last event it
// saw gets exactly what it missed, in order, then live events.
func testResume(t *testing.T, srv *e2e.Server, transport string) {
	token := member(t, srv, "resume-"+transport)
	room := createRoom(t, srv, token, "PRIVATE_GROUP", "resume")
	first := subscribe(t, srv, transport, token, roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, srv, token, room)})

	var sent []sentMessage
	for i := 1; i <= 3; i++ {
		sent = append(sent, send(t, srv, token, room, fmt.Sprintf("before %d", i)))
	}
	var last roomEvent
	for i := range 3 {
		e := first.next(t)
		wantMessageEvent(t, e, room, sent[i])
		if i > 0 && e.Seq != last.Seq+1 {
			t.Fatalf("seq %d after %d", e.Seq, last.Seq)
		}
		last = e
	}
	first.close()

	for i := 1; i <= 5; i++ {
		sent = append(sent, send(t, srv, token, room, fmt.Sprintf("missed %d", i)))
	}
	second := subscribe(t, srv, transport, token, roomEventsQuery, map[string]any{"r": room, "after": last.Cursor})
	for i := 3; i < 8; i++ {
		e := second.next(t)
		wantMessageEvent(t, e, room, sent[i])
		if want := last.Seq + i - 2; e.Seq != want {
			t.Errorf("seq %d, want %d", e.Seq, want)
		}
	}
	live := send(t, srv, token, room, "live")
	e := second.next(t)
	wantMessageEvent(t, e, room, live)
	if want := last.Seq + 6; e.Seq != want {
		t.Errorf("seq %d, want %d", e.Seq, want)
	}
}

// testConcurrentSenders: 8 members send 50 messages each at once into one
// group; a subscriber on each transport sees every one exactly once, in seq
// order with no gap, each sender's in the order they were sent.
func testConcurrentSenders(t *testing.T, srv *e2e.Server) {
	const senders, perSender = 8, 50
	owner := member(t, srv, "conc-owner")
	var senderIDs, senderTokens []string
	for i := range senders {
		id := fmt.Sprintf("conc-sender-%d", i)
		senderIDs = append(senderIDs, id)
		senderTokens = append(senderTokens, member(t, srv, id))
	}
	readers := map[string]string{} // transport → reader's token
	members := append([]string{}, senderIDs...)
	for _, transport := range streamTransports {
		id := "conc-reader-" + transport
		readers[transport] = member(t, srv, id)
		members = append(members, id)
	}
	room := createRoom(t, srv, owner, "PRIVATE_GROUP", "busy", members...)
	// The room's events so far are one MEMBER_JOINED each for the owner and
	// the members: the messages follow from the next seq on.
	firstSeq := len(members) + 2
	after := lastEventCursor(t, srv, owner, room)

	streams := map[string]*eventStream{}
	for _, transport := range streamTransports {
		streams[transport] = subscribe(t, srv, transport, readers[transport], roomEventsQuery, map[string]any{"r": room, "after": after})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acked := make([][]sentMessage, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				m, r, err := trySend(ctx, srv, senderTokens[s], room, fmt.Sprintf("sender %d message %02d", s, i))
				if err == nil && len(r.Errors) > 0 {
					err = fmt.Errorf("GraphQL errors: %+v", r.Errors)
				}
				if err != nil {
					errs[s] = fmt.Errorf("sender %d, message %d: %w", s, i, err)
					return
				}
				acked[s] = append(acked[s], m)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	byID := map[string]sentMessage{}
	for _, msgs := range acked {
		for _, m := range msgs {
			byID[m.ID] = m
		}
	}
	const total = senders * perSender
	if len(byID) != total {
		t.Fatalf("%d distinct messages acknowledged, want %d", len(byID), total)
	}

	// Nothing may follow the messages but what is sent next.
	fence := send(t, srv, owner, room, "fence")

	for _, transport := range streamTransports {
		t.Run(transport, func(t *testing.T) {
			st := streams[transport]
			seen := map[string]bool{}
			fromSender := make([][]sentMessage, senders)
			for i := range total {
				e := st.next(t)
				if e.Seq != firstSeq+i {
					t.Fatalf("event %d has seq %d, want %d", i, e.Seq, firstSeq+i)
				}
				if e.Type != "MESSAGE_SENT" || e.Message == nil {
					t.Fatalf("event %d is %+v, want MESSAGE_SENT", i, e)
				}
				ack, ok := byID[e.Message.ID]
				if !ok || seen[e.Message.ID] {
					t.Fatalf("event %d: message %s acknowledged %v, seen before %v", i, e.Message.ID, ok, seen[e.Message.ID])
				}
				seen[e.Message.ID] = true
				if e.Message.Text != ack.Text {
					t.Errorf("message %s has text %q, acknowledged %q", e.Message.ID, e.Message.Text, ack.Text)
				}
				s := slices.Index(senderIDs, e.Message.Author.ID)
				if s < 0 {
					t.Fatalf("message %s by %q, not a sender", e.Message.ID, e.Message.Author.ID)
				}
				fromSender[s] = append(fromSender[s], ack)
			}
			for s := range senders {
				if diff := cmp.Diff(acked[s], fromSender[s]); diff != "" {
					t.Errorf("sender %d: order received against order sent (-want +got):\n%s", s, diff)
				}
			}
			e := st.next(t)
			wantMessageEvent(t, e, room, fence)
			if e.Seq != firstSeq+total {
				t.Errorf("fence has seq %d, want %d", e.Seq, firstSeq+total)
			}
		})
	}

}

// testMyEventsNewRoom: a member's myEvents stream learns of a room they
// are added to, with the MEMBER_JOINED event about them, and then carries
// that room's messages.
func testMyEventsNewRoom(t *testing.T, srv *e2e.Server) {
	alice := member(t, srv, "myev-alice")
	bob := member(t, srv, "myev-bob")
	probe := createRoom(t, srv, bob, "PRIVATE_GROUP", "bob's notes")

	ws := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(bob))
	ws.Subscribe("1", `subscription { myEvents { `+eventFields+` } }`, nil)
	// myEvents has no cursor: wait until it carries an event of bob's own
	// room, then drain up to a fence so that only new events follow.
	live := false
	for deadline := time.Now().Add(e2e.Wait); !live && time.Now().Before(deadline); {
		send(t, srv, bob, probe, "probe")
		_, live = poll[roomEvent](ws, time.After(200*time.Millisecond))
	}
	if !live {
		t.Fatalf("myEvents delivered nothing within %s", e2e.Wait)
	}
	send(t, srv, bob, probe, "fence")
	for {
		var got struct{ MyEvents roomEvent }
		ws.NextData(t, "1", &got)
		if m := got.MyEvents.Message; m != nil && m.Text == "fence" {
			break
		}
	}

	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "bob is added", "myev-bob")
	var joined struct{ MyEvents roomEvent }
	ws.NextData(t, "1", &joined)
	if e := joined.MyEvents; e.Type != "MEMBER_JOINED" || e.RoomID != room || e.Member == nil || e.Member.ID != "myev-bob" {
		t.Fatalf("got %+v, want MEMBER_JOINED of myev-bob in %s", e, room)
	}
	welcome := send(t, srv, alice, room, "welcome, bob")
	var next struct{ MyEvents roomEvent }
	ws.NextData(t, "1", &next)
	wantMessageEvent(t, next.MyEvents, room, welcome)
	if next.MyEvents.Seq != joined.MyEvents.Seq+1 {
		t.Errorf("seq %d after MEMBER_JOINED %d", next.MyEvents.Seq, joined.MyEvents.Seq)
	}
}

// TestSlowConsumer: a subscriber that stops reading must not hold back
// another subscriber of the same room, nor the sender. It sends 5,000
// messages, so its server runs without the race detector, which would make
// it several times slower (TestDelivery covers concurrency under the
// detector).
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Plain: true, Args: []string{"--rate-limit", "0"}})
	const messages, workers = 5000, 4
	alice := member(t, srv, "slow-alice")
	reader := member(t, srv, "slow-reader")
	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "firehose", "slow-reader")
	after := lastEventCursor(t, srv, alice, room)

	fast := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(reader))
	fast.Subscribe("1", `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { seq message { id } } }`,
		map[string]any{"r": room, "after": after})
	// The slow one asks for each text four times over, so that what it
	// leaves unread soon outgrows every buffer between it and the server.
	slow := dialNonReader(t, srv, alice, `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { seq a: message { text } b: message { text } c: message { text } d: message { text } } }`,
		map[string]any{"r": room, "after": after})

	// A bound against a hang, not a speed claim: the sends take 8-17 s on
	// a quiet 2-core machine and several times that while other packages'
	// tests load it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	padding := strings.Repeat("x", 1000)
	acked := make([]map[string]bool, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		acked[w] = map[string]bool{}
		wg.Go(func() {
			for i := w; i < messages; i += workers {
				m, r, err := trySend(ctx, srv, alice, room, fmt.Sprintf("%04d %s", i, padding))
				if err == nil && len(r.Errors) > 0 {
					err = fmt.Errorf("GraphQL errors: %+v", r.Errors)
				}
				if err != nil {
					errs[w] = fmt.Errorf("message %d: %w", i, err)
					return
				}
				acked[w][m.ID] = true
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d messages in %s", messages, time.Since(start).Round(time.Millisecond))

	all := map[string]bool{}
	for _, ids := range acked {
		for id := range ids {
			all[id] = true
		}
	}
	if len(all) != messages {
		t.Fatalf("%d distinct messages acknowledged, want %d", len(all), messages)
	}
	var firstSeq int
	for i := range messages {
		var got struct {
			RoomEvents struct {
				Seq     int
				Message ref
			}
		}
		fast.NextData(t, "1", &got)
		e := got.RoomEvents
		if i == 0 {
			firstSeq = e.Seq
		}
		if e.Seq != firstSeq+i {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, firstSeq+i)
		}
		// With seqs contiguous, a message seen twice would leave one of
		// the acknowledged ones out.
		if !all[e.Message.ID] {
			t.Fatalf("event %d carries message %s, which was not acknowledged", i, e.Message.ID)
		}
		delete(all, e.Message.ID)
	}
	t.Logf("the reading subscriber got all %d events %s after the first send", messages, time.Since(start).Round(time.Millisecond))
	t.Logf("the subscriber that stopped reading: %s", slow.fate(t))
}

// nonReader is a raw WebSocket that subscribed once and then stopped
// reading, as a stalled client does.
type nonReader struct {
	conn *websocket.Conn
}

// dialNonReader opens a graphql-transport-ws socket, subscribes with query
// as operation "1", and reads nothing after the acknowledgement.
func dialNonReader(t *testing.T, srv *e2e.Server, token, query string, vars map[string]any) *nonReader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2e.Wait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+srv.Addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{e2e.TransportWS}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	write := func(f e2e.Frame) {
		if err := conn.Write(ctx, websocket.MessageText, mustJSON(t, f)); err != nil {
			t.Fatalf("write %s: %v", f.Type, err)
		}
	}
	write(e2e.Frame{Type: "connection_init", Payload: mustJSON(t, e2e.BearerPayload(token))})
	if _, ack, err := conn.Read(ctx); err != nil || !strings.Contains(string(ack), `"connection_ack"`) {
		t.Fatalf("want connection_ack, got %s, %v", ack, err)
	}
	write(e2e.Frame{ID: "1", Type: "subscribe", Payload: mustJSON(t, map[string]any{"query": query, "variables": vars})})
	return &nonReader{conn: conn}
}

// fate reads what the server left for the stalled client, for the log: how
// many results, whether it was told SLOW_CONSUMER, how the socket ended.
func (n *nonReader) fate(t *testing.T) string {
	t.Helper()
	results, slowConsumer := 0, false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, data, err := n.conn.Read(ctx)
		cancel()
		if err != nil {
			return fmt.Sprintf("read %d results, SLOW_CONSUMER error: %v, then %v", results, slowConsumer, err)
		}
		if strings.Contains(string(data), `"SLOW_CONSUMER"`) {
			slowConsumer = true
		} else if strings.Contains(string(data), `"type":"next"`) {
			results++
		}
	}
}

// wantMessageEvent asserts that e is the MESSAGE_SENT event of m in room.
func wantMessageEvent(t *testing.T, e roomEvent, room string, m sentMessage) {
	t.Helper()
	if e.Type != "MESSAGE_SENT" || e.RoomID != room || e.Message == nil || e.Message.ID != m.ID || e.Message.Text != m.Text {
		t.Fatalf("got %+v (message %+v), want MESSAGE_SENT of %q (%s) in %s", e, e.Message, m.Text, m.ID, room)
	}
}
