import type { Context } from 'koa';
import type { SentinelError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEventInput } from '../events/security-event.js';
import type { TokenClaims } from './tokens.js';

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

/** Who a session belongs to, as tokens and events name them. */
export interface SessionSubject {
  id: string;
  name: string;
  roles: readonly string[];
}

/** Emits a security event that carries the request's context (user, source IP, user agent, request id, path). */
export type EmitEvent = (ctx: Context, action: EventAction, input?: SecurityEventInput) => void;

/** An EmitEvent already bound to one request: what the login, refresh and logout flows take, so they never see Koa. */
export type ReportEvent = (action: EventAction, input?: SecurityEventInput) => void;

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
