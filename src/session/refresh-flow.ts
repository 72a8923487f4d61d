import { randomUUID } from 'node:crypto';
import { SentinelError, isSentinelError } from '../errors.js';
import type { CookieRead } from './cookies.js';
import type { IssuedSession, SessionIssuer } from './session-issuer.js';
import { tokenCreatedEvent } from './session-issuer.js';
import type { SessionFamily, SessionStore } from './store.js';
import { TokenTooLargeError, type TokenClaims, type TokenService } from './tokens.js';
import type { ReportEvent } from './types.js';
import type { UserDirectory, UserRecord } from './users.js';

/**
 * Refresh token rotation with reuse detection (RFC 9700 §4.14.2): each refresh token works once; presenting a
 * replaced one revokes its whole family, except within a short grace window, where two tabs refreshing at once
 * get 409 refresh_conflict instead. Replaced tokens count as reuse however old, expired ones included. A session
 * past its idle or absolute limit ends for good (session_expired); its token presented again after that is
 * session_use_after_expire, and a token of a session ended otherwise (logout, revocation) is authn_token_reuse.
 */

export interface RefreshFlowOptions {
  tokens: Pick<TokenService, 'verifyAllowingExpiry'>;
  store: Pick<SessionStore, 'rotateFamily' | 'revokeFamily'>;
  users: Pick<UserDirectory, 'find'>;
  sessions: Pick<SessionIssuer, 'renew'>;
  /** The refresh token lifetime, which is also the idle timeout. */
  refreshTtlMs: number;
  /** How long after a rotation the replaced token counts as a race rather than reuse. */
  refreshGraceMs: number;
  /** Whether the token's credential fingerprint still matches the user (users.ts); a mismatch ends the session. */
  credentialsMatch?: (claims: TokenClaims, user: UserRecord) => boolean;
  /** Clock, for tests. */
  now?: () => number;
}

export type RefreshOutcome =
  | { ok: true; user: UserRecord; session: IssuedSession }
  /** `clearCookies`: the session is over, so the browser's copies should go too. */
  | { ok: false; error: SentinelError; clearCookies: boolean };

export interface RefreshFlow {
  /** Rotates the presented refresh token. Store failures reject; every other refusal is an outcome. */
  refresh(presented: CookieRead, report: ReportEvent): Promise<RefreshOutcome>;
}

