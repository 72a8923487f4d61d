import type { Context, Middleware, Next } from 'koa';
import { SentinelError } from '../errors.js';
import type { CsrfTokens } from './csrf-tokens.js';
import type { EmitEvent } from './types.js';

/**
 * Cross-site checks for unsafe methods (ASVS 3.5.1-3.5.3): Sec-Fetch-Site and Origin (or Referer) must name a
 * configured origin, and a request authenticated by cookie must echo the signed CSRF token of its session and its
 * current access token in X-CSRF-Token. Login has no session yet but still gets the origin checks.
 *
 * The origins compared with come from configuration only, never from Host or X-Forwarded-Host: the client writes
 * those, so "Origin equals Host" holds for any request a client forges. With none configured (development), the
 * server's own listen address is the one origin: the socket's local address and port, which no header changes.
 */

export interface CsrfGuardOptions {
  csrfTokens: Pick<CsrfTokens, 'verify'>;
  /**
   * The origins that may send unsafe requests (PUBLIC_ORIGIN and ALLOWED_ORIGINS). Empty: the listen address only
   * (http://<local address>:<port>, and localhost for a loopback address).
   */
  allowedOrigins: readonly string[];
  emit: EmitEvent;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createCsrfGuard(options: CsrfGuardOptions): Middleware {
  const { csrfTokens, emit } = options;
  const allowedOrigins = new Set(options.allowedOrigins);

  const allowed = (ctx: Context, value: string): boolean => {
    let origin: string;
    try {
      origin = new URL(value).origin;
    } catch {
      return false;
    }
    return allowedOrigins.size > 0 ? allowedOrigins.has(origin) : listenOrigins(ctx).includes(origin);
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
      if (origin === 'null' || !allowed(ctx, origin)) refuse('origin_mismatch');
    } else {
      const referer = ctx.get('referer');
      if (referer && !allowed(ctx, referer)) refuse('referer_mismatch');
      if (site === 'same-site') refuse('no_origin');
    }
    if (ctx.state.auth?.method === 'cookie') {
      const token = ctx.get('x-csrf-token');
      if (!token) refuse('token_missing');
      const { sid, jti } = ctx.state.auth.claims;
      // Bound to the access token's jti as well: one per refresh generation, so a refresh retires the old token.
      if (!csrfTokens.verify(token, sid, jti)) refuse('token_mismatch');
    }
    return next();
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Where this socket was accepted, as origins: what the server listens on, whatever the request's headers say. */
function listenOrigins(ctx: Context): string[] {
  const { localAddress, localPort } = ctx.socket;
  if (!localAddress || !localPort) return [];
  const plain = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
  const host = plain.includes(':') ? `[${plain}]` : plain;
  const origins = [`http://${host}:${localPort}`];
  if (LOOPBACK.has(localAddress)) origins.push(`http://localhost:${localPort}`);
  return origins;
}
