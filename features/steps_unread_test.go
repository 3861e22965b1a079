package features

import "strings"

// hasUnread checks the room's unread count as one member sees it.
func (w *world) hasUnread(name string, want int) {
	var out struct{ Room *struct{ UnreadCount int } }
	w.must(name, opUnread, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil {
		w.tb.Fatalf("%s cannot see the room", name)
	}
	if out.Room.UnreadCount != want {
		w.tb.Fatalf("%s has %d unread, want %d", name, out.Room.UnreadCount, want)
	}
}

// marksRead moves the member's read pointer to a message.
func (w *world) marksRead(name, text string) {
	var out struct{ MarkRead struct{ UnreadCount int } }
	w.must(name, opMarkRead, map[string]any{"r": w.requireRoom(), "m": w.messageID(text)}, &out)
}

// deletes turns a message into a tombstone.
func (w *world) deletes(name, text string) {
	var out struct {
		DeleteMessage struct {
			ID        string
			Text      string
			DeletedAt *string
		}
	}
	w.must(name, opDelete, map[string]any{"id": w.messageID(text)}, &out)
	if got := out.DeleteMessage; got.Text != "" || got.DeletedAt == nil {
		w.tb.Fatalf("deleting %q returned text %q, deletedAt %v; want a tombstone", text, got.Text, got.DeletedAt)
	}
}

// hasReadUpTo checks where the member's read pointer stands, as the room's
// member list shows it.
func (w *world) hasReadUpTo(name, text string) {
	var out struct {
		Room *struct {
			Members struct {
				Edges []struct {
					Node struct {
						Member            struct{ ID string }
						LastReadMessageID *string
					}
				}
			}
		}
	}
	w.must(name, opMembers, map[string]any{"r": w.requireRoom()}, &out)
	if out.Room == nil {
		w.tb.Fatalf("%s cannot see the room", name)
	}
	want := w.messageID(text)
	for _, e := range out.Room.Members.Edges {
		if e.Node.Member.ID != w.member(name).id {
			continue
		}
		if got := e.Node.LastReadMessageID; got == nil || *got != want {
			w.tb.Fatalf("%s's read pointer is at %s, want %q (%s)", name, w.textOf(got), text, want)
		}
		return
	}
	w.tb.Fatalf("%s is not in the room's member list", name)
}

// textOf names a message id by its text, for failure messages.
func (w *world) textOf(id *string) string {
	if id == nil {
		return "nothing"
	}
	for text, mid := range w.messages {
		if mid == *id {
			return `"` + text + `"`
		}
	}
	return *id
}

// seesAs checks a message's isRead as one member sees it.
func (w *world) seesAs(name, text, state string) {
	var out struct{ Message *struct{ IsRead bool } }
	w.must(name, opIsRead, map[string]any{"id": w.messageID(text)}, &out)
	if out.Message == nil {
		w.tb.Fatalf("%s cannot see %q", name, text)
	}
	if want := state == "read"; out.Message.IsRead != want {
		w.tb.Fatalf("%s sees %q as %s, want %s", name, text, map[bool]string{true: "read", false: "unread"}[out.Message.IsRead], strings.ToLower(state))
	}
}
