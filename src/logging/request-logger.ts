import { randomUUID } from 'node:crypto';
import type bunyan from 'bunyan';
import type { Context, Middleware } from 'koa';
import { MAX_USER_AGENT, relatedOf } from '../events/security-event.js';
import { clientAddressOf } from '../http/client-address.js';
import { PREREDACTED, redactString } from './redact.js';

/**
 * One ECS access record per request, written after the response status is known: request id, method, path (never
 * the query string, which may carry tokens), status, duration in nanoseconds, bytes, user, source IP (the one
 * the clientAddress middleware resolved: X-Forwarded-For counts only through trusted proxies), user agent and
 * `related.user`/`related.ip` (docs/events.md#access-records). Put it right after the request context and client address and outside the error handler, so failed requests are logged with the
 * status the client saw (docs/architecture.md#request-pipeline).
 */

export interface RequestLoggerOptions {
  logger: bunyan;
  /** Paths not logged (health checks polled every few seconds). Default ['/healthz']. */
  skipPaths?: readonly string[];
}

export function createRequestLogger(options: RequestLoggerOptions): Middleware {
  const { logger } = options;
  const skip = new Set(options.skipPaths ?? ['/healthz']);
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      if (!skip.has(ctx.path)) logger.info(accessRecord(ctx, started), `${ctx.method} ${ctx.path} ${ctx.status}`);
    }
  };
}

/**
 * Built for every request, so its parts are built redacted and marked (PREREDACTED): toEcsDocument then copies them
 * instead of walking them. Every string a client can choose (path, User-Agent, request id, user name) goes through
 * redactString here; the rest is ours (method and version from Node's parser, status, sizes, ids, the address).
 */
export function accessRecord(ctx: Context, started: bigint): Record<string, unknown> {
  const status = ctx.status;
  const user = ctx.state.user;
  const userAgent = ctx.get('user-agent');
  const bytes = ctx.response.length;
  const ip = clientAddressOf(ctx);
  const path = redactString(ctx.path);
  const record: Record<string, unknown> = {
    event: {
      [PREREDACTED]: true,
      id: randomUUID(),
      kind: 'event',
      category: ['web'],
      type: ['access'],
      dataset: 'sentinel.access',
      outcome: status < 400 ? 'success' : 'failure',
      duration: Number(process.hrtime.bigint() - started),
    },
    http: {
      [PREREDACTED]: true,
      request: { id: redactString(String(ctx.state.requestId ?? '')), method: ctx.method },
      response: bytes === undefined ? { status_code: status } : { status_code: status, body: { bytes } },
      version: ctx.req.httpVersion,
    },
    url: { [PREREDACTED]: true, path },
    source: { [PREREDACTED]: true, ip },
  };
  const name = user ? redactString(user.name) : '';
  if (user) record.user = { [PREREDACTED]: true, name, id: redactString(user.id) };
  if (userAgent) record.user_agent = { [PREREDACTED]: true, original: redactString(userAgent.slice(0, MAX_USER_AGENT)) };
  const related = relatedOf([name], [ip]);
  if (related) record.related = { [PREREDACTED]: true, ...related };
  return record;
}
