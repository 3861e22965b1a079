package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
	"github.com/nordkapp42/nordkapp42/internal/pgtest"
	"github.com/nordkapp42/nordkapp42/internal/redistest"
)

// cluster is N server processes over one private PostgreSQL and one private
// Redis, which the tests may stop and restart.
type cluster struct {
	nodes  []*e2e.Server
	pg     *pgtest.Server
	redis  *redistest.Server
	secret []byte
}

// startCluster starts n nodes sharing a database, a Redis and a JWT secret.
// plain runs the binary built without the race detector, for the heavy
// loads that would otherwise saturate this machine.
func startCluster(t *testing.T, n int, plain bool) *cluster {
	t.Helper()
	c := &cluster{pg: pgtest.Start(t), redis: redistest.StartServer(t)}
	var b [16]byte
	_, _ = rand.Read(b[:])
	c.secret = []byte(hex.EncodeToString(b[:]))
	for range n {
		c.nodes = append(c.nodes, c.start(t, plain, "redis://"+c.redis.Addr+"/0"))
	}
	return c
}

// start starts one more node of the cluster with the given Redis URL.
func (c *cluster) start(t *testing.T, plain bool, redisURL string) *e2e.Server {
	t.Helper()
	return e2e.Start(t, e2e.Options{
		Args:   []string{"--database-url", c.pg.URL, "--redis-url", redisURL, "--rate-limit", "0"},
		Secret: c.secret,
		Plain:  plain,
	})
}

// collect reads n room events from a stream, failing on anything else.
func collect(t *testing.T, s *eventStream, n int) []roomEvent {
	t.Helper()
	out := make([]roomEvent, 0, n)
	for range n {
		out = append(out, s.next(t))
	}
	return out
}

// wantContiguous fails unless events carry seqs from, from+1, … in order.
func wantContiguous(t *testing.T, who string, events []roomEvent, from int) {
	t.Helper()
	for i, e := range events {
		if e.Seq != from+i {
			t.Fatalf("%s: event %d has seq %d, want %d (a gap, a duplicate or disorder)", who, i, e.Seq, from+i)
		}
	}
}

func messageIDs(events []roomEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		if e.Message != nil {
			ids[i] = e.Message.ID
		}
	}
	return ids
}

