import type { Redis } from 'ioredis';

/**
 * The Lua scripts of the Redis session store, one per operation that reads and then writes. Redis runs a script
 * to completion before any other command, so each of them is atomic across every instance sharing the server:
 * two instances racing on one refresh token cannot both see it as current (docs/architecture.md, Sessions).
 *
 * Conventions:
 * - Timestamps and TTLs arrive as decimal strings computed in JavaScript and are stored as given. Lua numbers are
 *   doubles and Redis formats a number argument its own way (`1.7e+12` on some versions), so scripts compare
 *   with tonumber() but never write a computed number, except through string.format('%d').
 * - A family is a hash: userId, userName, roles (JSON), createdAt, lastRotatedAt, currentJti, previousJti
 *   ('' for none), revoked ('0' or '1'), absoluteExpiresAt.
 * - Revocations PUBLISH on the invalidation channel from inside the script, so no state change can happen without
 *   its notice being sent (the notice is best effort all the same: see redis/invalidation.ts).
 * - revokeUser reads family keys named inside the script (from the user's set): fine on one Redis server or a
 *   replicated primary, not on Redis Cluster, where every key of a script must be declared and share a slot.
 */

export interface ScriptDefinition {
  /** Keys passed by the caller: a number, or undefined when the caller passes the count first. */
  numberOfKeys?: number;
  lua: string;
}

