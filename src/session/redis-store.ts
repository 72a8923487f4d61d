import { Redis, type RedisOptions } from 'ioredis';
import { ConfigurationError } from '../errors.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';
import { createSessionCache } from './session-cache.js';
import type { FailureCount, RotateResult, SessionFamily, SessionStore } from './store.js';

/**
 * The shared session store (DESIGN.md §3, issue 6): refresh families, revocation, per-user not-before times and
 * failed-login counters in Redis, so every instance behind a load balancer sees the same state.
 *
 * - Every read-then-write runs as one Lua script (redis-scripts.ts), atomic across instances: racing refreshes
 *   produce exactly one winner, reuse detection revokes the family once, failures from all instances add up.
 * - Keys expire by themselves: a family at its absolute expiry, a user's family set with its longest family, a
 *   not-before time once no token issued before it can be alive, a failure counter `windowMs` after its latest
 *   failure. TTLs are relative to the caller's clock, so skew between app servers and Redis does not matter.
 * - It fails fast and closed: bounded connect and command timeouts, no offline queue (a command while
 *   disconnected rejects at once instead of piling up), at most `maxInFlight` calls at once. Every failure
 *   rejects with a SessionStoreError; the session kit answers 503 store_unavailable. ioredis reconnects by itself
 *   (capped back-off), so service comes back without a restart.
 * - The per-request session check keeps a local cache of live answers for `localCacheTtlMs` (default 250 ms),
 *   dropped at once by revocation notices on pub/sub. The bound: a revocation made on any instance is honoured on
 *   every other within `localCacheTtlMs` even if the notice is lost, and within milliseconds when it arrives.
 *
 * Needs one Redis server (or a replicated primary, e.g. behind Redis Sentinel), version 4 or later; not Redis
 * Cluster (revokeUser's script touches keys in many slots).
 */

export interface RedisStoreOptions {
  /** A `redis://` or `rediss://` URL (REDIS_URL). Exactly one of `url` and `client`. */
  url?: string;
  /**
   * An ioredis client you built and own: close() leaves it open. Give it the same care as the defaults below
   * (commandTimeout, enableOfflineQueue: false): without them a Redis outage queues requests instead of failing
   * them, and a warning says so. A duplicate of it carries the revocation notices.
   */
  client?: Redis;
  /** Prefix of every key and of the notice channel; lets several apps share one Redis. Default 'sentinel:'. */
  keyPrefix?: string;
  /** Every command fails after this long (a slow or frozen Redis). Default 500 ms. */
  commandTimeoutMs?: number;
  /** Connecting fails after this long. Default 1000 ms. */
  connectTimeoutMs?: number;
  /**
   * How many reconnections a command in flight waits for before failing. Default 0: a command whose connection
   * drops fails at once, because its reply is lost and it may or may not have run; the client decides.
   */
  maxRetriesPerRequest?: number;
  /** Reconnection back-off doubles from 50 ms up to this. Default 1000 ms: service is back within ~1 s of Redis. */
  maxReconnectDelayMs?: number;
  /** Calls in flight beyond which new calls fail at once (no pile-up when Redis is slow). Default 1000. */
  maxInFlight?: number;
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
  /** Told when the connection goes down or comes back: transitions only, never per command. */
  onStatus?: (status: 'ready' | 'down', error?: Error) => void;
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

/**
 * A store call that failed. `code`: store_unreachable (not connected, connection lost), store_timeout (no answer
 * within commandTimeoutMs), store_overloaded (maxInFlight reached), store_reply (Redis refused the command),
 * store_closed (close() was called). The ioredis error is the `cause`.
 */
export class SessionStoreError extends Error {
  readonly code: 'store_unreachable' | 'store_timeout' | 'store_overloaded' | 'store_reply' | 'store_closed';
  readonly operation: string;

