package features

import (
	"strings"

	"github.com/cucumber/godog"
	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// roomKind maps the steps' words to a RoomKind: private group →
// PRIVATE_GROUP.
func roomKind(privacy, kind string) string {
	return strings.ToUpper(privacy + "_" + kind)
}

func (w *world) creates(name, privacy, kind, roomName string) {
	w.createsWith(name, privacy, kind, roomName, "")
}

// createsWith creates a group or channel with members in it; it becomes the
// story's room.
func (w *world) createsWith(name, privacy, kind, roomName, with string) {
	ids := []string{}
	for _, n := range names(with) {
		ids = append(ids, w.member(n).id)
	}
	var out struct {
		CreateRoom struct{ ID, Kind, Name, MyRole string }
	}
	w.must(name, opCreateRoom, map[string]any{"k": roomKind(privacy, kind), "n": roomName, "ms": ids}, &out)
	got := out.CreateRoom
	if got.Kind != roomKind(privacy, kind) || got.Name != roomName || got.MyRole != "OWNER" {
		w.tb.Fatalf("created %+v, want a %s named %q owned by %s", got, roomKind(privacy, kind), roomName, name)
	}
	w.room, w.roomName = got.ID, roomName
}

func (w *world) canSee(name string) {
	var out struct{ Room *struct{ ID, Name string } }
	w.must(name, opRoom, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil || out.Room.Name != w.roomName {
		w.tb.Fatalf("%s sees %+v, want the room %q", name, out.Room, w.roomName)
	}
}

// cannotSee checks the room lookup answers null, as for a room that does not
// exist, rather than an error that would tell the room is there.
func (w *world) cannotSee(name string) {
	var out struct{ Room *struct{ ID, Name string } }
	w.must(name, opRoom, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room != nil {
		w.tb.Fatalf("%s sees the room %+v; want null", name, *out.Room)
	}
}

// canRead checks a member can look a message up by id.
func (w *world) canRead(name, text string) {
	var out struct{ Message *struct{ ID, Text string } }
	w.must(name, opMessage, map[string]any{"id": w.messageID(text)}, &out)
	if out.Message == nil || out.Message.Text != text {
		w.tb.Fatalf("%s reads %+v, want %q", name, out.Message, text)
	}
}

// cannotRead checks a message lookup answers null, as for a message that
// does not exist.
func (w *world) cannotRead(name, text string) {
	var out struct{ Message *struct{ ID, Text string } }
	w.must(name, opMessage, map[string]any{"id": w.messageID(text)}, &out)
	if out.Message != nil {
		w.tb.Fatalf("%s reads %+v; want null", name, *out.Message)
	}
}

// search returns the rooms a member finds with query, every page of them.
func (w *world) search(name, query string) map[string]string {
	found := map[string]string{}
	var after any
	for {
		var out struct {
			SearchRooms struct {
				Edges    []struct{ Node struct{ ID, Name string } }
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		w.must(name, opSearchRooms, map[string]any{"q": query, "after": after}, &out)
		for _, e := range out.SearchRooms.Edges {
			found[e.Node.ID] = e.Node.Name
		}
		p := out.SearchRooms.PageInfo
		if !p.HasNextPage || p.EndCursor == nil {
			return found
		}
		after = *p.EndCursor
	}
}

func (w *world) finds(name, query string) {
	got, ok := w.search(name, query)[w.requireRoom()]
	if !ok {
		w.tb.Fatalf("%s searching %q does not find %q", name, query, w.roomName)
	}
	if got != w.roomName {
		w.tb.Fatalf("%s finds the room named %q, want %q", name, got, w.roomName)
	}
}

func (w *world) doesNotFind(name, query string) {
	if _, ok := w.search(name, query)[w.requireRoom()]; ok {
		w.tb.Fatalf("%s searching %q finds %q", name, query, w.roomName)
	}
}

func (w *world) joins(name string) {
	var out struct{ JoinRoom struct{ ID, MyRole string } }
	w.must(name, opJoin, map[string]any{"r": w.requireRoom()}, &out)
	if out.JoinRoom.MyRole != "MEMBER" {
		w.tb.Fatalf("%s joined as %q, want MEMBER", name, out.JoinRoom.MyRole)
	}
}

func (w *world) leaves(name string) {
	var out struct{ LeaveRoom bool }
	w.must(name, opLeave, map[string]any{"r": w.requireRoom()}, &out)
	if !out.LeaveRoom {
		w.tb.Fatalf("leaveRoom answered false")
	}
}

func (w *world) adds(name, other string) {
	var out struct{ AddRoomMembers struct{ ID string } }
	w.must(name, opAddMembers, map[string]any{"r": w.requireRoom(), "ms": []string{w.member(other).id}}, &out)
}

func (w *world) makesRole(name, other, role string) {
	var out struct{ SetRoomRole struct{ Role string } }
	w.must(name, opSetRole, map[string]any{"r": w.requireRoom(), "m": w.member(other).id, "role": strings.ToUpper(role)}, &out)
	if out.SetRoomRole.Role != strings.ToUpper(role) {
		w.tb.Fatalf("setRoomRole made %s %s, want %s", other, out.SetRoomRole.Role, strings.ToUpper(role))
	}
}

// hasRole checks the member's own role in the room, as they see it.
func (w *world) hasRole(name, role string) {
	var out struct{ Room *struct{ MyRole *string } }
	w.must(name, opRoom, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil || out.Room.MyRole == nil || *out.Room.MyRole != strings.ToUpper(role) {
		w.tb.Fatalf("%s's role is %+v, want %s", name, out.Room, strings.ToUpper(role))
	}
}

// roomMember is one row of a member list as a table shows it.
type roomMember struct{ Member, Role string }

// seesMembers checks the room's member list, in join order, as a member
// reads it.
func (w *world) seesMembers(name string, table *godog.Table) {
	var want []roomMember
	for _, row := range rows(w, table, "member", "role") {
		want = append(want, roomMember{Member: row[0], Role: row[1]})
	}
	var out struct {
		Room *struct {
			Members struct {
				Edges []struct {
					Node struct {
						Member struct{ ID string }
						Role   string
					}
				}
			}
		}
	}
	w.must(name, opMembers, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil {
		w.tb.Fatalf("%s cannot see the room", name)
	}
	var got []roomMember
	for _, e := range out.Room.Members.Edges {
		got = append(got, roomMember{Member: w.nameOf(e.Node.Member.ID), Role: e.Node.Role})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		w.tb.Fatalf("members as %s sees them, -want +got:\n%s", name, diff)
	}
}

func (w *world) triesToPost(name, text string) {
	w.try(name+" posts", w.do(name, opSend, map[string]any{"r": w.requireRoom(), "t": text}))
}

func (w *world) triesToJoin(name string) {
	w.try(name+" joins", w.do(name, opJoin, map[string]any{"r": w.requireRoom()}))
}

// triesToWatch subscribes to the room's events and keeps how the server
// answers: an error, or nothing until an event comes.
func (w *world) triesToWatch(name string) {
	ws := w.srv.DialWS(w.tb, e2e.TransportWS, e2e.BearerPayload(w.member(name).token))
	ws.Subscribe(watchOp, subRoomEvents, map[string]any{"r": w.requireRoom()})
	f := ws.Next(w.tb, watchOp)
	errs, err := errorsOf(f)
	if err != nil {
		w.tb.Fatal(err)
	}
	if len(errs) == 0 {
		w.tb.Fatalf("%s's subscription answered %s %s; want an error", name, f.Type, f.Payload)
	}
	w.attempt = &attempt{what: name + " watches", errors: errs}
	ws.Close()
}

// refused checks that the last attempt failed with the given code.
func (w *world) refused(code string) {
	a := w.attempt
	if a == nil {
		w.tb.Fatalf("nothing was attempted")
	}
	if len(a.errors) == 0 {
		w.tb.Fatalf("%s: succeeded, want %s", a.what, code)
	}
	if got := a.errors[0].Code(); got != code {
		w.tb.Fatalf("%s: refused with %s (%q), want %s", a.what, got, a.errors[0].Message, code)
	}
}

// succeeds checks that the last attempt went through.
func (w *world) succeeds() {
	a := w.attempt
	if a == nil {
		w.tb.Fatalf("nothing was attempted")
	}
	if len(a.errors) > 0 {
		w.tb.Fatalf("%s: refused with %s (%q), want success", a.what, a.errors[0].Code(), a.errors[0].Message)
	}
}
