/**
 * Errors as ECS `error.*` fields: `type`, `message`, `code`, `stack_trace` (ECS has no `error.cause`). A cause
 * chain is flattened, the way Java prints it: each cause's type and message are appended to `error.message`
 * (searchable) and its stack to `error.stack_trace` after a `Caused by:` line. Enumerable extras of an error are
 * never copied: they may hold request data.
 */

export interface EcsErrorFields {
  type?: string;
  message?: string;
  code?: string;
  stack_trace?: string;
}

/** Causes followed at most: a chain longer than this is a loop or a bug, and the log line must stay bounded. */
const MAX_CAUSES = 5;

interface ErrorLike {
  type?: string;
  message?: string;
  code?: string;
  stack?: string;
  cause?: unknown;
}

/** What we can read from an Error, a bunyan-serialized error (`name`, `stack`) or our own earlier output. */
function readError(value: unknown): ErrorLike | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') return { message: String(value) };
  const source = value as Record<string, unknown>;
  const text = (item: unknown): string | undefined => (typeof item === 'string' ? item : undefined);
  const code = source.code;
  return {
    type: text(source.type) ?? (value instanceof Error ? value.name : text(source.name)),
    message: text(source.message),
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : undefined,
    stack: text(source.stack) ?? text(source.stack_trace),
    cause: source.cause,
  };
}

/** Serializes an error (or anything thrown) to ECS `error.*` fields; undefined for undefined. */
export function toEcsError(error: unknown): EcsErrorFields | undefined {
  const top = readError(error);
  if (!top) return undefined;
  const out: EcsErrorFields = {};
  if (top.type !== undefined) out.type = top.type;
  if (top.message !== undefined) out.message = top.message;
  if (top.code !== undefined) out.code = top.code;
  let message = top.message;
  let stack = top.stack;
  const seen = new Set<unknown>([error]);
  let cause = top.cause;
  for (let depth = 0; depth < MAX_CAUSES && cause !== undefined && cause !== null && !seen.has(cause); depth += 1) {
    seen.add(cause);
    const next = readError(cause)!;
    const label = [next.type, next.message].filter(Boolean).join(': ') || 'unknown';
    message = message === undefined ? `caused by ${label}` : `${message}; caused by ${label}`;
    if (stack !== undefined || next.stack !== undefined) stack = `${stack ?? [top.type, top.message].filter(Boolean).join(': ')}\nCaused by: ${next.stack ?? label}`;
    cause = next.cause;
  }
  if (message !== undefined) out.message = message;
  if (stack !== undefined) out.stack_trace = stack;
  return out;
}
