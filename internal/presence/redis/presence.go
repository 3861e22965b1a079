// Package redis is the app.Presence adapter for several nodes: who is online
// is kept in Redis, per node and with expiry, so that a member whose node
// dies goes offline without anybody disconnecting them.
//
// Data model. Each member has a sorted set <prefix>member:<id> whose
// elements are the ids of the nodes holding at least one of the member's
// connections, scored by the time (Redis's clock, in ms) at which that node's
// claim expires. A node refreshes its claims every TTL/3, pushing their
// expiry to now+TTL. A member is online while their set has an element that
// has not expired. Every change of a member's set is one Lua script on that
// one key, so it is atomic and works unchanged on Redis Cluster; no script
// touches two keys.
//
// Expiry. A dead node refreshes nothing, and nothing in Redis removes its
// claims by itself, so the surviving nodes sweep: the sorted set
// <prefix>expiry holds one hint "member\x00node" per claim, scored by when
// the claim will have expired. Run claims due hints with a script on that key alone
// (ZRANGEBYSCORE + ZREM), so each hint goes to exactly one node; that node
// then runs a script on the member's key that drops the claim only if it has
// really expired, and calls onExpired(member) if no live claim is left. A
// hint claimed early (its claim was refreshed meanwhile) is put back at the
// claim's expiry. The hints are only hints: the member's key decides.
// Connect writes the hint before the claim, so a node that dies in between
// leaves a hint and no claim rather than the reverse. A node that dies between
// claiming a hint and dropping the claim leaves a claim without hint, which
// no sweep finds; the member's key then expires as a whole 3·TTL after its
// last write, without onExpired.
//
// Timing. A member whose only node died goes offline between 0.77·TTL and
// 1.43·TTL after the death: their claim expires TTL after the node's last
// refresh (at most TTL/3 before the death), its hint is due TTL/10 later
// (so that a hint is not taken before its claim has expired, even when the
// two keys live on masters whose clocks differ a little), and survivors
// sweep every TTL/3.
//
// Who reports what. Connect reports cameOnline when no node had a live claim
// before it; Disconnect reports wentOffline when its claim was the last live
// one; Run reports onExpired when a sweep dropped the last claim. Each drop of
// the last claim is reported by exactly one of them, on one node. Claims that
// expired but were dropped by Connect or Disconnect (cleaning up after a dead
// node) are reported by nobody: Connect then reports cameOnline, Disconnect
// wentOffline, which covers them.
//
// The index key is a single key, so on a cluster all hint traffic (one write
// per online member per node per TTL/3) goes to one master.
package redis

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// DefaultTTL is how long a node's claim lives without a refresh when
// Options.TTL is zero.
const DefaultTTL = 30 * time.Second

// DefaultKeyPrefix starts every key when Options.KeyPrefix is empty.
const DefaultKeyPrefix = "nk:presence:"

// hintGraceDivisor makes a hint due TTL/hintGraceDivisor after its claim
// expires.
const hintGraceDivisor = 10

// batchSize bounds the elements one script call or pipeline handles, so that
// no single Redis call runs long.
const batchSize = 256

// Options configures a Presence.
type Options struct {
	// NodeID names this node in Redis; random when empty. Two live nodes must
	// not share one.
	NodeID string
	// TTL is how long a claim lives after its last refresh; DefaultTTL when
	// zero. Run refreshes and sweeps every TTL/3.
	TTL time.Duration
	// KeyPrefix starts every key the adapter uses; DefaultKeyPrefix when
	// empty. Tests use a unique one.
	KeyPrefix string
	// Logger receives Run's warnings; slog.Default() when nil.
	Logger *slog.Logger
}

// Presence implements app.Presence across nodes. Each node counts its own
// connections per member in memory and claims the member in Redis while it
// holds at least one. It is safe for concurrent use; Run must be running
// for the node's claims to stay alive and for dead nodes' claims to be swept.
type Presence struct {
	client goredis.UniversalClient
	node   string
	ttl    time.Duration
	prefix string
	log    *slog.Logger

	mu      sync.Mutex
	members map[string]*member
}

// member is this node's view of one member.
type member struct {
	// mu serialises this node's Redis updates of the member, so a Disconnect
	// never overtakes the Connect before it.
	mu sync.Mutex
	// Guarded by Presence.mu.
	conns int // live local connections
	users int // goroutines holding this entry; it is deleted at zero with conns
}

