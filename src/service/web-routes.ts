import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

/** The package's web/ folder: two levels up from both src/service/ and dist/service/. */
const WEB_DIR = new URL('../../web/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, WEB_DIR), 'utf8');

/**
 * The page's own Content-Security-Policy, replacing the API's `default-src 'none'` on the HTML only. Scripts,
 * styles, fetches and images come from this origin and nothing is inline, so an injected string cannot run
 * (ASVS 3.4.3); forms may post only here; no framing (clickjacking) and no <base> (relative URLs stay ours).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

interface WebAsset {
  type: string;
  body: string;
  /**
   * The HTML is no-store: it is small, and a cached copy must never outlive a deploy or a logout. The script and
   * style are revalidated on every use (no-cache + ETag), so a new version is picked up at once.
   */
  cacheControl: string;
  csp?: string;
}

/** Every file the browser client consists of, by path. */
export const WEB_ASSETS: Readonly<Record<string, WebAsset>> = {
  '/': { type: 'text/html; charset=utf-8', body: read('index.html'), cacheControl: 'no-store', csp: PAGE_CSP },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: read('app.js'), cacheControl: 'no-cache' },
  '/app.css': { type: 'text/css; charset=utf-8', body: read('app.css'), cacheControl: 'no-cache' },
  '/favicon.svg': { type: 'image/svg+xml', body: read('favicon.svg'), cacheControl: 'no-cache' },
};

/**
 * GET / (and HEAD): the browser client, a page for trying the session in a browser. The files are read once at
 * start-up; bodies and ETags are computed once, here.
 */
export function createWebRoutes(): Router {
  const router = new Router();
  for (const [path, asset] of Object.entries(WEB_ASSETS)) {
    const body = Buffer.from(asset.body, 'utf8');
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    router.get(path, (ctx) => {
      ctx.set('Cache-Control', asset.cacheControl);
      if (asset.csp) ctx.set('Content-Security-Policy', asset.csp);
      ctx.status = 200;
      ctx.type = asset.type;
      ctx.etag = etag;
      if (ctx.fresh) {
        ctx.status = 304;
        return;
      }
      ctx.body = body;
    });
  }
  return router;
}