// eventually retries check until it returns true or 20 s pass.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterDeliversAcrossNodes: a message sent through one node reaches
// roomEvents, myEvents and myRooms subscribers on the others, in order,
// once; online state and typing read the same on every node.
func TestClusterDeliversAcrossNodes(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, false)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	alice, bob, carol := member(t, a, "alice"), member(t, b, "bob"), member(t, cc, "carol")
	room := createRoom(t, a, alice, "PRIVATE_GROUP", "Across", "bob", "carol")
	cursor := lastEventCursor(t, a, alice, room)

	bobRoom := subscribe(t, b, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": cursor})
	carolRoom := subscribe(t, cc, e2e.LegacyWS, carol, roomEventsQuery, map[string]any{"r": room, "after": cursor})
	bobMine := b.DialWS(t, e2e.TransportWS, e2e.BearerPayload(bob))
	bobMine.Subscribe("1", `subscription { myEvents { `+eventFields+` } }`, nil)
	carolRooms := cc.DialWS(t, e2e.TransportWS, e2e.BearerPayload(carol))
	carolRooms.Subscribe("1", `subscription { myRooms { id unreadCount lastMessage { text } } }`, nil)
	if _, ok := poll[json.RawMessage](carolRooms, time.After(e2e.Wait)); !ok {
		t.Fatal("myRooms gave no first list")
	}

	// myEvents has no cursor: send probes until it hears one, so that what
	// follows is certainly live.
	var probes int
	for live := false; !live; {
		probes++
		send(t, a, alice, room, fmt.Sprintf("probe %d", probes))
		_, live = poll[roomEvent](bobMine, time.After(300*time.Millisecond))
		if probes > 50 {
			t.Fatal("myEvents never went live")
		}
	}
	var sent []sentMessage
	for i := range 5 {
		sent = append(sent, send(t, a, alice, room, fmt.Sprintf("hello %d", i)))
	}

	first := collect(t, bobRoom, probes+5)
	wantContiguous(t, "bob's roomEvents on B", first, first[0].Seq)
	if diff := cmp.Diff(messageIDs(first), messageIDs(collect(t, carolRoom, probes+5))); diff != "" {
		t.Errorf("carol's roomEvents on C differ from bob's on B (-bob +carol):\n%s", diff)
	}
	var mine []roomEvent
	for len(mine) == 0 || mine[len(mine)-1].Message == nil || mine[len(mine)-1].Message.ID != sent[4].ID {
		e, ok := poll[roomEvent](bobMine, time.After(e2e.Wait))
		if !ok {
			t.Fatalf("bob's myEvents stopped after %d events", len(mine))
		}
		mine = append(mine, e)
	}
	wantContiguous(t, "bob's myEvents on B", mine, mine[0].Seq)
	for i, m := range sent {
		if got := mine[len(mine)-5+i].Message; got == nil || got.ID != m.ID {
			t.Errorf("myEvents message %d = %+v, want %s", i, got, m.ID)
		}
	}
	eventually(t, "carol's myRooms shows the last message", func() bool {
		rooms, ok := poll[[]struct {
			ID          string
			UnreadCount int
			LastMessage *struct{ Text string }
		}](carolRooms, time.After(time.Second))
		return ok && len(rooms) > 0 && rooms[0].ID == room && rooms[0].LastMessage != nil && rooms[0].LastMessage.Text == "hello 4" && rooms[0].UnreadCount == probes+5
	})

	// Presence and typing agree on every node.
	online := func(srv *e2e.Server) bool {
		var out struct{ Member struct{ Online bool } }
		srv.Do(t, alice, `{ member(id: "bob") { online } }`, nil).Decode(t, &out)
		return out.Member.Online
	}
	for _, srv := range c.nodes {
		if !online(srv) {
			t.Errorf("bob is offline on %s while connected to B", srv.Addr)
		}
	}
	var typed struct{ SetTyping bool }
	cc.Do(t, carol, `mutation($r: ID!) { setTyping(roomId: $r) }`, map[string]any{"r": room}).Decode(t, &typed)
	for _, srv := range c.nodes {
		var out struct {
			Room struct{ TypingMembers []ref }
		}
		srv.Do(t, alice, `query($r: ID!) { room(id: $r) { typingMembers { id } } }`, map[string]any{"r": room}).Decode(t, &out)
		if len(out.Room.TypingMembers) != 1 || out.Room.TypingMembers[0].ID != "carol" {
			t.Errorf("typing on %s = %+v, want carol", srv.Addr, out.Room.TypingMembers)
		}
	}
	bobRoom.close()
	bobMine.Close()
	for _, srv := range c.nodes {
		eventually(t, "bob offline on "+srv.Addr, func() bool { return !online(srv) })
	}
}

