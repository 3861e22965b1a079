package features

import (
	"github.com/cucumber/godog"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// haveChat opens the 1-1 chat of a and b; it becomes the story's room.
func (w *world) haveChat(a, b string) {
	w.member(b) // b must exist before a can open a chat with them
	var out struct{ OpenChat struct{ ID, Kind string } }
	w.must(a, opOpenChat, map[string]any{"m": w.member(b).id}, &out)
	if out.OpenChat.Kind != "CHAT" {
		w.tb.Fatalf("openChat gave a %s room", out.OpenChat.Kind)
	}
	w.room, w.roomName = out.OpenChat.ID, ""
}

// opensChat opens the chat again, from either side.
func (w *world) opensChat(a, b string) {
	var out struct{ OpenChat struct{ ID string } }
	w.must(a, opOpenChat, map[string]any{"m": w.member(b).id}, &out)
	w.reopened = out.OpenChat.ID
}

func (w *world) sameChat() {
	if w.reopened != w.requireRoom() {
		w.tb.Fatalf("opening the chat again gave room %s, want %s", w.reopened, w.room)
	}
}

// seesChatNamed checks the chat's name as one member sees it, both in the
// room itself and in their room list.
func (w *world) seesChatNamed(name, want string) {
	var one struct {
		Room *struct{ ID, Kind, Name string }
	}
	w.must(name, opRoom, map[string]any{"r": w.requireRoom()}, &one)
	if one.Room == nil {
		w.tb.Fatalf("%s cannot see the chat", name)
	}
	if one.Room.Kind != "CHAT" || one.Room.Name != want {
		w.tb.Fatalf("%s sees a %s named %q, want a CHAT named %q", name, one.Room.Kind, one.Room.Name, want)
	}
	var list struct {
		Rooms struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	w.must(name, opMyRooms, nil, &list)
	for _, e := range list.Rooms.Edges {
		if e.Node.ID == w.room {
			if e.Node.Name != want {
				w.tb.Fatalf("%s's room list names the chat %q, want %q", name, e.Node.Name, want)
			}
			return
		}
	}
	w.tb.Fatalf("the chat is not in %s's room list", name)
}

// sends posts each text in turn into the story's room.
func (w *world) sends(name, list string) {
	for _, text := range texts(list) {
		w.send(name, text)
	}
}

func (w *world) isWatching(name string) { w.isWatchingOver(name, e2e.TransportWS) }

// isWatchingOver starts a member's live view of the room from the room's
// latest event, over the given WebSocket subprotocol.
func (w *world) isWatchingOver(name, proto string) {
	if _, ok := w.watchers[name]; ok {
		w.tb.Fatalf("%s is watching already", name)
	}
	var out struct {
		Room *struct{ LastEventCursor string }
	}
	w.must(name, opRoom, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil {
		w.tb.Fatalf("%s cannot see the room", name)
	}
	w.watchers[name] = w.watch(name, proto, out.Room.LastEventCursor)
}

// receives checks that the member's next events are these messages, in this
// order, with nothing before or between them.
func (w *world) receives(name, list string) {
	for _, text := range texts(list) {
		w.receive(name, "", text)
	}
}

// receivesTable is receives with the author of each message.
func (w *world) receivesTable(name string, table *godog.Table) {
	for _, row := range rows(w, table, "from", "text") {
		w.receive(name, row[0], row[1])
	}
}

// historyLine is one message of a room's history as a table shows it.
type historyLine struct{ From, Text string }

// deletedText stands for a tombstone in a history table.
const deletedText = "(deleted)"

// seesHistory checks the room's history as a member reads it, paging back
// from the newest (the default, as a chat screen opens) and forward from the
// oldest: both must give the table's messages in order.
func (w *world) seesHistory(name string, table *godog.Table) {
	var want []historyLine
	for _, row := range rows(w, table, "from", "text") {
		want = append(want, historyLine{From: row[0], Text: row[1]})
	}
	type line struct {
		ID        string
		Text      string
		Author    struct{ ID string }
		DeletedAt *string
	}
	type page struct{ Edges []struct{ Node line } }
	var out struct {
		Room *struct{ Newest, Forward page }
	}
	w.must(name, opHistory, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil {
		w.tb.Fatalf("%s cannot see the room", name)
	}
	for dir, p := range map[string]page{"newest first page": out.Room.Newest, "forward page": out.Room.Forward} {
		var got []historyLine
		for _, e := range p.Edges {
			text := e.Node.Text
			if e.Node.DeletedAt != nil {
				text = deletedText
				if e.Node.Text != "" {
					text = deletedText + " but still reading " + e.Node.Text
				}
			}
			got = append(got, historyLine{From: w.nameOf(e.Node.Author.ID), Text: text})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			w.tb.Fatalf("history as %s reads it (%s), -want +got:\n%s", name, dir, diff)
		}
	}
}

// rows returns a table's rows below its header, checking the header.
func rows(w *world, table *godog.Table, columns ...string) [][]string {
	if table == nil || len(table.Rows) == 0 {
		w.tb.Fatalf("the step needs a table with the columns %v", columns)
	}
	var header []string
	for _, c := range table.Rows[0].Cells {
		header = append(header, c.Value)
	}
	if diff := cmp.Diff(columns, header); diff != "" {
		w.tb.Fatalf("table header, -want +got:\n%s", diff)
	}
	var out [][]string
	for _, r := range table.Rows[1:] {
		var cells []string
		for _, c := range r.Cells {
			cells = append(cells, c.Value)
		}
		out = append(out, cells)
	}
	return out
}

// connectionDrops closes the member's socket and waits until it is gone; the
// watcher keeps its last cursor.
func (w *world) connectionDrops(name string) {
	wt, ok := w.watchers[name]
	if !ok {
		w.tb.Fatalf("%s is not watching the room", name)
	}
	wt.ws.Close()
	wt.ws.Closed(w.tb)
}

// resubscribes watches the room again, over a new socket, from the cursor of
// the last event the member received.
func (w *world) resubscribes(name string) {
	old, ok := w.watchers[name]
	if !ok || old.cursor == "" {
		w.tb.Fatalf("%s has received nothing to resume from", name)
	}
	wt := w.watch(name, old.proto, old.cursor)
	wt.lastSeq, wt.cursor = old.lastSeq, old.cursor
	w.watchers[name] = wt
}
