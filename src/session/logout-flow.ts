import type { SentinelError } from '../errors.js';
import type { CookieRead } from './cookies.js';
import type { SessionStore } from './store.js';
import type { TokenService } from './tokens.js';
import type { ReportEvent } from './types.js';

/**
 * Ending sessions server-side (ASVS 7.4.1): one session, or every session of a user. Logging out revokes the
 * refresh family, so neither token works again even if a copy survives in the browser.
 */

export interface LogoutFlowOptions {
  tokens: Pick<TokenService, 'verifyAllowingExpiry'>;
  store: Pick<SessionStore, 'revokeFamily' | 'revokeUser'>;
  /** Clock, for tests. */
  now?: () => number;
}

export interface LogoutRequest {
  /** The session of the request's valid access token, if it has one. */
  sessionId?: string;
  /** Why the request's access token was not accepted, if it was not. */
  authError?: SentinelError;
  /** The access cookie as sent. */
  accessCookie: CookieRead;
}

export interface LogoutFlow {
  /** Revokes the request's session if there is one to trust; returns its id, or undefined when there was none. */
  logout(request: LogoutRequest, report: ReportEvent): Promise<string | undefined>;
  /** Revokes every session of the user and every access token issued until now; returns how many were live. */
  logoutAll(userId: string, report: ReportEvent): Promise<number>;
}

export function createLogoutFlow(options: LogoutFlowOptions): LogoutFlow {
  const { tokens, store } = options;
  const now = options.now ?? Date.now;

  /**
   * The session of an authentic access cookie that authenticate could not accept: expired, so logging out after a
   * long pause still revokes the session server-side; or unchecked because the store was down, so the revocation
   * is attempted and its failure answers 503 instead of a 204 that revoked nothing (the client keeps its cookies
   * and can retry). Any other failure means there is nothing to trust.
   */
  function uncheckedSession({ authError, accessCookie }: LogoutRequest): string | undefined {
    const code = authError?.code;
    if (code !== 'token_expired' && code !== 'store_unavailable') return undefined;
    if (accessCookie.duplicate || accessCookie.value === undefined) return undefined;
    try {
      return tokens.verifyAllowingExpiry(accessCookie.value, 'access').claims.sid;
    } catch {
      return undefined;
    }
  }

  return {
    async logout(request, report) {
      const live = request.sessionId !== undefined;
      const sessionId = request.sessionId ?? uncheckedSession(request);
      if (sessionId === undefined) return undefined;
      const family = await store.revokeFamily(sessionId);
      // With a live session the event takes the user from the request; after expiry, from the revoked family.
      const who = !live && family ? { user: { name: family.userName, id: family.userId } } : {};
      report('authn_token_revoked', { reason: 'logout', ...who, http: { statusCode: 204 }, sentinel: { session_id: sessionId } });
      report('session_logout', { reason: 'logout', ...who, http: { statusCode: 204 }, sentinel: { session_id: sessionId } });
      return sessionId;
    },

    async logoutAll(userId, report) {
      const revoked = await store.revokeUser(userId, Math.floor(now() / 1000));
      report('authn_token_revoked', { reason: 'logout_all', http: { statusCode: 200 }, sentinel: { sessions_revoked: revoked } });
      report('session_logout', { reason: 'logout_all', http: { statusCode: 200 }, sentinel: { sessions_revoked: revoked } });
      return revoked;
    },
  };
}
