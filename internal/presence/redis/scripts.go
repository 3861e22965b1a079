package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts read the time from Redis (TIME, allowed in scripts since Redis
// 5 with effect replication), so the nodes' clocks never disagree about what
// has expired. Each touches exactly one key. Times are milliseconds.

// nowLua sets now to Redis's time in milliseconds.
const nowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// claimScript: KEYS[1] the member's key; ARGV node, ttl, key ttl. It drops
// expired claims, adds or refreshes the node's, and returns 1 when no live
// claim was there before.
var claimScript = goredis.NewScript(nowLua + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if before == 0 then return 1 end
return 0
`)

// unclaimScript: KEYS[1] the member's key; ARGV node. It drops the node's
// claim and the expired ones, and returns 1 when no live claim is left.
var unclaimScript = goredis.NewScript(nowLua + `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0
`)

// refreshScript: KEYS[1] the member's key; ARGV node, ttl, key ttl. It
// pushes the node's claim to now+ttl and returns 1, or returns 0 without
// writing when the claim is gone (a sweep took it, or a Disconnect did).
var refreshScript = goredis.NewScript(nowLua + `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// countLive: KEYS[1] the member's key. It returns the number of live claims.
var countLive = goredis.NewScript(nowLua + `
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`)

// hintScript: KEYS[1] the index; ARGV delay, then hints. It scores every
// hint now+delay.
var hintScript = goredis.NewScript(nowLua + `
local exp = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], exp, ARGV[i])
end
return #ARGV - 1
`)

// takeDueScript: KEYS[1] the index; ARGV limit. It removes and returns up to
// limit hints that are due: whoever gets a hint is the only one to get it.
var takeDueScript = goredis.NewScript(nowLua + `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
`)

// expireScript: KEYS[1] the member's key; ARGV node. It returns {0} when the
// claim is gone or others are still live after dropping it, {1, expiry} when
// the claim has not expired (the hint goes back), {2} when it dropped the
// last live claim.
var expireScript = goredis.NewScript(nowLua + `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return {0} end
if tonumber(score) > now then return {1, score} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) == 0 then return {2} end
return {0}
`)

// scripts are loaded together when a pipeline finds them missing (after a
// Redis restart, or on a new cluster node).
var scripts = []*goredis.Script{claimScript, unclaimScript, refreshScript, countLive, hintScript, takeDueScript, expireScript}
