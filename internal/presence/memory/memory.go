// Package memory is the in-process Presence adapter: it counts each member's
// live connections on this node. It is exact for one node; several nodes need
// a shared adapter (Redis).
package memory

import (
	"context"
	"sync"
	"time"
)

// Presence counts live connections per member and remembers who is typing.
type Presence struct {
	mu     sync.Mutex
	conns  map[string]int
	typing map[string]map[string]time.Time // room → member → until
}

// New returns an empty Presence.
func New() *Presence {
	return &Presence{conns: make(map[string]int), typing: make(map[string]map[string]time.Time)}
}

// Connect records one more connection; it reports whether the member was offline.
func (p *Presence) Connect(_ context.Context, memberID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[memberID]++
	return p.conns[memberID] == 1, nil
}

// Disconnect records one connection fewer; it reports whether none is left.
// A Disconnect without a matching Connect is ignored.
func (p *Presence) Disconnect(_ context.Context, memberID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.conns[memberID]
	if !ok {
		return false, nil
	}
	if n <= 1 {
		delete(p.conns, memberID)
		return true, nil
	}
	p.conns[memberID] = n - 1
	return false, nil
}

// Online returns which of the given members hold a connection.
func (p *Presence) Online(_ context.Context, memberIDs []string) (map[string]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(memberIDs))
	for _, id := range memberIDs {
		out[id] = p.conns[id] > 0
	}
	return out, nil
}

// SetTyping records that the member is typing in the room until until.
func (p *Presence) SetTyping(_ context.Context, roomID, memberID string, until time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.typing[roomID]
	if r == nil {
		r = make(map[string]time.Time)
		p.typing[roomID] = r
	}
	r[memberID] = until
	return nil
}

// ClearTyping forgets that the member is typing in the room.
func (p *Presence) ClearTyping(_ context.Context, roomID, memberID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.typing[roomID], memberID)
	if len(p.typing[roomID]) == 0 {
		delete(p.typing, roomID)
	}
	return nil
}

// Typing returns who is typing in the room at now. Lapsed entries are
// dropped as they are found, so the map stays as small as the set of rooms
// with recent typing.
func (p *Presence) Typing(_ context.Context, roomID string, now time.Time) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id, until := range p.typing[roomID] {
		if now.Before(until) {
			out = append(out, id)
		} else {
			delete(p.typing[roomID], id)
		}
	}
	if len(p.typing[roomID]) == 0 {
		delete(p.typing, roomID)
	}
	return out, nil
}
