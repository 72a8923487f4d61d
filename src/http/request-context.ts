import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Middleware } from 'koa';

/** A client-supplied request id is kept only if it is short and plain, so it cannot forge or bloat a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestTiming {
  /** process.hrtime.bigint() at arrival. */
  startedAt: bigint;
}

/**
 * First in the chain: a request id (from X-Request-Id or new, echoed back) and the start time. The client IP is
 * Koa's `ctx.ip`, which honours X-Forwarded-For only when `app.proxy` (TRUST_PROXY) is on, and then only when it
 * names an IP address.
 */
export function requestContext(): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = REQUEST_ID.test(given) ? given : randomUUID();
    // Behind a trusted proxy ctx.ip is whatever X-Forwarded-For says first, which any client can write. Text that
    // is no address is ignored for the peer's own address: every event carries it as source.ip, an `ip` field, and
    // Elasticsearch would refuse the whole document (a way to keep one's own events out of the index).
    if (ctx.app.proxy && isIP(ctx.ip) === 0) ctx.request.ip = ctx.socket.remoteAddress ?? '';
    (ctx.state as { timing?: RequestTiming }).timing = { startedAt: process.hrtime.bigint() };
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  };
}
