package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Typing is kept per room in a sorted set <prefix>typing:<room> of member
// ids scored by when their typing lapses (unix ms). Each operation touches
// that one key, so it works unchanged on Redis Cluster. The key expires a
// little after its latest entry, so idle rooms leave nothing behind.

// typingKeyGrace keeps a room's typing key a little longer than its latest
// entry needs.
const typingKeyGrace = time.Second

func (p *Presence) typingKey(roomID string) string { return p.prefix + "typing:" + roomID }

// SetTyping records that the member is typing in the room until until.
func (p *Presence) SetTyping(ctx context.Context, roomID, memberID string, until time.Time) error {
	key := p.typingKey(roomID)
	_, err := p.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		pipe.ZAdd(ctx, key, goredis.Z{Score: float64(until.UnixMilli()), Member: memberID})
		// Only ever push the key's expiry later: calls may arrive out of
		// order. NX sets it on a new key, GT extends it on an old one.
		at := until.Add(typingKeyGrace).UnixMilli()
		pipe.Do(ctx, "PEXPIREAT", key, at, "NX")
		pipe.Do(ctx, "PEXPIREAT", key, at, "GT")
		return nil
	})
	if err != nil {
		return p.failed(ctx, "set typing", err)
	}
	return nil
}

// ClearTyping forgets that the member is typing in the room.
func (p *Presence) ClearTyping(ctx context.Context, roomID, memberID string) error {
	if err := p.client.ZRem(ctx, p.typingKey(roomID), memberID).Err(); err != nil {
		return p.failed(ctx, "clear typing", err)
	}
	return nil
}

// Typing returns who is typing in the room at now: the entries that lapse
// after now. Lapsed entries are left to the key's expiry.
func (p *Presence) Typing(ctx context.Context, roomID string, now time.Time) ([]string, error) {
	ids, err := p.client.ZRangeByScore(ctx, p.typingKey(roomID), &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.UnixMilli(), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, p.failed(ctx, "read typing", err)
	}
	return ids, nil
}
