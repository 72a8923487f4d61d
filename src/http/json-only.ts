import type { Middleware } from 'koa';
import { SentinelError } from '../errors.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A body that is not JSON is refused with 415 before any parser sees it. Besides clarity, this closes the
 * "simple request" door of CSRF: a cross-site HTML form can send text/plain or form data, never application/json.
 */
export function jsonOnly(onRefuse?: (ctx: Parameters<Middleware>[0]) => void): Middleware {
  return async (ctx, next) => {
    if (BODY_METHODS.has(ctx.method)) {
      const length = ctx.request.length;
      const hasBody = length !== undefined ? length > 0 : ctx.get('transfer-encoding') !== '';
      if (hasBody && !ctx.is('application/json')) {
        onRefuse?.(ctx);
        throw new SentinelError('unsupported_media_type');
      }
    }
    await next();
  };
}
