package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Run keeps this node's claims alive and sweeps the expired claims of dead
// nodes, every TTL/3, until ctx ends; then it returns nil. For each member
// whose last live claim a sweep of this node dropped, it calls
// onExpired(memberID), from Run's goroutine; across all nodes exactly one
// call is made per such drop. Redis failures are logged and retried at the
// next tick.
//
// A claim of this node that disappeared while the node still holds the
// member's connections (the node could not refresh for longer than TTL, and
// another node swept it) is claimed again at the next refresh. That return
// is not reported: Run has no callback for it.
func (p *Presence) Run(ctx context.Context, onExpired func(memberID string)) error {
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	for {
		if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("presence: refresh failed", slog.Any("error", err))
		}
		if err := p.sweep(ctx, onExpired); err != nil && ctx.Err() == nil {
			p.log.Warn("presence: sweep failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// refresh pushes the expiry of this node's claims (hints first, see the
// package comment), and claims again the members whose claim was swept.
func (p *Presence) refresh(ctx context.Context) error {
	p.mu.Lock()
	ids := make([]string, 0, len(p.members))
	for id, m := range p.members {
		if m.conns > 0 {
			ids = append(ids, id)
		}
	}
	p.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if err := p.writeHints(ctx, ids); err != nil {
		return err
	}
	var missing []string
	for start := 0; start < len(ids); start += batchSize {
		batch := ids[start:min(start+batchSize, len(ids))]
		cmds, err := p.pipelined(ctx, len(batch), func(pipe goredis.Pipeliner, i int) goredis.Cmder {
			return refreshScript.EvalSha(ctx, pipe, []string{p.memberKey(batch[i])}, p.node, p.ttl.Milliseconds(), p.keyTTL())
		})
		if err != nil {
			return p.failed(ctx, "refresh claims", err)
		}
		for i, id := range batch {
			if n, err := cmds[i].(*goredis.Cmd).Int64(); err == nil && n == 0 {
				missing = append(missing, id)
			}
		}
	}
	for _, id := range missing {
		if err := p.reclaim(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// reclaim claims a member again whose claim was swept while this node still
// holds their connections. It holds the member's lock, so a concurrent
// Disconnect either ran first (and nothing is claimed) or runs after.
func (p *Presence) reclaim(ctx context.Context, memberID string) error {
	m := p.acquire(memberID)
	defer p.release(memberID, m)
	m.mu.Lock()
	defer m.mu.Unlock()
	p.mu.Lock()
	holding := m.conns > 0
	p.mu.Unlock()
	if !holding {
		return nil
	}
	if _, err := p.claim(ctx, memberID); err != nil {
		return err
	}
	p.log.Info("presence: claimed a member again after its claim expired", slog.String("member", memberID))
	return nil
}

// sweep takes the due hints in batches and expires the claims behind them.
func (p *Presence) sweep(ctx context.Context, onExpired func(memberID string)) error {
	for {
		due, err := takeDueScript.Run(ctx, p.client, []string{p.indexKey()}, batchSize).StringSlice()
		if err != nil {
			return p.failed(ctx, "take due presence hints", err)
		}
		if len(due) == 0 {
			return nil
		}
		if err := p.expire(ctx, due, onExpired); err != nil {
			return err
		}
		if len(due) < batchSize {
			return nil
		}
	}
}

// expire checks the claims behind hints this node took, reports the members
// it took offline, and puts back the hints of claims that are still live (at
// the claim's expiry) or could not be checked (due at once, for the next
// sweep). A hint that cannot be put back is lost; its claim is then left to
// the key's own expiry.
func (p *Presence) expire(ctx context.Context, hints []string, onExpired func(memberID string)) error {
	type claim struct{ member, node, hint string }
	claims := make([]claim, 0, len(hints))
	for _, h := range hints {
		if member, node, ok := strings.Cut(h, "\x00"); ok {
			claims = append(claims, claim{member, node, h})
		}
	}
	cmds, pipeErr := p.pipelined(ctx, len(claims), func(pipe goredis.Pipeliner, i int) goredis.Cmder {
		return expireScript.EvalSha(ctx, pipe, []string{p.memberKey(claims[i].member)}, claims[i].node)
	})
	var live []goredis.Z
	var unchecked []any
	var checkErr error
	for i, c := range claims {
		res, err := []any(nil), pipeErr
		if cmds != nil {
			res, err = cmds[i].(*goredis.Cmd).Slice()
		}
		if err != nil || len(res) == 0 {
			checkErr = cmp.Or(checkErr, err, errEmptyReply)
			unchecked = append(unchecked, c.hint)
			continue
		}
		switch res[0] {
		case int64(1):
			if len(res) < 2 {
				continue
			}
			score, _ := res[1].(string)
			if f, err := strconv.ParseFloat(score, 64); err == nil {
				live = append(live, goredis.Z{Score: f, Member: c.hint})
			}
		case int64(2):
			onExpired(c.member)
		}
	}
	var errs []error
	if len(live) > 0 {
		// GT: a refresh may have pushed the hint further meanwhile.
		if err := p.client.ZAddGT(ctx, p.indexKey(), live...).Err(); err != nil {
			errs = append(errs, p.failed(ctx, "put back presence hints", err))
		}
	}
	if len(unchecked) > 0 {
		args := append([]any{0}, unchecked...)
		if err := hintScript.Run(ctx, p.client, []string{p.indexKey()}, args...).Err(); err != nil {
			errs = append(errs, p.failed(ctx, "put back presence hints", err))
		}
		errs = append(errs, p.failed(ctx, fmt.Sprintf("expire %d presence claims", len(unchecked)), checkErr))
	}
	return errors.Join(errs...)
}

// errEmptyReply is a script reply without the expected fields.
var errEmptyReply = errors.New("empty script reply")

// pipelined runs n commands, made by add, in one round trip per Redis
// server, and returns them in order. Scripts in a pipeline run by SHA only,
// so when Redis has lost some (a restart, a new node) it loads them and runs
// again only the commands that failed for that reason: a script that ran
// must not run twice, its first answer may be the only report of an expiry.
func (p *Presence) pipelined(ctx context.Context, n int, add func(pipe goredis.Pipeliner, i int) goredis.Cmder) ([]goredis.Cmder, error) {
	out := make([]goredis.Cmder, n)
	_, err := p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i := range n {
			out[i] = add(pipe, i)
		}
		return nil
	})
	var again []int
	for i, c := range out {
		if err := c.Err(); err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return out, err
	}
	for _, s := range scripts {
		if err := s.Load(ctx, p.client).Err(); err != nil {
			return nil, fmt.Errorf("load presence scripts: %w", err)
		}
	}
	_, err = p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, i := range again {
			out[i] = add(pipe, i)
		}
		return nil
	})
	return out, firstErr(out, err)
}

// firstErr returns the first command error, or err when none failed.
func firstErr(cmds []goredis.Cmder, err error) error {
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return err
}
