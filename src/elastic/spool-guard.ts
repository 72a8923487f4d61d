import type { Middleware } from 'koa';
import { SentinelError } from '../errors.js';
import type { Shipper } from './shipper.js';

/**
 * Fail closed on a spool that cannot be written, for deployments that would rather refuse requests than serve
 * requests whose audit events are lost (ShipperOptions.onSpoolFailure 'refuse'; docs/operations.md, Disk full):
 * every request but the health route answers 503 dependency_unavailable until the spool takes writes again. With
 * the default 'drop' the shipper never refuses and this passes everything through.
 */
export function spoolGuard(shipper: Pick<Shipper, 'refuses'>, healthPath: string | false | undefined): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== healthPath && shipper.refuses()) {
      throw new SentinelError('dependency_unavailable', { reason: 'spool_unwritable', headers: { 'Retry-After': '5' } });
    }
    await next();
  };
}
