import bunyan from 'bunyan';
import { ECS_VERSION, type SecurityEvent } from '../events/security-event.js';

/**
 * The bunyan logger factory. Output streams are options (DESIGN.md §1: logging receives its streams), so the
 * service decides whether records go to stdout, a file, or the Elasticsearch shipper.
 */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LoggerOptions {
  name: string;
  level?: Level;
  /** Where records go. Default: one stream to stdout. */
  streams?: bunyan.Stream[];
}

/** Serializes an Error for logs: name, message, code and stack, but never enumerable extras that might hold data. */
export function serializeError(error: unknown): Record<string, unknown> | undefined {
  if (!(error instanceof Error)) return error === undefined ? undefined : { message: String(error) };
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack_trace: error.stack };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (error.cause !== undefined) out.cause = serializeError(error.cause);
  return out;
}

export function createLogger(options: LoggerOptions): bunyan {
  return bunyan.createLogger({
    name: options.name,
    level: options.level ?? 'info',
    streams: options.streams ?? [{ stream: process.stdout }],
    serializers: { err: serializeError },
  });
}

/** The bunyan level for a security event's `log.level`. */
export function logSecurityEvent(logger: bunyan, event: SecurityEvent): void {
  const record = { ...event, ecs: { version: ECS_VERSION } };
  logger[event.log.level](record, event.message);
}
