import type { Context, Middleware } from 'koa';
import { SentinelError, isSentinelError } from '../errors.js';
import { readCookie } from './cookies.js';
import type { SessionStore } from './store.js';
import type { TokenClaims, TokenService } from './tokens.js';
import type { SentinelAuthState, SessionUser } from './types.js';

/**
 * The soft authentication middleware: sets `ctx.state.user` when the request carries a valid, unrevoked access
 * token, and otherwise keeps the reason in `ctx.state.authError` for requireAuth, so public routes ignore stale
 * cookies. It runs on every request, so it stays synchronous unless the store answers with a promise.
 */

export interface AuthenticateOptions {
  tokens: Pick<TokenService, 'verify'>;
  store: Pick<SessionStore, 'isSessionActive'>;
  accessCookieName: string;
  /** Accept `Authorization: Bearer <access token>`; when present it wins over the cookie. */
  bearer: boolean;
}

const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/;

type Resolved = SentinelAuthState | undefined;

export function createAuthenticate(options: AuthenticateOptions): Middleware {
  const { tokens, store, accessCookieName, bearer } = options;

  /** Synchronous unless the store answers with a promise: the memory store keeps this path free of microtasks. */
  function resolve(ctx: Context): Resolved | Promise<Resolved> {
    let token: string | undefined;
    let method: 'cookie' | 'bearer' = 'cookie';
    const authorization = bearer ? ctx.get('authorization') : '';
    if (authorization) {
      const match = BEARER.exec(authorization);
      if (!match) throw invalid('malformed');
      token = match[1];
      method = 'bearer';
    } else {
      const read = readCookie(ctx.get('cookie'), accessCookieName);
      if (read.duplicate) throw invalid('duplicate_cookie');
      token = read.value;
    }
    if (token === undefined) return undefined;
    const claims = tokens.verify(token, 'access');
    let answer: boolean | Promise<boolean>;
    try {
      answer = store.isSessionActive(claims.sid, claims.sub, claims.iat);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (typeof answer === 'boolean') return decide(answer, method, claims);
    // No closures on the synchronous path above: it runs on every request.
    return answer.then((active) => decide(active, method, claims), storeUnavailable);
  }

  return (ctx, next) => {
    let result: Resolved | Promise<Resolved>;
    try {
      result = resolve(ctx);
    } catch (error) {
      reject(ctx, error);
      return next();
    }
    if (result instanceof Promise) {
      return result.then((value) => apply(ctx, value), (error: unknown) => reject(ctx, error)).then(() => next());
    }
    apply(ctx, result);
    return next();
  };
}

function decide(active: boolean, method: 'cookie' | 'bearer', claims: TokenClaims): Resolved {
  if (!active) throw invalid('revoked');
  return { method, claims };
}

function apply(ctx: Context, result: Resolved): void {
  if (!result) return;
  const { claims } = result;
  ctx.state.auth = result;
  ctx.state.user = { id: claims.sub, name: claims.name ?? claims.sub, roles: claims.roles ?? [], sessionId: claims.sid, tokenId: claims.jti } satisfies SessionUser;
}

function reject(ctx: Context, error: unknown): void {
  if (!isSentinelError(error)) throw error;
  ctx.state.authError = error;
}

function invalid(reason: string): SentinelError {
  return new SentinelError('token_invalid', { reason });
}

function storeUnavailable(error: unknown): never {
  throw new SentinelError('store_unavailable', { reason: 'session_check', cause: error });
}
