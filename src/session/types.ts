import type { TokenClaims } from './tokens.js';
import type { SentinelError } from '../errors.js';

/** The authenticated user, as handlers see it in `ctx.state.user`. */
export interface SessionUser {
  id: string;
  name: string;
  roles: readonly string[];
  /** The session (refresh family) id: log it, compare it, never treat it as a secret. */
  sessionId: string;
  /** The access token's jti: safe to log. */
  tokenId: string;
}

export interface SentinelAuthState {
  /** How the request authenticated: the cookie (needs CSRF on unsafe methods) or an Authorization header. */
  method: 'cookie' | 'bearer';
  claims: TokenClaims;
}

declare module 'koa' {
  interface DefaultState {
    /** Set by `authenticate` when the request carries a valid, unrevoked access token. */
    user?: SessionUser;
    auth?: SentinelAuthState;
    /** Why authentication failed, kept for `requireAuth` so public routes ignore stale cookies. */
    authError?: SentinelError;
    /** Request id, set by the request-context middleware (echoed in X-Request-Id). */
    requestId?: string;
  }
}
