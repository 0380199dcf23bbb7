/**
 * The Lua scripts of the Redis broker. Each runs atomically inside Redis, so a publication, its
 * offset and its epoch can never disagree, and a history read sees one consistent stream.
 *
 * Per stream two keys, with one hash tag so they land in the same cluster slot:
 *   <prefix>{<stream>}:m  hash: `epoch` (set once, HSETNX) and `top` (the latest offset)
 *   <prefix>{<stream>}:s  Redis Stream of publications, entry id `<offset>-0`, fields f (frame), t (ms)
 * An epoch created anew (first use, or the hash was lost: restart without persistence,
 * eviction) wipes the stream and restarts offsets, so old positions are answered
 * `recovered: false` instead of being matched against a different history.
 */

/**
 * KEYS: meta, stream, idempotency key. ARGV: new epoch, frame channel (JSON), data (JSON),
 * historySize, historyTtl (ms), pub/sub channel, key ttl (ms), deadline (ms since the epoch),
 * idempotency window (ms; 0: no key). Returns { top, epoch, frame, repeated (0/1) }: repeated
 * when the idempotency key holds `<offset>:<epoch>` of a publication of this epoch (nothing is
 * made; its frame, or '' when trimmed). Or the error LATE once Redis's clock is past the deadline: the node has
 * told its caller the publication was refused (or is about to), so it must not happen later. A
 * Redis that was frozen (SIGSTOP, a stalled disk, a long fork) runs the commands waiting in its
 * sockets when it wakes up, long after the node's command timeout gave up on them.
 */
export const PUBLISH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[8]) then return redis.error_reply('LATE the node gave up on this publication') end
local win = tonumber(ARGV[9])
if win > 0 then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    local o, e = string.match(prev, '^(%d+):(.*)$')
    if e == redis.call('HGET', KEYS[1], 'epoch') then
      local f = redis.call('XRANGE', KEYS[2], o .. '-0', o .. '-0')
      local frame = ''
      if #f > 0 then frame = f[1][2][2] end
      return { tonumber(o), e, frame, 1 }
    end
  end
end
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[1], 'top')
  redis.call('DEL', KEYS[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local top = redis.call('HINCRBY', KEYS[1], 'top', 1)
local frame = '{"t":"pub","ch":' .. ARGV[2] .. ',"offset":' .. top .. ',"epoch":"' .. epoch .. '","data":' .. ARGV[3] .. '}'
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-0', 'f', frame, 't', now)
  -- Age trim, a bounded number of the oldest entries per publication (amortised).
  local min = now - tonumber(ARGV[5])
  local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 64)
  local n = 0
  for _, e in ipairs(old) do
    if tonumber(e[2][4]) >= min then break end
    n = n + 1
  end
  if n > 0 then
    local keep = tonumber(string.match(old[n][1], '^(%d+)')) + 1
    redis.call('XTRIM', KEYS[2], 'MINID', keep .. '-0')
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if win > 0 then redis.call('SET', KEYS[3], top .. ':' .. epoch, 'PX', win) end
redis.call('PUBLISH', ARGV[6], top .. ':' .. epoch .. ':' .. frame)
return { top, epoch, frame, 0 }
`;

/**
 * KEYS: meta, stream. ARGV: since epoch ('' for none), since offset, historyTtl (ms), new epoch
 * (used when the stream has none yet), key ttl (ms).
 * Returns { top, epoch, recovered (0/1), frame after since, … }.
 */
export const HISTORY_LUA = `
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[4]) == 1 then
  redis.call('HSET', KEYS[1], 'top', 0)
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local top = tonumber(redis.call('HGET', KEYS[1], 'top') or '0')
if ARGV[1] == '' then return { top, epoch, 1 } end
local since = tonumber(ARGV[2])
if ARGV[1] ~= epoch or since > top then return { top, epoch, 0 } end
if since == top then return { top, epoch, 1 } end
local entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+')
if #entries == 0 or tonumber(string.match(entries[1][1], '^(%d+)')) ~= since + 1 then return { top, epoch, 0 } end
local t = redis.call('TIME')
local min = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
if tonumber(entries[1][2][4]) < min then return { top, epoch, 0 } end
local out = { top, epoch, 1 }
for _, e in ipairs(entries) do out[#out + 1] = e[2][2] end
return out
`;

/**
 * Presence counts of one node (overall, or on one channel): a hash with `#conns` (connections)
 * and `u:<user>` (that user's connections). KEYS: the hash. ARGV: key ttl (ms), the change of
 * `#conns`, then pairs of user field and change. A count that reaches 0 leaves the hash; the hash
 * leaves with its last connection. The TTL is set here too: a node that dies before its next
 * heartbeat must not leave a key that never expires.
 */
export const COUNT_LUA = `
local c = redis.call('HINCRBY', KEYS[1], '#conns', ARGV[2])
for i = 3, #ARGV, 2 do
  local n = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
if c <= 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
`;

/**
 * A node's heartbeat. KEYS: the live-nodes sorted set (member: node generation, score: the ms
 * after which it no longer counts), the node's overall hash. ARGV: generation, ttl (ms), then
 * older generations of this node to drop. Deadlines come from Redis's clock (TIME), so clock skew
 * between nodes cannot make one look dead. Drops every expired member on the way. Returns 1 when
 * the generation was still live: 0 means the others stopped counting it (a pause longer than
 * the ttl), so the node rewrites its entries under a new generation.
 */
export const BEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 3, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('PEXPIRE', KEYS[2], ttl)
if prev and tonumber(prev) > now then return 1 end
return 0
`;
