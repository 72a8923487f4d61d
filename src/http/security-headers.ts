import type { Middleware } from 'koa';

export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security (production, behind TLS). Default false. */
  hsts?: boolean;
}

/**
 * Headers for a JSON API: nothing may be framed, sniffed, or leak a Referer; HTML pages that need a looser
 * Content-Security-Policy set their own after this runs.
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): Middleware {
  const headers: Record<string, string> = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  if (options.hsts) headers['Strict-Transport-Security'] = 'max-age=31536000; includeSubDomains';
  return async (ctx, next) => {
    ctx.set(headers);
    await next();
  };
}
