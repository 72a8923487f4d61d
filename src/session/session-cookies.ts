import type { Context } from 'koa';
import { ConfigurationError } from '../errors.js';
import { assertCookieSpec, clearCookie, readCookie, serializeCookie, type CookieRead, type CookieSpec } from './cookies.js';

/**
 * The three cookies of a browser session, with the attributes that make them safe (ASVS 3.3.1-3.3.5):
 * the access token (HttpOnly, Lax, every path), the refresh token (HttpOnly, Strict, only the refresh route) and
 * the CSRF token (readable by the page, Strict).
 */

export type SessionCookieName = 'access' | 'refresh' | 'csrf';

export interface SessionCookiesOptions {
  cookieNames: Record<SessionCookieName, string>;
  /** The only path the refresh cookie is sent to, e.g. /auth/refresh. */
  refreshPath: string;
  /** Clock, for tests. */
  now?: () => number;
}

/** The values a fresh session (or a renewed one) puts in the browser. */
export interface SessionCookieValues {
  access: string;
  refresh: string;
  csrf: string;
  /** When the refresh token expires (ms since epoch); every cookie lives that long. */
  expiresAt: number;
}

export interface SessionCookies {
  readonly specs: Readonly<Record<SessionCookieName, CookieSpec>>;
  read(ctx: Context, name: 'access' | 'refresh'): CookieRead;
  write(ctx: Context, values: SessionCookieValues): void;
  clear(ctx: Context): void;
}

export function createSessionCookies(options: SessionCookiesOptions): SessionCookies {
  const { cookieNames, refreshPath } = options;
  const now = options.now ?? Date.now;
  const specs = {
    access: { name: cookieNames.access, path: '/', httpOnly: true, sameSite: 'Lax' },
    refresh: { name: cookieNames.refresh, path: refreshPath, httpOnly: true, sameSite: 'Strict' },
    // Readable by the page so it can echo the token in X-CSRF-Token after a reload (signed double submit).
    csrf: { name: cookieNames.csrf, path: '/', httpOnly: false, sameSite: 'Strict' },
  } satisfies Record<SessionCookieName, CookieSpec>;
  for (const [which, spec] of Object.entries(specs)) {
    try {
      assertCookieSpec(spec);
    } catch (error) {
      throw new ConfigurationError(`options.cookieNames.${which} is invalid: ${(error as Error).message}`);
    }
  }

  return {
    specs,
    read: (ctx, name) => readCookie(ctx.get('cookie'), specs[name].name),
    write(ctx, values) {
      const maxAgeSec = (values.expiresAt - now()) / 1000;
      // The access cookie outlives its token so the server can answer token_expired (refresh!) rather than
      // token_invalid; the token's own exp is what counts.
      ctx.append('Set-Cookie', serializeCookie(specs.access, values.access, maxAgeSec));
      ctx.append('Set-Cookie', serializeCookie(specs.refresh, values.refresh, maxAgeSec));
      ctx.append('Set-Cookie', serializeCookie(specs.csrf, values.csrf, maxAgeSec));
    },
    clear(ctx) {
      for (const spec of Object.values(specs)) ctx.append('Set-Cookie', clearCookie(spec));
    },
  };
}
