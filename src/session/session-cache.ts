import { ConfigurationError } from '../errors.js';

/**
 * A small local cache of "this session is live" answers, so the hot path of a shared store (one check per
 * authenticated request) usually answers synchronously instead of paying a network round trip.
 *
 * Safety rests on three rules:
 * - Only live sessions are cached, each for at most `ttlMs` counted from when the lookup *started*: a revocation
 *   made anywhere is visible here after at most `ttlMs`, even if every invalidation notice is lost.
 * - Invalidation notices (a session, a user, everything) drop entries at once and bump an epoch; a lookup that
 *   was in flight while the epoch moved is answered but not cached, since its reply may predate the revocation.
 * - The size is bounded; the oldest entry goes first.
 *
 * Past half its TTL an entry is due for a refresh: the store answers from it and asks Redis in the background, so
 * a busy session never waits for a round trip when its entry runs out. The bound is unchanged, since every
 * answer still comes from a lookup that started less than `ttlMs` ago.
 */

export interface CachedSession {
  /** The family's owner: a token naming another user is refused, whatever the cache says. */
  userId: string;
  /** The user's not-before time (seconds) when the lookup ran. */
  notBefore: number;
  until: number;
  /** From then on, answers trigger one background lookup (`refreshing` marks it started). */
  refreshAt: number;
  refreshing: boolean;
}

/** Taken before a lookup; `set` ignores the answer when anything was invalidated since. */
export interface LookupTicket {
  epoch: number;
  startedAt: number;
}

export interface SessionCacheOptions {
  /** How long an answer is kept, counted from when its lookup started. Default 250 ms; 0 keeps nothing. */
  ttlMs?: number;
  /** Most entries; the oldest goes first. Default 10 000. */
  maxEntries?: number;
  /** Milliseconds on a monotonic clock, so a wall clock stepped back (NTP) cannot stretch the TTL. Tests pass fakes. */
  now?: () => number;
}

export const SESSION_CACHE_DEFAULTS = {
  ttlMs: 250,
  maxEntries: 10_000,
  now: (): number => performance.now(),
};

/** Every time is read from the cache's own clock (`now`), so callers cannot mix clocks. */
export interface SessionCache {
  /** True or false when the cache can answer, undefined when the store must be asked. */
  get(sessionId: string, userId: string, issuedAtSec: number): boolean | undefined;
  /** The live entry of a session, or undefined (an expired one is dropped). */
  peek(sessionId: string): CachedSession | undefined;
  /** Taken just before a lookup starts: the entry's lifetime counts from here. */
  begin(): LookupTicket;
  set(sessionId: string, userId: string, notBefore: number, ticket: LookupTicket): void;
  /** Whether `ticket` is still current (nothing invalidated since it was taken). */
  current(ticket: LookupTicket): boolean;
  invalidateSession(sessionId: string): void;
  invalidateUser(userId: string): void;
  clear(): void;
  readonly size: number;
  /**
   * True once per entry past its `refreshAt` at the latest peek (one clock read per hit: this is the hot path).
   * The caller then asks the store in the background and sets the answer, so a busy session never waits for a
   * round trip when its entry runs out.
   */
  claimRefresh(entry: CachedSession): boolean;
}

export function createSessionCache(options: SessionCacheOptions = {}): SessionCache {
  const ttlMs = options.ttlMs ?? SESSION_CACHE_DEFAULTS.ttlMs;
  const maxEntries = options.maxEntries ?? SESSION_CACHE_DEFAULTS.maxEntries;
  const now = options.now ?? SESSION_CACHE_DEFAULTS.now;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new ConfigurationError('The ttlMs option must be a finite, non-negative number.');
  if (!Number.isFinite(maxEntries) || maxEntries <= 0) throw new ConfigurationError('The maxEntries option must be a finite, positive number.');
  if (typeof now !== 'function') throw new ConfigurationError('The now option must be a function.');
  const entries = new Map<string, CachedSession>();
  let epoch = 0;
  /** When the latest peek read the clock; claimRefresh goes by it. */
  let peekedAt = 0;

  const peek = (sessionId: string): CachedSession | undefined => {
    const entry = entries.get(sessionId);
    if (entry === undefined) return undefined;
    peekedAt = now();
    if (entry.until <= peekedAt) {
      entries.delete(sessionId);
      return undefined;
    }
    return entry;
  };

  return {
    get(sessionId, userId, issuedAtSec) {
      const entry = peek(sessionId);
      return entry === undefined ? undefined : entry.userId === userId && issuedAtSec >= entry.notBefore;
    },
    peek,
    begin() {
      return { epoch, startedAt: now() };
    },
    set(sessionId, userId, notBefore, ticket) {
      if (ticket.epoch !== epoch || ttlMs <= 0) return;
      entries.delete(sessionId);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(sessionId, { userId, notBefore, until: ticket.startedAt + ttlMs, refreshAt: ticket.startedAt + ttlMs / 2, refreshing: false });
    },
    current(ticket) {
      return ticket.epoch === epoch;
    },
    invalidateSession(sessionId) {
      epoch += 1;
      entries.delete(sessionId);
    },
    invalidateUser(userId) {
      epoch += 1;
      for (const [id, entry] of entries) if (entry.userId === userId) entries.delete(id);
    },
    clear() {
      epoch += 1;
      entries.clear();
    },
    get size() {
      return entries.size;
    },
    claimRefresh(entry) {
      if (entry.refreshing || peekedAt < entry.refreshAt) return false;
      entry.refreshing = true;
      return true;
    },
  };
}