export function createRefreshFlow(options: RefreshFlowOptions): RefreshFlow {
  const { tokens, store, users, sessions, refreshTtlMs, refreshGraceMs } = options;
  const now = options.now ?? Date.now;

  return {
    async refresh(presented, report) {
      const refuse = (code: 'token_invalid' | 'token_expired', reason: string, clearCookies: boolean, extra: Record<string, unknown> = {}): RefreshOutcome => {
        report('authn_token_invalid', { reason, http: { statusCode: 401 }, sentinel: { token_type: 'refresh', ...extra } });
        return { ok: false, error: new SentinelError(code, { reason }), clearCookies };
      };
      if (presented.duplicate) return refuse('token_invalid', 'duplicate_cookie', false);
      if (presented.value === undefined) return refuse('token_invalid', 'missing', false);
      let claims: TokenClaims;
      let expired: boolean;
      try {
        ({ claims, expired } = tokens.verifyAllowingExpiry(presented.value, 'refresh'));
      } catch (error) {
        if (!isSentinelError(error)) throw error;
        return refuse(error.code as 'token_invalid' | 'token_expired', error.reason ?? 'invalid', false);
      }

      const ids = { session_id: claims.sid, refresh_token_id: claims.jti };
      const t = now();
      // Expired tokens go through the store too: only the family can tell a token that merely timed out from one
      // rotated away long ago (reuse, however late: a token stolen days before must still raise the alarm).
      const result = await store.rotateFamily(claims.sid, claims.jti, randomUUID(), { now: t, graceMs: refreshGraceMs, idleTtlMs: refreshTtlMs });
      const owner = (family: SessionFamily) => ({ name: family.userName, id: family.userId });
      // Whichever limit came first ended the session (the store checks the absolute one first).
      const firstLimit = (family: SessionFamily): 'idle' | 'absolute' => (family.absoluteExpiresAt <= family.lastRotatedAt + refreshTtlMs ? 'absolute' : 'idle');
      const ended = (family: SessionFamily, reason: 'idle' | 'absolute'): RefreshOutcome => {
        report('session_expired', { reason, user: owner(family), http: { statusCode: 401 }, sentinel: ids });
        return { ok: false, error: new SentinelError('token_expired', { reason }), clearCookies: true };
      };
      const usedAfterExpiry = (family: SessionFamily | undefined, reason: 'idle' | 'absolute'): RefreshOutcome => {
        report('session_use_after_expire', { reason, user: family ? owner(family) : undefined, http: { statusCode: 401 }, sentinel: ids });
        return { ok: false, error: new SentinelError('token_expired', { reason }), clearCookies: true };
      };
      switch (result.status) {
        case 'rotated': {
          const family = result.family;
          if (expired) {
            // The token's exp (whole seconds) ran out a moment before the store's idle limit: over all the same.
            await store.revokeFamily(family.id);
            return ended(family, firstLimit(family));
          }
          // Roles and status are re-read at every refresh, so a disabled user or a changed role takes effect
          // within one access-token lifetime.
          const user = await users.find(family.userName);
          if (!user || user.disabled || user.id !== family.userId || (options.credentialsMatch && !options.credentialsMatch(claims, user))) {
            const refused = !user || user.disabled || user.id !== family.userId ? 'user_disabled' : 'credentials_changed';
            await store.revokeFamily(family.id);
            report('authn_token_revoked', { reason: refused, user: owner(family), http: { statusCode: 401 }, sentinel: ids });
            return refuse('token_invalid', refused, true, ids);
          }
          let session: IssuedSession;
          try {
            session = sessions.renew(family, user, t);
          } catch (error) {
            // The user's tokens outgrew maxTokenBytes since login (roles added in a directory that changes records
            // in place): the session cannot go on, and the store has rotated it already, so it ends here.
            if (!(error instanceof TokenTooLargeError)) throw error;
            await store.revokeFamily(family.id);
            report('authn_token_revoked', { reason: 'token_too_large', user: owner(family), http: { statusCode: 401 }, sentinel: ids });
            return refuse('token_invalid', 'token_too_large', true, { ...ids, token: { type: error.tokenType, bytes: error.tokenBytes, max_bytes: error.maxTokenBytes } });
          }
          report('authn_token_created', tokenCreatedEvent(session, user));
          report('session_renewed', { user: { name: user.name, id: user.id, roles: user.roles }, http: { statusCode: 200 }, sentinel: { ...ids, token_id: session.access.claims.jti } });
          return { ok: true, user, session };
        }
        case 'conflict':
          report('refresh_conflict', { user: owner(result.family), http: { statusCode: 409 }, sentinel: ids });
          return { ok: false, error: new SentinelError('refresh_conflict', { reason: 'grace' }), clearCookies: false };
        case 'reused': {
          const user = owner(result.family);
          report('authn_token_reuse', { reason: 'rotated', user, http: { statusCode: 401 }, sentinel: { ...ids, current_refresh_token_id: result.family.currentJti, token_expired: expired } });
          report('authn_token_revoked', { reason: 'reuse', user, http: { statusCode: 401 }, sentinel: ids });
          return { ok: false, error: new SentinelError('token_invalid', { reason: 'reuse' }), clearCookies: true };
        }
        case 'expired':
          // The first request to find the session over ends it for good; later ones are uses after expiry.
          await store.revokeFamily(result.family.id);
          return ended(result.family, firstLimit(result.family));
        case 'revoked': {
          const family = result.family;
          const timedOut = t >= family.absoluteExpiresAt || t - family.lastRotatedAt >= refreshTtlMs;
          if (timedOut && claims.jti === family.currentJti) return usedAfterExpiry(family, firstLimit(family));
          // A token of a session ended by logout, reuse detection or a credential change came back (OWASP
          // authn_token_reuse): nothing to revoke any more, but it is someone holding a dead credential.
          report('authn_token_reuse', { reason: 'revoked', user: owner(family), http: { statusCode: 401 }, sentinel: { ...ids, token_type: 'refresh' } });
          return { ok: false, error: new SentinelError('token_invalid', { reason: 'revoked' }), clearCookies: true };
        }
        default:
          // The store no longer knows the family: it lapsed and was swept (an expired token), or was lost.
          if (expired) return usedAfterExpiry(undefined, 'idle');
          return refuse('token_invalid', 'revoked', true, ids);
      }
    },
  };
}