export const SCRIPTS = {
  /** KEYS: family, user's family set. ARGV: ttlMs, family id, field, value, ... */
  sentinelCreateFamily: {
    numberOfKeys: 2,
    lua: `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
-- The set lives as long as its longest-lived family (PTTL is -1 for a set just created).
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1`,
  },

  /**
   * KEYS: family, global cut-off. ARGV: presented jti, next jti, now, graceMs, idleTtlMs, channel, message.
   * Returns { status, reason, ...HGETALL } or { 'missing' }; the same decisions as the memory store, in one step.
   */
  sentinelRotate: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local f = redis.call('HMGET', KEYS[1], 'revoked', 'currentJti', 'previousJti', 'lastRotatedAt', 'absoluteExpiresAt', 'createdAt')
local now = tonumber(ARGV[3])
local status, reason = 'reused', ''
local cutoff = redis.call('GET', KEYS[2])
if f[1] ~= '1' and cutoff and tonumber(f[6]) <= tonumber(cutoff) then
  -- Created before the global cut-off (revokeAll): revoked from now on.
  redis.call('HSET', KEYS[1], 'revoked', '1')
  f[1] = '1'
end
if f[1] == '1' then
  status = 'revoked'
elseif ARGV[1] == f[2] then
  if now >= tonumber(f[5]) then
    status, reason = 'expired', 'absolute'
  elseif now - tonumber(f[4]) >= tonumber(ARGV[5]) then
    status, reason = 'expired', 'idle'
  else
    redis.call('HSET', KEYS[1], 'previousJti', f[2], 'currentJti', ARGV[2], 'lastRotatedAt', ARGV[3])
    status = 'rotated'
  end
elseif f[3] ~= '' and ARGV[1] == f[3] and now - tonumber(f[4]) <= tonumber(ARGV[4]) then
  status = 'conflict'
end
if status == 'reused' then
  -- RFC 9700 §4.14.2: a rotated (or never issued) token came back; the whole family goes.
  redis.call('HSET', KEYS[1], 'revoked', '1')
  redis.call('PUBLISH', ARGV[6], ARGV[7])
end
return {status, reason, unpack(redis.call('HGETALL', KEYS[1]))}`,
  },

  /** KEYS: family. ARGV: channel, message. Returns HGETALL, empty when unknown. */
  sentinelRevokeFamily: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('PUBLISH', ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])`,
  },

  /**
   * KEYS: user's family set, user's not-before. ARGV: notBeforeSec, minimum not-before TTL (ms), family key
   * prefix, channel, message. Returns how many families were live.
   */
  sentinelRevokeUser: {
    numberOfKeys: 2,
    lua: `
-- The not-before time must outlive every token issued before it: at least the longest family of the user.
local ttl = tonumber(ARGV[2])
local setTtl = redis.call('PTTL', KEYS[1])
if setTtl > ttl then ttl = setTtl end
local current = redis.call('GET', KEYS[2])
if current == false or tonumber(ARGV[1]) > tonumber(current) then
  redis.call('SET', KEYS[2], ARGV[1])
else
  -- Never moves back, never shortens.
  local nbfTtl = redis.call('PTTL', KEYS[2])
  if nbfTtl > ttl then ttl = nbfTtl end
end
redis.call('PEXPIRE', KEYS[2], string.format('%d', ttl))
local live = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[3] .. id
  local revoked = redis.call('HGET', key, 'revoked')
  if revoked == false then
    redis.call('SREM', KEYS[1], id)
  elseif revoked ~= '1' then
    redis.call('HSET', key, 'revoked', '1')
    live = live + 1
  end
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return live`,
  },

  /**
   * KEYS: family, user's not-before, global cut-off. Returns { family userId, revoked, notBefore } (nil when
   * absent); a family created up to the cut-off counts as revoked.
   */
  sentinelSessionState: {
    numberOfKeys: 3,
    lua: `
local f = redis.call('HMGET', KEYS[1], 'userId', 'revoked', 'createdAt')
local cutoff = redis.call('GET', KEYS[3])
if cutoff and f[3] and tonumber(f[3]) <= tonumber(cutoff) then f[2] = '1' end
return {f[1], f[2], redis.call('GET', KEYS[2])}`,
  },

  /**
   * KEYS: global cut-off. ARGV: cutoffMs, TTL (ms, at least the longest family), channel, message. The cut-off
   * never moves back; rotation and the session check compare families' createdAt with it, so no family needs
   * visiting.
   */
  sentinelRevokeAll: {
    numberOfKeys: 1,
    lua: `
local current = redis.call('GET', KEYS[1])
if current == false or tonumber(ARGV[1]) > tonumber(current) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`,
  },

  /**
   * KEYS: user's family set. ARGV: family key prefix. Returns { id, ...HGETALL } for each family still in Redis,
   * dropping ids whose family has expired; the caller judges liveness by its own clock.
   */
  sentinelListFamilies: {
    numberOfKeys: 1,
    lua: `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    redis.call('SREM', KEYS[1], id)
  else
    out[#out + 1] = {id, unpack(fields)}
  end
end
return out`,
  },

  /**
   * KEYS: family. ARGV: at (ms), source address, device ('' leaves a field as it is). Writes only to a live
   * family and never moves lastUsedAt back.
   */
  sentinelTouchFamily: {
    numberOfKeys: 1,
    lua: `
local f = redis.call('HMGET', KEYS[1], 'revoked', 'lastUsedAt')
if f[1] ~= '0' then return 0 end
if f[2] and tonumber(f[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'sourceIp', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'device', ARGV[3]) end
return 1`,
  },

  /**
   * KEYS: attempt counters. ARGV: now, then for each key freeAttempts, baseDelayMs, maxDelayMs, windowMs and
   * expiresAt (now + windowMs). The memory store's takeAttempt in one step: when a counter's delay (delayFor in
   * throttle-policy.ts, written again here) still runs, returns { 0, index, count, wait } and records nothing;
   * else adds one to every counter and returns { 1, count... }. A counter whose window has passed (by the
   * caller's clock) starts again from one; Redis' own TTL only collects the garbage.
   */
  sentinelTakeAttempt: {
    lua: `
local now = tonumber(ARGV[1])
local counts = {}
local worst, worstIndex = 0, 0
for i, key in ipairs(KEYS) do
  local o = 2 + 5 * (i - 1)
  local f = redis.call('HMGET', key, 'count', 'lastAt', 'expiresAt')
  local count = 0
  if f[1] and tonumber(f[3]) >= now then count = tonumber(f[1]) end
  counts[i] = count
  local free = tonumber(ARGV[o])
  if count > free then
    local delay = math.min(tonumber(ARGV[o + 2]), tonumber(ARGV[o + 1]) * 2 ^ math.min(30, count - free - 1))
    local wait = tonumber(f[2]) + delay - now
    if wait > worst then worst, worstIndex = wait, i end
  end
end
if worstIndex > 0 then return {0, worstIndex, counts[worstIndex], string.format('%d', math.ceil(worst))} end
local out = {1}
for i, key in ipairs(KEYS) do
  local o = 2 + 5 * (i - 1)
  if counts[i] == 0 then redis.call('DEL', key) end
  out[i + 1] = redis.call('HINCRBY', key, 'count', 1)
  redis.call('HSET', key, 'lastAt', ARGV[1], 'expiresAt', ARGV[o + 4])
  redis.call('PEXPIRE', key, ARGV[o + 3])
end
return out`,
  },

  /** KEYS: attempt counters. Takes one attempt back from each; a counter at zero is deleted. */
  sentinelReturnAttempt: {
    lua: `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('HINCRBY', key, 'count', -1) <= 0 then redis.call('DEL', key) end
end
return 1`,
  },

  /** KEYS: failure counters. Returns count, lastAt, expiresAt for each (nil when absent). */
  sentinelGetFailures: {
    lua: `
local out = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'count', 'lastAt', 'expiresAt')
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = f[1], f[2], f[3]
end
return out`,
  },
} as const satisfies Record<string, ScriptDefinition>;

export type ScriptName = keyof typeof SCRIPTS;

/** A script as a command of the client: keys first, then arguments, all strings; resolves with the script's reply. */
export type ScriptCommand = (...args: string[]) => Promise<unknown>;

/**
 * Defines every script on `client` and returns them as commands. ioredis sends EVALSHA and falls back to EVAL
 * once when the server does not know a script yet (after a restart or SCRIPT FLUSH).
 */
export function defineScripts(client: Pick<Redis, 'defineCommand'>): Record<ScriptName, ScriptCommand> {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, 'numberOfKeys' in script ? { lua: script.lua, numberOfKeys: script.numberOfKeys } : { lua: script.lua });
  }
  return client as unknown as Record<ScriptName, ScriptCommand>;
}
