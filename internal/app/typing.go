package app

import (
	"sync"
	"time"
)

// typing remembers who is typing where until when. Entries expire by time;
// they are swept when their room is read, so the map stays as small as the
// set of rooms with recent typing.
type typing struct {
	mu    sync.Mutex
	rooms map[string]map[string]time.Time // room → member → until
}

func newTyping() *typing { return &typing{rooms: make(map[string]map[string]time.Time)} }

func (t *typing) set(roomID, memberID string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rooms[roomID]
	if r == nil {
		r = make(map[string]time.Time)
		t.rooms[roomID] = r
	}
	r[memberID] = until
}

// clear forgets a member's typing, as when they send the message.
func (t *typing) clear(roomID, memberID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rooms[roomID], memberID)
}

// members returns who is typing in the room at now.
func (t *typing) members(roomID string, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for id, until := range t.rooms[roomID] {
		if now.Before(until) {
			out = append(out, id)
		} else {
			delete(t.rooms[roomID], id)
		}
	}
	if len(t.rooms[roomID]) == 0 {
		delete(t.rooms, roomID)
	}
	return out
}
