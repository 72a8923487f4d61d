import type { CachedSession, LookupTicket, SessionCache } from '../session-cache.js';

/**
 * The per-request session check of a shared store: answers from the local cache when it may, otherwise asks the
 * store, one round trip per session at a time (concurrent checks of one session share the answer). Cached
 * entries past half their life are renewed in the background, so a busy session keeps answering synchronously.
 */

/** What the store knows of a session: its family's owner (null when unknown), revocation, the owner's not-before. */
export interface SessionState {
  userId: string | null;
  revoked: boolean;
  /** Seconds since the epoch; 0 when the user has none. */
  notBefore: number;
}

export interface SessionCheckOptions {
  cache: SessionCache;
  /** One round trip to the store; rejects when it cannot answer (the check then fails closed). */
  fetch(sessionId: string, userId: string): Promise<SessionState>;
  /** Whether cached answers may be used and kept right now (off while revocation notices are not arriving). */
  cacheable(): boolean;
}

export interface SessionCheck {
  /** SessionStore.isSessionActive: synchronous on a cache hit. */
  isSessionActive(sessionId: string, userId: string, issuedAtSec: number): boolean | Promise<boolean>;
  readonly hits: number;
  readonly misses: number;
}

export function createSessionCheck({ cache, fetch, cacheable }: SessionCheckOptions): SessionCheck {
  const flights = new Map<string, { ticket: LookupTicket; promise: Promise<SessionState> }>();
  let hits = 0;
  let misses = 0;

  function lookup(sessionId: string, userId: string, keep: boolean): Promise<SessionState> {
    const key = `${sessionId}\u0000${userId}`;
    const flight = flights.get(key);
    // A flight started before an invalidation may carry a stale answer: never join it.
    if (flight && cache.current(flight.ticket)) return flight.promise;
    const ticket = cache.begin();
    const promise = fetch(sessionId, userId).then((found) => {
      if (keep && found.userId === userId && !found.revoked) cache.set(sessionId, userId, found.notBefore, ticket);
      return found;
    });
    flights.set(key, { ticket, promise });
    const settle = (): void => {
      if (flights.get(key)?.promise === promise) flights.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  /** A revoked session found this way is dropped at once (even if its notice was lost); a failure lets it expire. */
  function refreshInBackground(sessionId: string, entry: CachedSession): void {
    lookup(sessionId, entry.userId, true).then((found) => {
      if (found.userId !== entry.userId || found.revoked) cache.invalidateSession(sessionId);
    }, () => {
      // The entry expires by itself; the next check after that asks the store and fails closed if it is still down.
    });
  }

  return {
    isSessionActive(sessionId, userId, issuedAtSec) {
      const keep = cacheable();
      if (keep) {
        const entry = cache.peek(sessionId);
        if (entry !== undefined) {
          hits += 1;
          if (cache.claimRefresh(entry)) refreshInBackground(sessionId, entry);
          return entry.userId === userId && issuedAtSec >= entry.notBefore;
        }
      }
      misses += 1;
      return lookup(sessionId, userId, keep).then((found) => found.userId === userId && !found.revoked && issuedAtSec >= found.notBefore);
    },
    get hits() {
      return hits;
    },
    get misses() {
      return misses;
    },
  };
}
