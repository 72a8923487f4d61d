import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

/** A client-supplied request id is kept only if it is short and plain, so it cannot forge or bloat a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestTiming {
  /** process.hrtime.bigint() at arrival. */
  startedAt: bigint;
}

/**
 * First in the chain: a request id (from X-Request-Id or new, echoed back) and the start time. The client IP is
 * Koa's `ctx.ip`, which honours X-Forwarded-For only when `app.proxy` (TRUST_PROXY) is on.
 */
export function requestContext(): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = REQUEST_ID.test(given) ? given : randomUUID();
    (ctx.state as { timing?: RequestTiming }).timing = { startedAt: process.hrtime.bigint() };
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  };
}
