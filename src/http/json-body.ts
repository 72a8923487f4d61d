import bodyParser from 'koa-bodyparser';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import { jsonOnly } from './json-only.js';

export interface JsonBodyOptions {
  /** Largest JSON body accepted, in koa-bodyparser's notation. Default '16kb': auth payloads are tiny. */
  limit?: string;
  /** Called when a body that is not JSON is refused (415), before the error is thrown: log it as an event here. */
  onRefuse?: Parameters<typeof jsonOnly>[0];
}

const DEFAULTS = { limit: '16kb' };

/**
 * JSON bodies only (415 for anything else, which also closes CSRF's "simple request" door), parsed by
 * koa-bodyparser. Put it after `errorHandler()` so a bad body becomes 400 invalid_json / 413 payload_too_large.
 */
export function jsonBody(options: JsonBodyOptions = {}): Middleware {
  // strict: false so a valid JSON body that is not an object (42, "x", null) reaches the handlers, which refuse it
  // in their own terms (login: the one 401), instead of a misleading invalid_json.
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: options.limit ?? DEFAULTS.limit, strict: false });
  const checkedParse = compose([jsonOnly(options.onRefuse), parse]);
  // GET and HEAD carry no body worth parsing, and jsonOnly has nothing to refuse there: one test on the hot path
  // of every read instead of two middleware steps.
  return (ctx, next) => (ctx.method === 'GET' || ctx.method === 'HEAD' ? next() : checkedParse(ctx, next));
}
