import { randomUUID } from 'node:crypto';
import type bunyan from 'bunyan';
import type { Middleware } from 'koa';
import { MAX_USER_AGENT, relatedOf } from '../events/security-event.js';
import { clientAddressOf } from '../http/client-address.js';

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
      if (!skip.has(ctx.path)) {
        const status = ctx.status;
        const user = ctx.state.user;
        const userAgent = ctx.get('user-agent');
        const bytes = ctx.response.length;
        const ip = clientAddressOf(ctx);
        const related = relatedOf([user?.name], [ip]);
        const record = {
          event: {
            id: randomUUID(),
            kind: 'event',
            category: ['web'],
            type: ['access'],
            dataset: 'sentinel.access',
            outcome: status < 400 ? 'success' : 'failure',
            duration: Number(process.hrtime.bigint() - started),
          },
          http: {
            request: { id: ctx.state.requestId, method: ctx.method },
            response: bytes === undefined ? { status_code: status } : { status_code: status, body: { bytes } },
            version: ctx.req.httpVersion,
          },
          url: { path: ctx.path },
          source: { ip },
          ...(user ? { user: { name: user.name, id: user.id } } : {}),
          ...(userAgent ? { user_agent: { original: userAgent.slice(0, MAX_USER_AGENT) } } : {}),
          ...(related ? { related } : {}),
        };
        logger.info(record, `${ctx.method} ${ctx.path} ${status}`);
      }
    }
  };
}
