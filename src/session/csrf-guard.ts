import type { Context, Middleware, Next } from 'koa';
import { SentinelError } from '../errors.js';
import type { CsrfTokens } from './csrf-tokens.js';
import type { EmitEvent } from './types.js';

/**
 * Cross-site checks for unsafe methods (ASVS 3.5.1-3.5.3): Sec-Fetch-Site and Origin (or Referer) must name this
 * server or an allowed origin, and a request authenticated by cookie must echo the session's signed CSRF token in
 * X-CSRF-Token. Login has no session yet but still gets the origin checks.
 */

export interface CsrfGuardOptions {
  csrfTokens: Pick<CsrfTokens, 'verify'>;
  /** Origins other than the server's own that may send unsafe requests. */
  allowedOrigins: readonly string[];
  emit: EmitEvent;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createCsrfGuard(options: CsrfGuardOptions): Middleware {
  const { csrfTokens, emit } = options;
  const allowedOrigins = new Set(options.allowedOrigins);

  const sameOrigin = (ctx: Context, value: string): boolean => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    // Not ctx.origin: in Koa 3 that is the request's Origin header, not the server's own origin.
    if (allowedOrigins.has(url.origin) || url.origin === `${ctx.protocol}://${ctx.host}`) return true;
    // Behind a TLS-terminating proxy without TRUST_PROXY the server sees http while the browser says https:
    // accept that upgrade for our own host, never a downgrade to http.
    return url.host === ctx.host && url.protocol === 'https:';
  };

  return async (ctx: Context, next: Next) => {
    if (SAFE_METHODS.has(ctx.method)) return next();
    const refuse = (reason: string): never => {
      emit(ctx, 'malicious_csrf', { reason, http: { statusCode: 403 } });
      throw new SentinelError('csrf_failed', { reason });
    };
    const site = ctx.get('sec-fetch-site');
    const origin = ctx.get('origin');
    if (site === 'cross-site') refuse('cross_site');
    if (origin) {
      if (origin === 'null' || !sameOrigin(ctx, origin)) refuse('origin_mismatch');
    } else {
      const referer = ctx.get('referer');
      if (referer && !sameOrigin(ctx, referer)) refuse('referer_mismatch');
      if (site === 'same-site') refuse('no_origin');
    }
    if (ctx.state.auth?.method === 'cookie') {
      const token = ctx.get('x-csrf-token');
      if (!token) refuse('token_missing');
      if (!csrfTokens.verify(token, ctx.state.auth.claims.sid)) refuse('token_mismatch');
    }
    return next();
  };
}
