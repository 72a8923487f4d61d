import { randomUUID } from 'node:crypto';
import { SentinelError, isSentinelError } from '../errors.js';
import type { CookieRead } from './cookies.js';
import type { IssuedSession, SessionIssuer } from './session-issuer.js';
import { tokenCreatedEvent } from './session-issuer.js';
import type { SessionStore } from './store.js';
import type { TokenClaims, TokenService } from './tokens.js';
import type { ReportEvent } from './types.js';
import type { UserDirectory, UserRecord } from './users.js';

/**
 * Refresh token rotation with reuse detection (RFC 9700 §4.14.2): each refresh token works once; presenting a
 * replaced one revokes its whole family, except within a short grace window, where two tabs refreshing at once
 * get 409 refresh_conflict instead. An authentic token past its expiry ends the session for good.
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
      if (expired) {
        // An authentic refresh token past its exp: the session hit its idle or absolute timeout. End it for good.
        const family = await store.revokeFamily(claims.sid);
        // Whichever limit came first ended the session.
        const reason = family && family.absoluteExpiresAt <= family.lastRotatedAt + refreshTtlMs ? 'absolute' : 'idle';
        report('session_expired', { reason, user: family ? { name: family.userName, id: family.userId } : undefined, http: { statusCode: 401 }, sentinel: ids });
        return { ok: false, error: new SentinelError('token_expired', { reason }), clearCookies: true };
      }

      const t = now();
      const result = await store.rotateFamily(claims.sid, claims.jti, randomUUID(), { now: t, graceMs: refreshGraceMs, idleTtlMs: refreshTtlMs });
      switch (result.status) {
        case 'rotated': {
          const family = result.family;
          // Roles and status are re-read at every refresh, so a disabled user or a changed role takes effect
          // within one access-token lifetime.
          const user = await users.find(family.userName);
          if (!user || user.disabled || user.id !== family.userId || (options.credentialsMatch && !options.credentialsMatch(claims, user))) {
            const refused = !user || user.disabled || user.id !== family.userId ? 'user_disabled' : 'credentials_changed';
            await store.revokeFamily(family.id);
            report('authn_token_revoked', { reason: refused, user: { name: family.userName, id: family.userId }, http: { statusCode: 401 }, sentinel: ids });
            return refuse('token_invalid', refused, true, ids);
          }
          const session = sessions.renew(family, user, t);
          report('authn_token_created', tokenCreatedEvent(session, user));
          report('session_renewed', { user: { name: user.name, id: user.id, roles: user.roles }, http: { statusCode: 200 }, sentinel: { ...ids, token_id: session.access.claims.jti } });
          return { ok: true, user, session };
        }
        case 'conflict':
          report('refresh_conflict', { user: { name: result.family.userName, id: result.family.userId }, http: { statusCode: 409 }, sentinel: ids });
          return { ok: false, error: new SentinelError('refresh_conflict', { reason: 'grace' }), clearCookies: false };
        case 'reused': {
          const user = { name: result.family.userName, id: result.family.userId };
          report('authn_token_reuse', { user, http: { statusCode: 401 }, sentinel: { ...ids, current_refresh_token_id: result.family.currentJti } });
          report('authn_token_revoked', { reason: 'reuse', user, http: { statusCode: 401 }, sentinel: ids });
          return { ok: false, error: new SentinelError('token_invalid', { reason: 'reuse' }), clearCookies: true };
        }
        case 'expired':
          report('session_expired', { reason: result.reason, user: { name: result.family.userName, id: result.family.userId }, http: { statusCode: 401 }, sentinel: ids });
          return { ok: false, error: new SentinelError('token_expired', { reason: result.reason }), clearCookies: true };
        default:
          return refuse('token_invalid', 'revoked', true, ids);
      }
    },
  };
}
