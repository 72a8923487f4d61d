import bunyan from 'bunyan';
import type { SecurityEvent } from '../events/security-event.js';
import type { Enricher } from '../enrich/types.js';
import { toEcsDocument, type DocumentSink } from './ecs.js';
import { toEcsError } from './error-fields.js';

/**
 * The bunyan logger factory. Output streams are options (docs/architecture.md#layers: logging receives its
 * streams), so the service decides whether records go to stdout, a file, or the Elasticsearch shipper.
 */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LoggerOptions {
  name: string;
  level?: Level;
  /** Where ECS documents go besides stdout: the Elasticsearch shipper, a test array. Converted once, shared. */
  sinks?: DocumentSink[];
  /** ECS JSON lines to this stream; false for none. Default process.stdout. */
  stdout?: { write(text: string): unknown } | false;
  /** Raw bunyan streams instead of all of the above (bunyan's own record shape). */
  streams?: bunyan.Stream[];
  /** Adds fields to each document before stdout and the sinks see it: `createEnricher()`, `sentinel.enrich`. */
  enrich?: Enricher;
}

/**
 * Serializes an Error for logs as ECS `error.*` fields (type, message, code, stack trace, the cause chain flattened
 * into message and stack trace), never enumerable extras that might hold data. Serializing twice loses nothing.
 * toEcsDocument writes the result under `error` (bunyan's `err` is renamed).
 */
export function serializeError(error: unknown): Record<string, unknown> | undefined {
  return toEcsError(error) as Record<string, unknown> | undefined;
}

export function createLogger(options: LoggerOptions): bunyan {
  const level = options.level ?? 'info';
  // LOG_LEVEL is about what an operator reads on stdout. The sinks (Elasticsearch) always get every security
  // event and access record, which are info and above: the logger itself never filters out info when sinks exist.
  const loggerLevel = options.sinks?.length && bunyan.resolveLevel(level) > bunyan.INFO ? 'info' : level;
  return bunyan.createLogger({
    name: options.name,
    level: loggerLevel,
    streams: options.streams ?? [{ type: 'raw', level: loggerLevel, stream: ecsFanout(options, bunyan.resolveLevel(level)) as unknown as bunyan.WriteFn }],
    serializers: { err: serializeError },
  });
}

/** One raw stream: each record becomes an ECS document once, then goes to stdout and every sink. */
function ecsFanout(options: LoggerOptions, stdoutLevel: number): { write(record: Record<string, unknown>): void } {
  const stdout = options.stdout === undefined ? process.stdout : options.stdout;
  const sinks = options.sinks ?? [];
  return {
    write(record) {
      const toStdout = stdout && (record.level as number) >= stdoutLevel;
      // Nobody to read it: skip the conversion (access records below LOG_LEVEL with no sink, in tests and benches).
      if (!toStdout && sinks.length === 0) return;
      const doc = toEcsDocument(record);
      options.enrich?.(doc);
      // Serialized once: the shipper spools the same line stdout gets.
      let line: string | undefined;
      if (toStdout) {
        line = JSON.stringify(doc);
        stdout.write(`${line}\n`);
      }
      for (const sink of sinks) sink.write(doc, line);
    },
  };
}

/** Bunyan has no `critical`: the vocabulary's CRITICAL goes out at its highest level, `log.level` still says critical. */
const BUNYAN_LEVEL = { info: 'info', warn: 'warn', error: 'error', critical: 'fatal' } as const;

/** Logs a security event at its catalogue level; the document passes through as it is (it is already ECS). */
export function logSecurityEvent(logger: bunyan, event: SecurityEvent): void {
  logger[BUNYAN_LEVEL[event.log.level]](event, event.message);
}
