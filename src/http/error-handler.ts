import type { Context, Middleware } from 'koa';
import { SentinelError, isSentinelError, type ErrorCode } from '../errors.js';

/** What the body parser and Koa itself throw, by `type` or status, mapped once to our codes. */
const LIBRARY_ERRORS: Record<string, ErrorCode> = {
  'entity.parse.failed': 'invalid_json',
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
  'request.size.invalid': 'invalid_request',
  'request.aborted': 'invalid_request',
};
const BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request', 401: 'token_invalid', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'too_many_requests',
};

export interface ErrorHandlerOptions {
  /** Called for every error response with the mapped error; 5xx carry the original as `cause`. */
  onError?: (ctx: Context, error: SentinelError, original: unknown) => void;
}

/** Maps any library or unexpected error to a SentinelError. Exported for tests. */
export function toSentinelError(error: unknown): SentinelError {
  if (isSentinelError(error)) return error;
  const e = error as { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  // co-body marks a JSON syntax error only by being a SyntaxError with status 400; zlib's errors (a body that
  // claims Content-Encoding: gzip but is not) carry no status at all, only a Z_* code.
  const zlib = typeof (error as { code?: unknown })?.code === 'string' && /^(Z_|ERR__ERROR_)/.test((error as { code: string }).code);
  const code = (zlib ? 'invalid_request' : undefined)
    ?? (typeof e?.type === 'string' ? LIBRARY_ERRORS[e.type] : undefined)
    ?? (status === 400 && error instanceof SyntaxError ? 'invalid_json' : undefined)
    ?? (status < 500 ? BY_STATUS[status] : undefined);
  if (code) return new SentinelError(code, { reason: typeof e?.type === 'string' ? e.type : `status_${status}`, cause: error });
  return new SentinelError('internal_error', { reason: 'unexpected', cause: error });
}

/**
 * Every error becomes `{ "error": { "code", "message" } }` with the table's status. Messages of 5xx are never the
 * original's, and no stack ever reaches a client (ASVS 16.5.1). Unknown routes become a JSON 404 here too.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined && ctx.status === 404) throw new SentinelError('not_found');
      // A router answers 501 to a method it has no route for on any path (TRACE, CONNECT): to a client that is one
      // more method this path does not allow, and the Allow header it set already says which are.
      if (ctx.body === undefined && (ctx.status === 405 || ctx.status === 501)) throw new SentinelError('method_not_allowed', { reason: `status_${ctx.status}` });
    } catch (thrown) {
      const error = toSentinelError(thrown);
      ctx.status = error.status;
      ctx.set(error.headers);
      if (error.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="koa-sentinel"');
      ctx.body = error.toJSON();
      options.onError?.(ctx, error, thrown);
    }
  };
}
