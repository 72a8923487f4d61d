import { ConfigurationError } from '../errors.js';
import { defineScripts } from './redis-scripts.js';
import { CLIENT_DEFAULTS } from './redis/client.js';
import { CONNECTION_DEFAULTS, createRedisConnection, type RedisConnectionOptions } from './redis/connection.js';
import { createInvalidationListener, everyoneNotice, sessionNotice, userNotice } from './redis/invalidation.js';
import { familyFields, parseFamily, redisKeys } from './redis/layout.js';
import { createSessionCheck, type SessionState } from './redis/session-check.js';
import { createSessionCache, SESSION_CACHE_DEFAULTS } from './session-cache.js';
import { byCreation, isLive, type FailureCount, type RotateResult, type SessionFamily, type SessionStore } from './store.js';

export { SessionStoreError } from './redis/errors.js';
export type { StoreClock } from './redis/clock.js';

/**
 * The shared session store (docs/architecture.md, Sessions): refresh families, revocation, per-user not-before
 * times and failed-login counters in Redis, so every instance behind a load balancer sees the same state. This
 * file composes the units under redis/ and maps each SessionStore call to its script:
 *
 * - Every read-then-write runs as one Lua script (redis-scripts.ts), atomic across instances: racing refreshes
 *   produce exactly one winner, reuse detection revokes the family once, a login attempt is judged and counted
 *   in one step whichever instance it reaches (N parallel attempts count as N).
 * - Keys expire by themselves: a family at its absolute expiry, a user's family set with its longest family, a
 *   not-before time once no token issued before it can be alive, an attempt counter its policy's `windowMs`
 *   after its latest attempt. TTLs are relative to the caller's clock, so skew between app servers and Redis
 *   does not matter.
 * - It fails fast and closed (redis/client.ts, redis/connection.ts): bounded connect and command timeouts, no
 *   offline queue, at most `maxInFlight` calls at once, every failure a SessionStoreError; the session kit answers
 *   503 store_unavailable. ioredis reconnects by itself, so service comes back without a restart.
 * - The per-request session check (redis/session-check.ts) keeps a local cache of live answers for
 *   `localCacheTtlMs` (default 250 ms), dropped at once by revocation notices (redis/invalidation.ts). The bound: a
 *   revocation made on any instance is honoured on every other within `localCacheTtlMs` even if the notice is
 *   lost, and within milliseconds when it arrives.
 *
 * Needs one Redis server (or a replicated primary, e.g. behind Redis Sentinel), version 4 or later; not Redis
 * Cluster (revokeUser's script touches keys in many slots).
 */

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Prefix of every key and of the notice channel; lets several apps share one Redis. Default 'sentinel:'. */
  keyPrefix?: string;
  /**
   * How long a "session is live" answer is reused locally. Default 250 ms. At most 1000 ms: it is the worst-case
   * delay before a revocation made elsewhere is honoured here when the pub/sub notice is lost. 0 turns it off.
   */
  localCacheTtlMs?: number;
  /** Most sessions in the local cache. Default 10 000. */
  localCacheMaxEntries?: number;
  /**
   * Listen for revocation notices (pub/sub). Default true; while the listener is down the local cache is off, so
   * the notice-loss bound is only met through the TTL. False: no listener, the cache alone bounds staleness.
   */
  invalidation?: boolean;
  /** Shortest lifetime of a user's not-before time; keep it ≥ SESSION_ABSOLUTE_TTL. Default 7 days. */
  notBeforeTtlMs?: number;
}

export interface RedisStoreStatus {
  store: 'redis';
  connected: boolean;
  /** Revocation notices: listening, not listening (cache off meanwhile), or disabled. */
  invalidation: 'live' | 'down' | 'off';
  inFlight: number;
  cache: { entries: number; hits: number; misses: number };
  lastError?: string;
  lastErrorAt?: string;
}

export interface RedisStore extends SessionStore {
  /**
   * Resolves once connected (and listening for revocation notices, unless `invalidation: false`); rejects with a
   * SessionStoreError after `timeoutMs` (default 5 s). Calls made before work or fail fast; this only avoids 503s
   * at start-up.
   */
  ready(timeoutMs?: number): Promise<void>;
  status(): RedisStoreStatus;
}

