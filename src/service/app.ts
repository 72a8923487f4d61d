import Router from '@koa/router';
import Koa from 'koa';
import { createSentinel, type Sentinel, type SentinelOptions, type SessionKit, type LoginHistoryPage, type LoginHistoryQuery, type TrustProxy } from '../index.js';
import { createExampleRoutes } from './example-routes.js';
import { buildOpenApi, OPENAPI_PATH } from './openapi.js';
import { createWebRoutes } from './web-routes.js';

export interface AppOptions extends SentinelOptions {
  /** Proxies you run in front (hops or addresses): `http.trustProxy`, and Koa's `app.proxy` when any. */
  trustProxy?: TrustProxy;
  /** Shorthand for `http.loginHistory` with a reader of your own (tests). */
  loginHistory?: (query: LoginHistoryQuery) => Promise<LoginHistoryPage>;
}

export interface SentinelApp {
  app: Koa;
  kit: SessionKit;
  sentinel: Sentinel;
}

/**
 * The reference app: the whole stack from `createSentinel`, then the example API and the browser client. This is
 * all there is to it; your app does the same with its own routes.
 */
export function createApp(options: AppOptions): SentinelApp {
  const { trustProxy, loginHistory, ...rest } = options;
  const sentinel = createSentinel({ ...rest, http: { ...rest.http, ...(loginHistory ? { loginHistory } : {}), ...(trustProxy !== undefined ? { trustProxy } : {}) } });
  // Koa's proxy flag only for X-Forwarded-Proto in ctx.protocol; the client address is the sentinel's.
  const app = new Koa({ proxy: trustProxy !== undefined && trustProxy !== false && trustProxy !== 0 });
  // Koa logs uncaught errors to stderr by default; the sentinel's error handler already renders and logs them.
  app.silent = true;
  app.use(sentinel.middleware());
  const examples = createExampleRoutes(sentinel.kit);
  app.use(examples.routes()).use(examples.allowedMethods());
  app.use(createWebRoutes().routes());
  // The HTTP contract as OpenAPI 3.1 (docs/api.md), serialized once.
  const contract = JSON.stringify(buildOpenApi());
  const openApi = new Router().get(OPENAPI_PATH, (ctx) => {
    ctx.type = 'application/json';
    ctx.body = contract;
  });
  app.use(openApi.routes()).use(openApi.allowedMethods());
  return { app, kit: sentinel.kit, sentinel };
}
