import type bunyan from 'bunyan';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import Router from '@koa/router';
import type { SecurityEvent } from '../events/security-event.js';
import { logSecurityEvent } from '../logging/logger.js';
import { createSessionKit, type SessionKit, type SessionKitOptions } from '../session/session-kit.js';
import { errorHandler } from './error-handler.js';
import type { LoginHistoryPage, LoginHistoryQuery } from '../elastic/login-history.js';
import { createRequestLogger } from '../logging/request-logger.js';
import { createExampleRoutes } from './example-routes.js';
import { createHistoryRoutes } from './history-routes.js';
import { jsonOnly } from './json-only.js';
import { requestContext } from './request-context.js';
import { securityHeaders } from './security-headers.js';
import { createWebRoutes } from './web-routes.js';

export interface AppOptions {
  session: Omit<SessionKitOptions, 'onEvent'>;
  logger: bunyan;
  trustProxy?: boolean;
  production?: boolean;
  /** Largest JSON body accepted. Default 16 kB: auth payloads are tiny. */
  jsonLimit?: string;
  /** Extra sink for security events (the Elasticsearch shipper, tests). */
  onEvent?: (event: SecurityEvent) => void;
  /** Extra fields for GET /healthz, and whether the service is degraded. */
  health?: () => { degraded: boolean; [field: string]: unknown };
  /** Reads login history (Elasticsearch); without it the history routes answer 503. */
  loginHistory?: (query: LoginHistoryQuery) => Promise<LoginHistoryPage>;
  /** One ECS access record per request. Default true. */
  accessLog?: boolean;
}

export interface SentinelApp {
  app: Koa;
  kit: SessionKit;
}

/**
 * The reference server, in the order of DESIGN.md §2: request context → error handler → security headers →
 * body limits → authentication → CSRF → routes (authorization inside them) → handler.
 */
export function createApp(options: AppOptions): SentinelApp {
  const { logger } = options;
  const onEvent = (event: SecurityEvent): void => {
    logSecurityEvent(logger, event);
    options.onEvent?.(event);
  };
  const kit = createSessionKit({ ...options.session, onEvent });
  const app = new Koa({ proxy: options.trustProxy === true });
  // Koa logs uncaught errors to stderr by default; every error is already handled and logged by errorHandler.
  app.silent = true;

  // The kit's emit already carries the request's context (source, user agent, path, request id).
  const inputEvent = (ctx: Koa.Context, reason: string, status: number): void =>
    kit.emit(ctx, 'input_validation_fail', { reason, http: { statusCode: status } });

  app.use(requestContext());
  if (options.accessLog !== false) app.use(createRequestLogger({ logger }));
  app.use(errorHandler({
    onError(ctx, error, original) {
      if (error.status >= 500) {
        logger.error({ err: original, http: { request: { id: ctx.state.requestId } }, url: { path: ctx.path } }, 'request failed');
      } else if (['invalid_json', 'invalid_request', 'payload_too_large'].includes(error.code)) {
        inputEvent(ctx, error.code, error.status);
      }
    },
  }));
  app.use(securityHeaders({ hsts: options.production === true }));
  app.use(jsonOnly((ctx) => inputEvent(ctx, 'unsupported_media_type', 415)));
  // strict: false so a valid JSON body that is not an object (42, "x", null) reaches the handlers, which refuse it
  // in their own terms (login: the one 401), instead of a misleading invalid_json.
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: options.jsonLimit ?? '16kb', strict: false });
  // GET and HEAD carry no body worth parsing: skip the parser on the hot path of every read.
  app.use((ctx, next) => (ctx.method === 'GET' || ctx.method === 'HEAD' ? next() : parseJson(ctx, next)));
  app.use(kit.authenticate);
  app.use(kit.csrf);
  app.use(kit.routes());

  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // Always 200 while the process serves: "degraded" tells operators the event pipeline needs a look.
    const { degraded = false, ...details } = options.health?.() ?? {};
    ctx.body = { status: degraded ? 'degraded' : 'ok', ...details };
  });
  const examples = createExampleRoutes(kit);
  const history = createHistoryRoutes(kit, options.loginHistory);
  app.use(router.routes()).use(router.allowedMethods());
  app.use(history.routes()).use(history.allowedMethods());
  app.use(examples.routes()).use(examples.allowedMethods());
  app.use(createWebRoutes().routes());
  return { app, kit };
}