  constructor(code: SessionStoreError['code'], operation: string, cause?: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super(`Redis session store: ${operation} failed (${code})${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'SessionStoreError';
    this.code = code;
    this.operation = operation;
  }
}

const DEFAULTS = {
  keyPrefix: 'sentinel:',
  commandTimeoutMs: 500,
  connectTimeoutMs: 1000,
  maxRetriesPerRequest: 0,
  maxReconnectDelayMs: 1000,
  maxInFlight: 1000,
  localCacheTtlMs: 250,
  localCacheMaxEntries: 10_000,
  invalidation: true,
  notBeforeTtlMs: 7 * 24 * 60 * 60_000,
};
/** The revocation bound we promise (README): no cache may outlive it. */
const MAX_LOCAL_CACHE_TTL_MS = 1000;
const FAMILY_FIELDS = 9;

type ScriptCommand = (...args: string[]) => Promise<unknown>;
interface SessionState {
  userId: string | null;
  revoked: boolean;
  notBefore: number;
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & RedisStoreOptions;
  validate(o);
  const prefix = o.keyPrefix;
  const channel = `${prefix}revoked`;
  const familyKey = (id: string): string => `${prefix}fam:${id}`;
  const userFamiliesKey = (userId: string): string => `${prefix}ufam:${userId}`;
  const notBeforeKey = (userId: string): string => `${prefix}nbf:${userId}`;
  const failureKey = (key: string): string => `${prefix}fail:${key}`;

  const owned = o.client === undefined;
  const client = o.client ?? new Redis(o.url!, connectionOptions(o));
  if (!owned) warnAboutClient(client);
  for (const [name, script] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, 'numberOfKeys' in script ? { lua: script.lua, numberOfKeys: script.numberOfKeys } : { lua: script.lua });
  }
  const scripts = client as unknown as Record<ScriptName, ScriptCommand>;

  const cache = createSessionCache(o.localCacheTtlMs, o.localCacheMaxEntries);
  const flights = new Map<string, { ticket: ReturnType<typeof cache.begin>; promise: Promise<SessionState> }>();
  let hits = 0;
  let misses = 0;
  let inFlight = 0;
  let closed = false;
  let lastError: { message: string; at: number } | undefined;

  // Connection state, reported on transitions only: an outage is one line in the log, not one per request.
  let state: 'connecting' | 'ready' | 'down' = client.status === 'ready' ? 'ready' : 'connecting';
  const report = (next: 'ready' | 'down', error?: Error): void => {
    if (closed || state === next) return;
    state = next;
    try {
      o.onStatus?.(next, error);
    } catch {
      // A broken status hook must not break the connection handling.
    }
  };
  const onError = (error: Error): void => {
    lastError = { message: error.message, at: Date.now() };
    if (client.status !== 'ready') report('down', error);
  };
  // ready() callers, told whenever the connection or the listener comes up.
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const onReady = (): void => {
    report('ready');
    notify();
  };
  const onClose = (): void => report('down', new Error('the connection to Redis closed'));
  // Without an 'error' listener ioredis prints every failed reconnection to the console.
  client.on('error', onError);
  client.on('ready', onReady);
  client.on('close', onClose);

  // Revocation notices. The listener's own connection: a subscribed connection can run no other command.
  let invalidationLive = false;
  const subscriber = o.invalidation ? client.duplicate({ autoResubscribe: false, connectionName: 'koa-sentinel-invalidation' }) : undefined;
  if (subscriber) {
    subscriber.on('error', () => {
      // Reported through the main connection; the listener only turns the cache off while it is down.
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).then(() => {
        // Notices sent while we were not listening are lost: start from an empty cache.
        cache.clear();
        invalidationLive = true;
        notify();
      }, () => subscriber.disconnect(true));
    });
    subscriber.on('close', () => {
      invalidationLive = false;
      cache.clear();
    });
    subscriber.on('message', (_channel: string, message: string) => applyNotice(message));
  }
  const applyNotice = (message: string): void => {
    if (message.startsWith('s:')) cache.invalidateSession(message.slice(2));
    else if (message.startsWith('u:')) cache.invalidateUser(message.slice(2));
    else cache.clear();
  };

  async function run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw new SessionStoreError('store_closed', operation);
    if (inFlight >= o.maxInFlight) throw new SessionStoreError('store_overloaded', operation);
    inFlight += 1;
    try {
      return await work();
    } catch (error) {
      const mapped = toStoreError(operation, error);
      lastError = { message: mapped.message, at: Date.now() };
      throw mapped;
    } finally {
      inFlight -= 1;
    }
  }

  /** One round trip per session at a time: concurrent checks of the same session share the answer. */
  function lookup(sessionId: string, userId: string, cacheable: boolean): Promise<SessionState> {
    const key = `${sessionId}\u0000${userId}`;
    const flight = flights.get(key);
    // A flight started before an invalidation may carry a stale answer: never join it.
    if (flight && cache.current(flight.ticket)) return flight.promise;
    const ticket = cache.begin(performance.now());
    const promise = run('isSessionActive', () => scripts.sentinelSessionState(familyKey(sessionId), notBeforeKey(userId))).then((reply) => {
      const [owner, revoked, notBefore] = reply as [string | null, string | null, string | null];
      const found: SessionState = { userId: owner, revoked: revoked === '1', notBefore: Number(notBefore ?? 0) };
      if (cacheable && owner === userId && !found.revoked) cache.set(sessionId, userId, found.notBefore, ticket);
      return found;
    });
    flights.set(key, { ticket, promise });
    const settle = (): void => {
      if (flights.get(key)?.promise === promise) flights.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  /**
   * Renews a cache entry before it runs out, so a busy session keeps answering synchronously. A revoked session
   * found this way is dropped at once (even if its notice was lost); a failure leaves the entry to expire.
   */
  function refreshInBackground(sessionId: string, entry: { userId: string; refreshing: boolean }): void {
    entry.refreshing = true;
    lookup(sessionId, entry.userId, true).then((found) => {
      if (found.userId !== entry.userId || found.revoked) cache.invalidateSession(sessionId);
    }, () => {
      // The entry expires by itself; the next check after that asks Redis and fails closed if it is still down.
    });
  }

  return {
    async createFamily(family) {
      const ttlMs = Math.max(1, Math.ceil(family.absoluteExpiresAt - family.createdAt));
      await run('createFamily', () => scripts.sentinelCreateFamily(familyKey(family.id), userFamiliesKey(family.userId), String(ttlMs), family.id, ...familyFields(family)));
    },

    async rotateFamily(id, presentedJti, nextJti, { now, graceMs, idleTtlMs }) {
      const reply = await run('rotateFamily', () => scripts.sentinelRotate(familyKey(id), presentedJti, nextJti, String(now), String(graceMs), String(idleTtlMs), channel, `s:${id}`)) as string[];
      const [status, reason, ...fields] = reply;
      if (status === 'missing') return { status: 'missing' };
      const family = parseFamily(id, fields);
      if (status === 'reused') cache.invalidateSession(id);
      if (status === 'expired') return { status, reason: reason as 'idle' | 'absolute', family };
      return { status, family } as RotateResult;
    },

    async revokeFamily(id) {
      let fields: string[];
      try {
        fields = await run('revokeFamily', () => scripts.sentinelRevokeFamily(familyKey(id), channel, `s:${id}`)) as string[];
      } finally {
        // Our own cache at once, without waiting for our own notice; after a failure too, so the next check asks.
        cache.invalidateSession(id);
      }
      return fields.length === 0 ? undefined : parseFamily(id, fields);
    },

    async revokeUser(userId, notBeforeSec) {
      try {
        const live = await run('revokeUser', () => scripts.sentinelRevokeUser(userFamiliesKey(userId), notBeforeKey(userId), String(Math.floor(notBeforeSec)), String(o.notBeforeTtlMs), familyKey(''), channel, `u:${userId}`));
        return Number(live);
      } finally {
        cache.invalidateUser(userId);
      }
    },

    isSessionActive(sessionId, userId, issuedAtSec) {
      const cacheable = o.localCacheTtlMs > 0 && (!subscriber || invalidationLive);
      if (cacheable) {
        // A monotonic clock: a wall clock stepped back (NTP) must not stretch the revocation bound.
        const now = performance.now();
        const entry = cache.peek(sessionId, now);
        if (entry !== undefined) {
          hits += 1;
          if (now >= entry.refreshAt && !entry.refreshing) refreshInBackground(sessionId, entry);
          return entry.userId === userId && issuedAtSec >= entry.notBefore;
        }
      }
      misses += 1;
      return lookup(sessionId, userId, cacheable).then((found) => found.userId === userId && !found.revoked && issuedAtSec >= found.notBefore);
    },

    async recordFailures(keys, windowMs, now) {
      if (keys.length === 0) return [];
      const counts = await run('recordFailures', () => scripts.sentinelRecordFailures(String(keys.length), ...keys.map(failureKey), String(now), String(now + windowMs), String(Math.max(1, Math.ceil(windowMs))))) as number[];
      return counts.map((count) => ({ count: Number(count), lastAt: now }));
    },

    async getFailures(keys, now) {
      if (keys.length === 0) return [];
      const flat = await run('getFailures', () => scripts.sentinelGetFailures(String(keys.length), ...keys.map(failureKey))) as Array<string | null>;
      return keys.map((_key, i): FailureCount | undefined => {
        const [count, lastAt, expiresAt] = [flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]];
        // Expiry by the caller's clock, as the memory store does; Redis' TTL only collects the garbage.
        if (count === null || count === undefined || expiresAt === null || expiresAt === undefined || Number(expiresAt) < now) return undefined;
        return { count: Number(count), lastAt: Number(lastAt) };
      });
    },

    async clearFailures(keys) {
      if (keys.length === 0) return;
      await run('clearFailures', () => client.del(...keys.map(failureKey)));
    },

    ready(timeoutMs = 5000) {
      // Connected, and listening for revocations when that is on (until then the local cache stays off).
      const up = (): boolean => client.status === 'ready' && (!subscriber || invalidationLive);
      if (up()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = (): void => {
          if (!up()) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new SessionStoreError('store_unreachable', 'ready', lastError ? new Error(lastError.message) : undefined));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },

    status() {
      return {
        store: 'redis',
        connected: client.status === 'ready',
        invalidation: !subscriber ? 'off' : invalidationLive ? 'live' : 'down',
        inFlight,
        cache: { entries: cache.size, hits, misses },
        ...(lastError ? { lastError: lastError.message, lastErrorAt: new Date(lastError.at).toISOString() } : {}),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      cache.clear();
      client.off('error', onError);
      client.off('ready', onReady);
      client.off('close', onClose);
      // Keep swallowing late connection errors of the connections being closed.
      client.on('error', () => {});
      subscriber?.disconnect();
      if (!owned) return;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}

function validate(o: typeof DEFAULTS & RedisStoreOptions): void {
  if ((o.url === undefined) === (o.client === undefined)) throw new ConfigurationError('Give the Redis store exactly one of the url and client options.');
  if (o.url !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(o.url).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigurationError('The url option must be a redis:// or rediss:// URL.');
  }
  if (o.client !== undefined && typeof (o.client as { defineCommand?: unknown }).defineCommand !== 'function') {
    throw new ConfigurationError('The client option must be an ioredis client (new Redis(...)).');
  }
  if (typeof o.keyPrefix !== 'string' || !/^[A-Za-z0-9:._-]{0,64}$/.test(o.keyPrefix)) {
    throw new ConfigurationError('The keyPrefix option must be up to 64 letters, digits or : . _ -');
  }
  const positive = ['commandTimeoutMs', 'connectTimeoutMs', 'maxReconnectDelayMs', 'maxInFlight', 'localCacheMaxEntries', 'notBeforeTtlMs'] as const;
  for (const name of positive) {
    if (!Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a finite, positive number.`);
  }
  if (!Number.isInteger(o.maxRetriesPerRequest) || o.maxRetriesPerRequest < 0) throw new ConfigurationError('The maxRetriesPerRequest option must be a non-negative integer.');
  if (!Number.isFinite(o.localCacheTtlMs) || o.localCacheTtlMs < 0 || o.localCacheTtlMs > MAX_LOCAL_CACHE_TTL_MS) {
    throw new ConfigurationError(`The localCacheTtlMs option must be from 0 to ${MAX_LOCAL_CACHE_TTL_MS} (the revocation bound).`);
  }
  if (typeof o.invalidation !== 'boolean') throw new ConfigurationError('The invalidation option must be true or false.');
  if (o.onStatus !== undefined && typeof o.onStatus !== 'function') throw new ConfigurationError('The onStatus option must be a function.');
}

function connectionOptions(o: typeof DEFAULTS): RedisOptions {
  return {
    connectionName: 'koa-sentinel',
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs,
    maxRetriesPerRequest: o.maxRetriesPerRequest,
    // Fail fast while disconnected: a queued session check would only answer after its request timed out.
    enableOfflineQueue: false,
    // A command whose reply was lost may have run; resending a rotation would turn its winner into a conflict.
    autoResendUnfulfilledCommands: false,
    // Reconnect forever with a capped back-off: the store recovers by itself when Redis is back.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), o.maxReconnectDelayMs),
    // After a failover the old primary answers READONLY: reconnect, and let DNS or Sentinel lead to the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

function warnAboutClient(client: Redis): void {
  const { enableOfflineQueue, commandTimeout } = client.options;
  if (enableOfflineQueue !== false || commandTimeout === undefined) {
    process.emitWarning('The Redis client given to createRedisStore has an offline queue or no commandTimeout: during an outage requests wait instead of failing fast with 503.', { code: 'SENTINEL_REDIS_UNBOUNDED' });
  }
}

function toStoreError(operation: string, error: unknown): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  if (message === 'Command timed out') return new SessionStoreError('store_timeout', operation, error);
  if (name === 'ReplyError' && !/^(LOADING|READONLY|MASTERDOWN|BUSY)/.test(message ?? '')) return new SessionStoreError('store_reply', operation, error);
  return new SessionStoreError('store_unreachable', operation, error);
}

function familyFields(family: SessionFamily): string[] {
  return [
    'userId', family.userId,
    'userName', family.userName,
    'roles', JSON.stringify(family.roles),
    'createdAt', String(family.createdAt),
    'lastRotatedAt', String(family.lastRotatedAt),
    'currentJti', family.currentJti,
    'previousJti', family.previousJti ?? '',
    'revoked', family.revoked ? '1' : '0',
    'absoluteExpiresAt', String(family.absoluteExpiresAt),
  ];
}

function parseFamily(id: string, flat: readonly string[]): SessionFamily {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  if (Object.keys(f).length < FAMILY_FIELDS) throw new SessionStoreError('store_reply', 'parseFamily', new Error(`family ${id} is incomplete in Redis`));
  return {
    id,
    userId: f.userId!,
    userName: f.userName!,
    roles: JSON.parse(f.roles!) as string[],
    createdAt: Number(f.createdAt),
    lastRotatedAt: Number(f.lastRotatedAt),
    currentJti: f.currentJti!,
    previousJti: f.previousJti === '' ? null : f.previousJti!,
    revoked: f.revoked === '1',
    absoluteExpiresAt: Number(f.absoluteExpiresAt),
  };
}
