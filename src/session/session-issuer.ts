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
  store: Pick<SessionStore, 'createFamily'>;
  csrfTokens: Pick<CsrfTokens, 'issue'>;
  accessTtlMs: number;
  /** Also the idle timeout: a session unused this long cannot be refreshed. */
  refreshTtlMs: number;
  /** No refresh after this long from login, however active the session. */
  absoluteTtlMs: number;
}

export interface IssuedSession {
  family: SessionFamily;
  access: IssuedToken;
  refresh: IssuedToken;
  csrfToken: string;
  /** When the refresh token expires (ms since epoch): the cookies live that long. */
  expiresAt: number;
}

export interface SessionIssuer {
  /** Creates the refresh family and issues its first credentials. */
  start(user: SessionSubject, at: number): Promise<IssuedSession>;
  /** Fresh credentials for a family the store has just rotated (its currentJti is the new refresh jti). */
  renew(family: SessionFamily, user: SessionSubject, at: number): IssuedSession;
}

export function createSessionIssuer(options: SessionIssuerOptions): SessionIssuer {
  const { tokens, store, csrfTokens, accessTtlMs, refreshTtlMs, absoluteTtlMs } = options;

  function renew(family: SessionFamily, user: SessionSubject, at: number): IssuedSession {
    // Neither token may outlive the session's absolute timeout.
    const expiresAt = Math.min(at + refreshTtlMs, family.absoluteExpiresAt);
    const subject = { sub: user.id, sid: family.id, name: user.name, roles: user.roles };
    const access = tokens.issue('access', subject, Math.min(accessTtlMs, family.absoluteExpiresAt - at));
    const refresh = tokens.issue('refresh', subject, expiresAt - at, family.currentJti);
    return { family, access, refresh, csrfToken: csrfTokens.issue(family.id), expiresAt };
  }

  return {
    async start(user, at) {
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
      await store.createFamily(family);
      return renew(family, user, at);
    },
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
