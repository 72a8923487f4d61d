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
  const fanout = options.streams ? undefined : ecsFanout(options, bunyan.resolveLevel(level));
  const logger = bunyan.createLogger({
    name: options.name,
    level: loggerLevel,
    streams: options.streams ?? [{ type: 'raw', level: loggerLevel, stream: fanout as unknown as bunyan.WriteFn }],
    serializers: { err: serializeError },
  });
  if (fanout) FANOUTS.set(logger, fanout);
  return logger;
}

interface Fanout {
  write(record: Record<string, unknown>): void;
  sinks: DocumentSink[];
  /** The enricher a sink brought, used when the logger was made without one. */
  lent: Enricher | undefined;
}

/** The fanout of each logger createLogger made, for attachSink. */
const FANOUTS = new WeakMap<bunyan, Fanout>();

/**
 * Feeds `sink` from a logger createLogger made, through the logger's one conversion and serialization per record:
 * a second raw stream would convert, enrich and serialize every record again (the sentinel's shipper behind the
 * reference server's logger did). `enrich` is used only when the logger has no enricher of its own. Returns the
 * function that detaches the sink again, or undefined when the logger is not createLogger's or already feeds a sink
 * (another sentinel's records must not reach this sink): the caller then adds a stream of its own.
 */
export function attachSink(logger: bunyan, sink: DocumentSink, enrich?: Enricher): (() => void) | undefined {
  const fanout = FANOUTS.get(logger);
  if (!fanout || fanout.sinks.length > 0) return undefined;
  fanout.sinks.push(sink);
  fanout.lent = enrich;
  // Sinks get every record at info and above whatever LOG_LEVEL says; stdout keeps its own filter in the fanout.
  const level = logger.level();
  if (level > bunyan.INFO) logger.level(bunyan.INFO);
  return () => {
    const at = fanout.sinks.indexOf(sink);
    if (at === -1) return;
    fanout.sinks.splice(at, 1);
    fanout.lent = undefined;
    if (level > bunyan.INFO) logger.level(level);
  };
}

/** One raw stream: each record becomes an ECS document once, then goes to stdout and every sink. */
function ecsFanout(options: LoggerOptions, stdoutLevel: number): Fanout {
  const stdout = options.stdout === undefined ? process.stdout : options.stdout;
  const sinks = [...(options.sinks ?? [])];
  const fanout: Fanout = {
    sinks,
    lent: undefined,
    write(record) {
      const toStdout = stdout && (record.level as number) >= stdoutLevel;
      // Nobody to read it: skip the conversion (access records below LOG_LEVEL with no sink, in tests and benches).
      if (!toStdout && sinks.length === 0) return;
      const doc = toEcsDocument(record);
      (options.enrich ?? fanout.lent)?.(doc);
      // Serialized once: the shipper spools the same line stdout gets.
      let line: string | undefined;
      if (toStdout) {
        line = JSON.stringify(doc);
        stdout.write(`${line}\n`);
      }
      for (const sink of sinks) sink.write(doc, line);
    },
  };
  return fanout;
}

/** Bunyan has no `critical`: the vocabulary's CRITICAL goes out at its highest level, `log.level` still says critical. */
const BUNYAN_LEVEL = { info: 'info', warn: 'warn', error: 'error', critical: 'fatal' } as const;

/** Logs a security event at its catalogue level; the document passes through as it is (it is already ECS). */
export function logSecurityEvent(logger: bunyan, event: SecurityEvent): void {
  logger[BUNYAN_LEVEL[event.log.level]](event, event.message);
}
