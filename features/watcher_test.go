package features

import (
	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// watchOp is the operation id of a watcher's room subscription.
const watchOp = "room-events"

// watcher is a member's live view of the story's room: a roomEvents
// subscription over its own WebSocket, and how far it has got.
type watcher struct {
	ws      *e2e.WS
	proto   string
	lastSeq int    // seq of the last event received; 0 before the first
	cursor  string // cursor of the last event received
}

// roomEvent is a roomEvents result as the steps read it.
type roomEvent struct {
	Cursor  string
	Type    string
	Seq     int
	RoomID  string
	Message *struct {
		ID     string
		Text   string
		Author struct{ ID string }
	}
}

// watch subscribes a member to the story's room from cursor after. Starting
// from the room's lastEventCursor rather than from "now" makes the start
// exact: the server replays whatever happens between that read and the
// subscription taking hold, so no step needs to guess when it is live.
func (w *world) watch(name, proto, after string) *watcher {
	ws := w.srv.DialWS(w.tb, proto, e2e.BearerPayload(w.member(name).token))
	ws.Subscribe(watchOp, subRoomEvents, map[string]any{"r": w.requireRoom(), "after": after})
	return &watcher{ws: ws, proto: proto}
}

// next waits for the watcher's next event, checking that it continues the
// room's sequence with no gap and no repeat.
func (w *world) next(name string, wt *watcher) roomEvent {
	var out struct{ RoomEvents roomEvent }
	wt.ws.NextData(w.tb, watchOp, &out)
	e := out.RoomEvents
	if e.RoomID != w.room {
		w.tb.Fatalf("%s got an event of room %s while watching %s", name, e.RoomID, w.room)
	}
	if wt.lastSeq != 0 && e.Seq != wt.lastSeq+1 {
		w.tb.Fatalf("%s got event seq %d (%s) after seq %d: the stream must go on without gap or repeat", name, e.Seq, e.Type, wt.lastSeq)
	}
	wt.lastSeq, wt.cursor = e.Seq, e.Cursor
	return e
}

// receive waits for a member's next event and checks it is the message text
// by author (any author when author is "").
func (w *world) receive(name, author, text string) {
	wt, ok := w.watchers[name]
	if !ok {
		w.tb.Fatalf("%s is not watching the room", name)
	}
	e := w.next(name, wt)
	if e.Type != "MESSAGE_SENT" || e.Message == nil {
		w.tb.Fatalf("%s: want the message %q next, got a %s event (seq %d)", name, text, e.Type, e.Seq)
	}
	if e.Message.Text != text {
		w.tb.Fatalf("%s: want the message %q next, got %q (seq %d)", name, text, e.Message.Text, e.Seq)
	}
	if id, ok := w.messages[text]; ok && e.Message.ID != id {
		w.tb.Fatalf("%s: %q arrived as message %s, it was sent as %s", name, text, e.Message.ID, id)
	}
	if author != "" && e.Message.Author.ID != w.member(author).id {
		w.tb.Fatalf("%s: %q arrived from %s, want %s", name, text, w.nameOf(e.Message.Author.ID), author)
	}
}
