/**
 * The Redis store's one error class. ioredis errors are mapped here, once, at the boundary: callers (the session
 * kit answers 503 store_unavailable) see a stable code and find the ioredis error in `cause`.
 */

export const STORE_ERROR_CODES = {
  // Not connected, or the connection dropped while the command was in flight (its reply is lost).
  store_unreachable: 'Redis cannot be reached',
  // No answer within commandTimeoutMs: a slow or frozen Redis.
  store_timeout: 'Redis did not answer in time',
  // maxInFlight calls are already waiting: refused at once rather than piling up.
  store_overloaded: 'too many calls in flight',
  // Redis refused the command (a script error, a wrong type): retrying will not help.
  store_reply: 'Redis refused the command',
  // close() was called.
  store_closed: 'the store is closed',
} as const;

export type SessionStoreErrorCode = keyof typeof STORE_ERROR_CODES;

/** A store call that failed: `code` from STORE_ERROR_CODES, the call in `operation`, the ioredis error as `cause`. */
export class SessionStoreError extends Error {
  readonly code: SessionStoreErrorCode;
  readonly operation: string;

  constructor(code: SessionStoreErrorCode, operation: string, cause?: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super(`Redis session store: ${operation} failed (${code}: ${STORE_ERROR_CODES[code]})${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'SessionStoreError';
    this.code = code;
    this.operation = operation;
  }
}

/** Replies that mean "this server cannot serve right now" rather than "this command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY)/;

export function toStoreError(operation: string, error: unknown): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  if (message === 'Command timed out') return new SessionStoreError('store_timeout', operation, error);
  if (name === 'ReplyError' && !TRANSIENT_REPLY.test(message ?? '')) return new SessionStoreError('store_reply', operation, error);
  return new SessionStoreError('store_unreachable', operation, error);
}