// New returns a Presence over client, which may be a single server or a
// cluster client.
func New(client goredis.UniversalClient, opts Options) *Presence {
	if opts.NodeID == "" {
		opts.NodeID = rand.Text()
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Presence{
		client:  client,
		node:    opts.NodeID,
		ttl:     opts.TTL,
		prefix:  opts.KeyPrefix,
		log:     opts.Logger,
		members: make(map[string]*member),
	}
}

// NodeID returns the id under which this node claims members.
func (p *Presence) NodeID() string { return p.node }

// Connect records one more connection of the member on this node. The first
// one claims the member in Redis; it reports cameOnline when no node had a
// live claim before. On error nothing is recorded.
func (p *Presence) Connect(ctx context.Context, memberID string) (bool, error) {
	m := p.acquire(memberID)
	defer p.release(memberID, m)
	m.mu.Lock()
	defer m.mu.Unlock()

	p.mu.Lock()
	first := m.conns == 0
	p.mu.Unlock()
	cameOnline := false
	if first {
		var err error
		if cameOnline, err = p.claim(ctx, memberID); err != nil {
			return false, fmt.Errorf("connect %s: %w", memberID, err)
		}
	}
	p.mu.Lock()
	m.conns++
	p.mu.Unlock()
	return cameOnline, nil
}

// Disconnect records one connection fewer on this node. The last one drops
// this node's claim; it reports wentOffline when no node has a live claim
// left. A Disconnect without a matching Connect is ignored. If Redis fails,
// the connection is still forgotten and the claim expires with TTL (Run
// reports it then).
func (p *Presence) Disconnect(ctx context.Context, memberID string) (bool, error) {
	m := p.acquire(memberID)
	defer p.release(memberID, m)
	m.mu.Lock()
	defer m.mu.Unlock()

	p.mu.Lock()
	n := m.conns
	if n > 0 {
		m.conns--
	}
	p.mu.Unlock()
	if n != 1 {
		return false, nil
	}
	wentOffline, err := p.unclaim(ctx, memberID)
	if err != nil {
		return false, fmt.Errorf("disconnect %s: %w", memberID, err)
	}
	return wentOffline, nil
}

// Online returns which of the given members have a live claim on any node,
// in one round trip per Redis server.
func (p *Presence) Online(ctx context.Context, memberIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(memberIDs))
	for start := 0; start < len(memberIDs); start += batchSize {
		batch := memberIDs[start:min(start+batchSize, len(memberIDs))]
		cmds, err := p.pipelined(ctx, len(batch), func(pipe goredis.Pipeliner, i int) goredis.Cmder {
			return countLive.EvalSha(ctx, pipe, []string{p.memberKey(batch[i])})
		})
		if err != nil {
			return nil, p.failed(ctx, "read who is online", err)
		}
		for i, id := range batch {
			n, err := cmds[i].(*goredis.Cmd).Int64()
			if err != nil {
				return nil, p.failed(ctx, "read who is online", err)
			}
			out[id] = n > 0
		}
	}
	return out, nil
}

// acquire returns the member's entry, created if needed, and keeps it alive
// until release.
func (p *Presence) acquire(memberID string) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.members[memberID]
	if m == nil {
		m = &member{}
		p.members[memberID] = m
	}
	m.users++
	return m
}

// release gives back what acquire took, forgetting a member with neither
// connections nor users.
func (p *Presence) release(memberID string, m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.users--
	if m.users == 0 && m.conns == 0 {
		delete(p.members, memberID)
	}
}

// claim writes the hint, then this node's claim; it reports whether no node
// had a live claim before.
func (p *Presence) claim(ctx context.Context, memberID string) (bool, error) {
	if err := p.writeHints(ctx, []string{memberID}); err != nil {
		return false, err
	}
	n, err := claimScript.Run(ctx, p.client, []string{p.memberKey(memberID)}, p.node, p.ttl.Milliseconds(), p.keyTTL()).Int64()
	if err != nil {
		return false, p.failed(ctx, "claim "+memberID, err)
	}
	return n == 1, nil
}

// unclaim drops this node's claim and its hint; it reports whether no live
// claim is left.
func (p *Presence) unclaim(ctx context.Context, memberID string) (bool, error) {
	n, err := unclaimScript.Run(ctx, p.client, []string{p.memberKey(memberID)}, p.node).Int64()
	if err != nil {
		return false, p.failed(ctx, "unclaim "+memberID, err)
	}
	// A hint left behind is harmless: the sweep finds no claim behind it.
	if err := p.client.ZRem(ctx, p.indexKey(), p.hint(memberID)).Err(); err != nil {
		p.log.Debug("presence: could not remove a hint", slog.String("member", memberID), slog.Any("error", err))
	}
	return n == 1, nil
}

// writeHints pushes the hints of this node's claims of members to
// now+TTL+TTL/10, just after the claims will expire.
func (p *Presence) writeHints(ctx context.Context, memberIDs []string) error {
	for start := 0; start < len(memberIDs); start += batchSize {
		batch := memberIDs[start:min(start+batchSize, len(memberIDs))]
		args := make([]any, 0, len(batch)+1)
		args = append(args, (p.ttl + p.ttl/hintGraceDivisor).Milliseconds())
		for _, id := range batch {
			args = append(args, p.hint(id))
		}
		if err := hintScript.Run(ctx, p.client, []string{p.indexKey()}, args...).Err(); err != nil {
			return p.failed(ctx, "write presence hints", err)
		}
	}
	return nil
}

// failed wraps a Redis failure: the caller's own context ending is reported
// as such, anything else as domain.ErrUnavailable.
func (p *Presence) failed(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
}

func (p *Presence) memberKey(memberID string) string { return p.prefix + "member:" + memberID }

func (p *Presence) indexKey() string { return p.prefix + "expiry" }

func (p *Presence) hint(memberID string) string { return memberID + "\x00" + p.node }

// keyTTL is how long a member's key outlives its last write: long enough
// for any surviving node to sweep it first, so the whole key only expires
// when no node is left to sweep.
func (p *Presence) keyTTL() string { return strconv.FormatInt(3*p.ttl.Milliseconds(), 10) }