// TestClusterConcurrentSenders: 20 senders spread over three nodes send 500
// messages each into one room; the subscriber on every node receives all
// 10,000 in the same order, with no gap and no duplicate, and each sender's
// messages in the order it sent them.
func TestClusterConcurrentSenders(t *testing.T) {
	t.Parallel()
	const senders, each = 20, 500
	c := startCluster(t, 3, true)
	room, tokens, readers, got := busyRoom(t, c, senders, senders*each)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, senders)
	for i := range senders {
		go func() {
			srv := c.nodes[i%3]
			for j := range each {
				if _, r, err := trySend(ctx, srv, tokens[i], room, fmt.Sprintf("%d/%d", i, j)); err != nil || len(r.Errors) > 0 {
					errs <- fmt.Errorf("sender %d message %d: %w %+v", i, j, err, r.Errors)
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	readers.Wait()
	for i, events := range got {
		if len(events) != senders*each {
			t.Fatalf("node %d: subscriber got %d events, want %d", i, len(events), senders*each)
		}
		wantContiguous(t, fmt.Sprintf("node %d", i), events, events[0].Seq)
		if i > 0 {
			if diff := cmp.Diff(messageIDs(got[0]), messageIDs(events)); diff != "" {
				t.Fatalf("node %d's order differs from node 0's", i)
			}
		}
	}
	next := make([]int, senders)
	for _, e := range got[0] {
		var s, j int
		if _, err := fmt.Sscanf(e.Message.Text, "%d/%d", &s, &j); err != nil || j != next[s] {
			t.Fatalf("message %q out of its sender's order (want %d/%d)", e.Message.Text, s, next[s])
		}
		next[s]++
	}
}

// busyRoom sets up a room with the given number of senders, spread over the
// nodes, and one subscriber per node reading n events in the background
// (into got, once readers is done). It returns the senders' tokens.
func busyRoom(t *testing.T, c *cluster, senders, n int) (room string, tokens []string, readers *sync.WaitGroup, got [][]roomEvent) {
	t.Helper()
	owner := member(t, c.nodes[0], "owner")
	ids := make([]string, senders)
	tokens = make([]string, senders)
	for i := range senders {
		ids[i] = fmt.Sprintf("sender-%d", i)
		tokens[i] = member(t, c.nodes[i%len(c.nodes)], ids[i])
	}
	room = createRoom(t, c.nodes[0], owner, "PRIVATE_GROUP", "Busy", ids...)
	cursor := lastEventCursor(t, c.nodes[0], owner, room)
	got = make([][]roomEvent, len(c.nodes))
	readers = &sync.WaitGroup{}
	for i, srv := range c.nodes {
		stream := subscribe(t, srv, e2e.TransportWS, owner, roomEventsQuery, map[string]any{"r": room, "after": cursor})
		readers.Go(func() { got[i] = collectQuiet(stream, n) })
	}
	return room, tokens, readers, got
}

// collectQuiet reads n room events, stopping early (with fewer) when the
// stream ends or stalls for 30 s; the caller checks the count.
func collectQuiet(s *eventStream, n int) []roomEvent {
	out := make([]roomEvent, 0, n)
	for len(out) < n {
		e, ok := poll[roomEvent](s.ws, time.After(30*time.Second))
		if !ok {
			return out
		}
		out = append(out, e)
	}
	return out
}

// TestClusterSurvivesRedisRestart: Redis dies in the middle of a stream and
// comes back empty; subscribers end up with every event, in order, once,
// without doing anything themselves.
func TestClusterSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	const senders, each = 5, 100
	c := startCluster(t, 3, false)
	room, tokens, readers, got := busyRoom(t, c, senders, senders*each)

	var sent sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := range senders {
		sent.Go(func() {
			for j := range each {
				// A send may fail while the node notices the outage; the
				// sender retries it as a client would.
				for {
					_, r, err := trySend(ctx, c.nodes[i%3], tokens[i], room, fmt.Sprintf("%d/%d", i, j))
					if err == nil && len(r.Errors) == 0 {
						break
					}
					if ctx.Err() != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		})
	}
	eventually(t, "a third of the messages sent", func() bool { mu.Lock(); defer mu.Unlock(); return acked >= senders*each/3 })
	c.redis.Kill(t)
	time.Sleep(time.Second) // the outage: sends go on against PostgreSQL
	c.redis.Restart(t)
	sent.Wait()
	readers.Wait()
	for i, events := range got {
		if len(events) != senders*each {
			t.Fatalf("node %d: subscriber got %d events, want %d", i, len(events), senders*each)
		}
		wantContiguous(t, fmt.Sprintf("node %d", i), events, events[0].Seq)
	}
}

// TestClusterSurvivesPostgresRestart: while PostgreSQL is down, mutations
// fail with UNAVAILABLE; afterwards they succeed again, nothing acknowledged
// is lost, and open subscriptions carry on.
func TestClusterSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, false)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := member(t, a, "alice"), member(t, b, "bob")
	room := createRoom(t, a, alice, "PRIVATE_GROUP", "Restart", "bob")
	cursor := lastEventCursor(t, a, alice, room)
	stream := subscribe(t, b, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": cursor})

	acked := []sentMessage{send(t, a, alice, room, "before")}
	// The subscription is live once it delivered something.
	events := collect(t, stream, 1)
	c.pg.Stop(t)
	r := a.Do(t, alice, sendMutation, map[string]any{"r": room, "t": "during"})
	if r.Code() != "UNAVAILABLE" {
		t.Fatalf("send during the outage: %+v, want UNAVAILABLE", r.Errors)
	}
	wantNoLeak(t, r.Errors)
	c.pg.StartAgain(t)
	eventually(t, "sends succeed again", func() bool {
		r := a.Do(t, alice, sendMutation, map[string]any{"r": room, "t": "after"})
		if len(r.Errors) > 0 {
			return false
		}
		var out struct{ SendMessage sentMessage }
		r.Decode(t, &out)
		acked = append(acked, out.SendMessage)
		return true
	})
	events = append(events, collect(t, stream, len(acked)-1)...)
	wantContiguous(t, "bob on B", events, events[0].Seq)
	for i, m := range acked {
		if events[i].Message == nil || events[i].Message.ID != m.ID {
			t.Errorf("event %d = %+v, want message %s", i, events[i].Message, m.ID)
		}
	}
	// A node's first query after the restart may meet a pooled connection
	// that died with the old server: a retryable UNAVAILABLE, as a client
	// would retry it.
	var stored []sentMessage
	eventually(t, "history readable on B", func() bool {
		r := b.Do(t, bob, `query($r: ID!) { room(id: $r) { messages(last: 10) { edges { node { id text cursor } } } } }`, map[string]any{"r": room})
		if len(r.Errors) > 0 {
			return false
		}
		var out struct {
			Room struct {
				Messages struct{ Edges []struct{ Node sentMessage } }
			}
		}
		r.Decode(t, &out)
		stored = stored[:0]
		for _, e := range out.Room.Messages.Edges {
			stored = append(stored, e.Node)
		}
		return true
	})
	if diff := cmp.Diff(texts(acked), texts(stored)); diff != "" {
		t.Errorf("history (-acknowledged +stored):\n%s", diff)
	}
}

// TestClusterNodeKilled: a node dies with kill -9; its client reconnects to
// another node with its last cursor and misses nothing.
func TestClusterNodeKilled(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, false)
	a, b, other := c.nodes[0], c.nodes[1], c.nodes[2]
	alice, bob := member(t, a, "alice"), member(t, b, "bob")
	room := createRoom(t, a, alice, "PRIVATE_GROUP", "Failover", "bob")
	cursor := lastEventCursor(t, a, alice, room)
	stream := subscribe(t, b, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": cursor})
	send(t, a, alice, room, "one")
	send(t, a, alice, room, "two")
	seen := collect(t, stream, 2)

	b.Kill(t)
	var missed []sentMessage
	for _, text := range []string{"three", "four", "five"} {
		missed = append(missed, send(t, a, alice, room, text))
	}
	resumed := subscribe(t, other, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": seen[1].Cursor})
	got := collect(t, resumed, 3)
	wantContiguous(t, "bob resumed on C", append(seen, got...), seen[0].Seq)
	for i, m := range missed {
		if got[i].Message == nil || got[i].Message.ID != m.ID {
			t.Errorf("resumed event %d = %+v, want %s", i, got[i].Message, m.ID)
		}
	}
	live := send(t, a, alice, room, "six")
	if e := resumed.next(t); e.Message == nil || e.Message.ID != live.ID {
		t.Errorf("live event after resuming = %+v, want %s", e.Message, live.ID)
	}
}

// TestClusterRelaysOrphanedEvents: a node commits a message but cannot
// publish it (its Redis is gone) and then dies; another node's outbox relay
// publishes it, and a subscriber elsewhere receives it although no later
// event would reveal the gap.
func TestClusterRelaysOrphanedEvents(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, false)
	// This node's Redis address answers nothing: every publish fails.
	cut := c.start(t, false, "redis://"+e2e.FreeAddr(t)+"/0")
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := member(t, a, "alice"), member(t, b, "bob")
	room := createRoom(t, a, alice, "PRIVATE_GROUP", "Orphans", "bob")
	cursor := lastEventCursor(t, a, alice, room)
	stream := subscribe(t, b, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": cursor})

	orphan := send(t, cut, alice, room, "orphan")
	cut.Kill(t)
	start := time.Now()
	e := stream.next(t)
	if e.Message == nil || e.Message.ID != orphan.ID {
		t.Fatalf("got %+v, want the orphaned message %s", e.Message, orphan.ID)
	}
	t.Logf("orphaned event delivered %s after its node died", time.Since(start).Round(time.Millisecond))
	if !slices.Contains(texts(history(t, b, bob, room, 5)), "orphan") {
		t.Error("the orphaned message is not in the history")
	}
}
