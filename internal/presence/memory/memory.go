// Package memory is the in-process Presence adapter: it counts each member's
// live connections on this node. It is exact for one node; several nodes need
// a shared adapter (Redis).
package memory

import (
	"context"
	"sync"
)

// Presence counts live connections per member.
type Presence struct {
	mu    sync.Mutex
	conns map[string]int
}

// New returns an empty Presence.
func New() *Presence { return &Presence{conns: make(map[string]int)} }

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
