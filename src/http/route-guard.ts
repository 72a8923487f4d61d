import type Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

/**
 * A router's routes and allowedMethods behind one test of the path: requests no route of it could match skip it
 * entirely. Every @koa/router in the chain otherwise matches each request against all its routes and adds an
 * allowedMethods step after it, for every request of the app (docs/performance.md).
 *
 * The test is derived from the router's own routes and never narrower than its matching: each route's literal
 * start (up to its first parameter, wildcard or optional group) as a prefix, a route without parameters as the
 * exact path with an optional trailing slash; case-insensitive unless the router is `sensitive`. A request it lets
 * through meets the router exactly as before, so 405 and 501 answers for a route's path are unchanged.
 */
export function routerFor(router: Router): Middleware {
  const routes = compose([router.routes(), router.allowedMethods()]) as Middleware;
  const test = pathTest(router.stack.map((layer) => layer.path), router.opts.sensitive === true);
  if (!test) return routes;
  return (ctx, next) => (test.test(ctx.path) ? routes(ctx, next) : next());
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;
/** Where a route's literal start ends: a parameter, a wildcard, an optional group, a regexp group or an escape. */
const DYNAMIC = /[:*{(\\]/;

/** undefined when a route can match any path (a wildcard or parameter at its start): then nothing is skipped. */
export function pathTest(paths: readonly (string | RegExp)[], sensitive: boolean): RegExp | undefined {
  const exact: string[] = [];
  const prefixes: string[] = [];
  for (const path of paths) {
    if (typeof path !== 'string') return undefined;
    const cut = path.search(DYNAMIC);
    if (cut === -1) {
      exact.push(path.replace(/\/+$/, '').replace(REGEX_SPECIAL, '\\$&'));
      continue;
    }
    const literal = path.slice(0, cut);
    if (literal === '' || literal === '/') return undefined;
    prefixes.push(literal.replace(REGEX_SPECIAL, '\\$&'));
  }
  if (exact.length === 0 && prefixes.length === 0) return undefined;
  const parts = [...(exact.length ? [`(?:${exact.join('|')})/?$`] : []), ...(prefixes.length ? [`(?:${prefixes.join('|')})`] : [])];
  return new RegExp(`^(?:${parts.join('|')})`, sensitive ? '' : 'i');
}
