import { randomUUID } from 'node:crypto';
import type { SecurityEventInput } from '../events/security-event.js';
import type { CsrfTokens } from './csrf-tokens.js';
import type { SessionFamily, SessionStore } from './store.js';
import type { IssuedToken, TokenService } from './tokens.js';
import type { SessionSubject } from './types.js';

/**
 * Starts sessions and issues their credentials: a refresh family in the store, an access/refresh token pair and
 * a CSRF token bound to the session. Times are passed in, so the flows that call it own the clock.
 */

export interface SessionIssuerOptions {
  tokens: Pick<TokenService, 'issue'>;
  store: Pick<SessionStore, 'createFamily' | 'listFamilies' | 'revokeFamily'>;
  csrfTokens: Pick<CsrfTokens, 'issue'>;
  accessTtlMs: number;
  /** Also the idle timeout: a session unused this long cannot be refreshed. */
  refreshTtlMs: number;
  /** No refresh after this long from login, however active the session. */
  absoluteTtlMs: number;
  /** Live sessions a user may have (ASVS 7.1.2); starting one more ends the oldest. Unlimited when undefined. */
  maxSessionsPerUser?: number;
  /** The credential fingerprint tokens carry (users.ts); undefined for a subject the directory does not hold. */
  fingerprint?: (user: SessionSubject) => string | undefined;
}

export interface IssuedSession {
  family: SessionFamily;
  access: IssuedToken;
  refresh: IssuedToken;
  csrfToken: string;
  /** When the refresh token expires (ms since epoch): the cookies live that long. */
  expiresAt: number;
  /** Sessions of the user this start ended, oldest first, to stay within maxSessionsPerUser. */
  evicted?: SessionFamily[];
}

/** A session whose credentials are issued but whose refresh family is not stored yet. */
export interface PreparedSession {
  /** Stores the refresh family, ends the user's sessions beyond the cap, and returns the session. */
  commit(): Promise<IssuedSession>;
}

export interface SessionIssuer {
  /**
   * Issues a new session's credentials without storing anything: throws TokenTooLargeError (tokens.ts) when they
   * cannot be issued, so a refused login never leaves a session behind in the store.
   */
  prepare(user: SessionSubject, at: number): PreparedSession;
  /** prepare() and commit() in one: creates the refresh family and issues its first credentials. */
  start(user: SessionSubject, at: number): Promise<IssuedSession>;
  /** Fresh credentials for a family the store has just rotated (its currentJti is the new refresh jti). */
  renew(family: SessionFamily, user: SessionSubject, at: number): IssuedSession;
}

export function createSessionIssuer(options: SessionIssuerOptions): SessionIssuer {
  const { tokens, store, csrfTokens, accessTtlMs, refreshTtlMs, absoluteTtlMs, maxSessionsPerUser, fingerprint } = options;

  /** Ends the user's oldest sessions beyond the cap. Runs after the new one exists, so the new one never goes. */
  async function evictBeyondCap(family: SessionFamily, at: number): Promise<SessionFamily[]> {
    if (maxSessionsPerUser === undefined) return [];
    const live = await store.listFamilies(family.userId, { now: at, idleTtlMs: refreshTtlMs });
    const others = live.filter((entry) => entry.id !== family.id);
    const excess = others.slice(0, Math.max(0, others.length + 1 - maxSessionsPerUser));
    for (const old of excess) await store.revokeFamily(old.id);
    return excess;
  }

  function renew(family: SessionFamily, user: SessionSubject, at: number): IssuedSession {
    // Neither token may outlive the session's absolute timeout.
    const expiresAt = Math.min(at + refreshTtlMs, family.absoluteExpiresAt);
    const subject = { sub: user.id, sid: family.id, name: user.name, roles: user.roles, cfp: fingerprint?.(user) };
    const access = tokens.issue('access', subject, Math.min(accessTtlMs, family.absoluteExpiresAt - at));
    const refresh = tokens.issue('refresh', subject, expiresAt - at, family.currentJti);
    return { family, access, refresh, csrfToken: csrfTokens.issue(family.id, access.claims.jti), expiresAt };
  }

  function prepare(user: SessionSubject, at: number): PreparedSession {
    const family: SessionFamily = {
      id: randomUUID(),
      userId: user.id,
      userName: user.name,
      roles: [...user.roles],
      createdAt: at,
      lastRotatedAt: at,
      currentJti: randomUUID(),
      previousJti: null,
      revoked: false,
      absoluteExpiresAt: at + absoluteTtlMs,
    };
    // Issued before the family is stored: a token that cannot be issued leaves nothing behind.
    const issued = renew(family, user, at);
    return {
      async commit() {
        await store.createFamily(family);
        const evicted = await evictBeyondCap(family, at);
        return evicted.length > 0 ? { ...issued, evicted } : issued;
      },
    };
  }

  return {
    prepare,
    start: async (user, at) => prepare(user, at).commit(),
    renew,
  };
}

/** The authn_token_created event for credentials just issued: names the token ids, never the tokens. */
export function tokenCreatedEvent(session: IssuedSession, user: SessionSubject): SecurityEventInput {
  return {
    user: { name: user.name, id: user.id, roles: user.roles },
    http: { statusCode: 200 },
    sentinel: { session_id: session.family.id, token_id: session.access.claims.jti, refresh_token_id: session.refresh.claims.jti },
  };
}