const DEFAULTS = {
  ...CLIENT_DEFAULTS,
  ...CONNECTION_DEFAULTS,
  keyPrefix: 'sentinel:',
  localCacheTtlMs: SESSION_CACHE_DEFAULTS.ttlMs,
  localCacheMaxEntries: SESSION_CACHE_DEFAULTS.maxEntries,
  invalidation: true,
  notBeforeTtlMs: 7 * 24 * 60 * 60_000,
  readyTimeoutMs: 5000,
};
/** The revocation bound we promise (README): no cache may outlive it. */
const MAX_LOCAL_CACHE_TTL_MS = 1000;

type Resolved = typeof DEFAULTS & RedisStoreOptions;

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Resolved;
  // Ours first, then each unit's as it is built; nothing connects before every option has passed.
  validate(o);
  const keys = redisKeys(o.keyPrefix);
  const cache = createSessionCache({ ttlMs: o.localCacheTtlMs, maxEntries: o.localCacheMaxEntries, now: () => o.clock.monotonic() });
  const connection = createRedisConnection(o);
  const { client } = connection;
  const scripts = defineScripts(client);
  const listener = o.invalidation ? createInvalidationListener({ client, channel: keys.channel, target: cache, onChange: connection.recheck }) : undefined;
  const listening = (): boolean => listener === undefined || listener.live;

  const check = createSessionCheck({
    cache,
    // Chosen once: this runs on every authenticated request.
    cacheable: o.localCacheTtlMs === 0 ? () => false : listener ? () => listener.live : () => true,
    fetch: (sessionId, userId) => connection.run('isSessionActive', () => scripts.sentinelSessionState(keys.family(sessionId), keys.notBefore(userId), keys.cutoff)).then((reply): SessionState => {
      const [owner, revoked, notBefore] = reply as [string | null, string | null, string | null];
      return { userId: owner, revoked: revoked === '1', notBefore: Number(notBefore ?? 0) };
    }),
  });

  return {
    async createFamily(family) {
      const ttlMs = Math.max(1, Math.ceil(family.absoluteExpiresAt - family.createdAt));
      await connection.run('createFamily', () => scripts.sentinelCreateFamily(keys.family(family.id), keys.userFamilies(family.userId), String(ttlMs), family.id, ...familyFields(family)));
    },

    async rotateFamily(id, presentedJti, nextJti, { now, graceMs, idleTtlMs }) {
      const reply = await connection.run('rotateFamily', () => scripts.sentinelRotate(keys.family(id), keys.cutoff, presentedJti, nextJti, String(now), String(graceMs), String(idleTtlMs), keys.channel, sessionNotice(id))) as string[];
      const [status, reason, ...fields] = reply;
      if (status === 'missing') return { status: 'missing' };
      const family = parseFamily(id, fields);
      if (status === 'reused' || status === 'revoked') cache.invalidateSession(id);
      if (status === 'expired') return { status, reason: reason as 'idle' | 'absolute', family };
      return { status, family } as RotateResult;
    },

    async revokeFamily(id) {
      let fields: string[];
      try {
        fields = await connection.run('revokeFamily', () => scripts.sentinelRevokeFamily(keys.family(id), keys.channel, sessionNotice(id))) as string[];
      } finally {
        // Our own cache at once, without waiting for our own notice; after a failure too, so the next check asks.
        cache.invalidateSession(id);
      }
      return fields.length === 0 ? undefined : parseFamily(id, fields);
    },

    async revokeUser(userId, notBeforeSec) {
      try {
        const live = await connection.run('revokeUser', () => scripts.sentinelRevokeUser(keys.userFamilies(userId), keys.notBefore(userId), String(Math.floor(notBeforeSec)), String(o.notBeforeTtlMs), keys.family(''), keys.channel, userNotice(userId)));
        return Number(live);
      } finally {
        cache.invalidateUser(userId);
      }
    },

    async revokeAll(cutoffMs) {
      try {
        await connection.run('revokeAll', () => scripts.sentinelRevokeAll(keys.cutoff, String(Math.floor(cutoffMs)), String(o.notBeforeTtlMs), keys.channel, everyoneNotice));
      } finally {
        cache.clear();
      }
    },

    async listFamilies(userId, { now, idleTtlMs }) {
      const [reply, cutoff] = await connection.run('listFamilies', (redis) => Promise.all([
        scripts.sentinelListFamilies(keys.userFamilies(userId), keys.family('')) as Promise<string[][]>,
        redis.get(keys.cutoff),
      ]));
      return reply
        .map(([id, ...fields]): SessionFamily => parseFamily(id!, fields))
        .filter((family) => family.userId === userId && isLive(family, now, idleTtlMs, Number(cutoff ?? 0)))
        .sort(byCreation);
    },

    async touchFamily(id, { at, sourceIp, device }) {
      await connection.run('touchFamily', () => scripts.sentinelTouchFamily(keys.family(id), String(Math.floor(at)), sourceIp ?? '', device ?? ''));
    },

    isSessionActive: check.isSessionActive,

    async takeAttempt(counters, now) {
      if (counters.length === 0) return { allowed: true, counts: [] };
      const args = counters.flatMap(({ policy }) => [policy.freeAttempts, policy.baseDelayMs, policy.maxDelayMs, Math.max(1, Math.ceil(policy.windowMs)), now + policy.windowMs].map(String));
      const reply = await connection.run('takeAttempt', () => scripts.sentinelTakeAttempt(String(counters.length), ...counters.map(({ key }) => keys.failure(key)), String(now), ...args)) as Array<number | string>;
      const [allowed, ...rest] = reply.map(Number);
      if (allowed === 1) return { allowed: true, counts: rest };
      return { allowed: false, index: rest[0]! - 1, count: rest[1]!, retryAfterMs: rest[2]! };
    },

    async returnAttempt(failureKeys) {
      if (failureKeys.length === 0) return;
      await connection.run('returnAttempt', () => scripts.sentinelReturnAttempt(String(failureKeys.length), ...failureKeys.map(keys.failure)));
    },

    async getFailures(failureKeys, now) {
      if (failureKeys.length === 0) return [];
      const flat = await connection.run('getFailures', () => scripts.sentinelGetFailures(String(failureKeys.length), ...failureKeys.map(keys.failure))) as Array<string | null>;
      return failureKeys.map((_key, i): FailureCount | undefined => {
        const [count, lastAt, expiresAt] = [flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]];
        // Expiry by the caller's clock, as the memory store does; Redis' TTL only collects the garbage.
        if (count === null || count === undefined || expiresAt === null || expiresAt === undefined || Number(expiresAt) < now) return undefined;
        return { count: Number(count), lastAt: Number(lastAt) };
      });
    },

    async clearFailures(failureKeys) {
      if (failureKeys.length === 0) return;
      await connection.run('clearFailures', (redis) => redis.del(...failureKeys.map(keys.failure)));
    },

    // Listening for revocations too when that is on: until then the local cache stays off.
    ready: (timeoutMs = o.readyTimeoutMs) => connection.ready(timeoutMs, listening),

    status() {
      const { lastError } = connection;
      return {
        store: 'redis',
        connected: connection.connected,
        invalidation: !listener ? 'off' : listener.live ? 'live' : 'down',
        inFlight: connection.inFlight,
        cache: { entries: cache.size, hits: check.hits, misses: check.misses },
        ...(lastError ? { lastError: lastError.message, lastErrorAt: new Date(lastError.at).toISOString() } : {}),
      };
    },

    async close() {
      cache.clear();
      listener?.close();
      await connection.close();
    },
  };
}

function validate(o: Resolved): void {
  if (typeof o.keyPrefix !== 'string' || !/^[A-Za-z0-9:._-]{0,64}$/.test(o.keyPrefix)) {
    throw new ConfigurationError('The keyPrefix option must be up to 64 letters, digits or : . _ -');
  }
  for (const name of ['localCacheMaxEntries', 'notBeforeTtlMs'] as const) {
    if (!Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a finite, positive number.`);
  }
  if (!Number.isFinite(o.localCacheTtlMs) || o.localCacheTtlMs < 0 || o.localCacheTtlMs > MAX_LOCAL_CACHE_TTL_MS) {
    throw new ConfigurationError(`The localCacheTtlMs option must be from 0 to ${MAX_LOCAL_CACHE_TTL_MS} (the revocation bound).`);
  }
  if (typeof o.invalidation !== 'boolean') throw new ConfigurationError('The invalidation option must be true or false.');
}
