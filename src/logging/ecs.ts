import { randomUUID } from 'node:crypto';
import { ECS_VERSION } from '../events/security-event.js';
import { REDACTED, SECRET_KEY, redact } from './redact.js';

/**
 * Bunyan records to ECS documents. Bunyan's own fields are renamed (`time` → `@timestamp`, `msg` → `message`,
 * `level` → `log.level`, `name` → `service.name`, `hostname` → `host.hostname`, `pid` → `process.pid`), the rest
 * is kept, redacted. Every document gets an `event.id`: it becomes the Elasticsearch `_id`, so a retried or
 * replayed document can never be indexed twice.
 */

export type EcsDocument = Record<string, unknown> & {
  '@timestamp': string;
  message: string;
  event: { id: string; dataset?: string; [key: string]: unknown };
};

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const BUNYAN_FIELDS = new Set(['name', 'hostname', 'pid', 'level', 'msg', 'time', 'v', 'src']);

export function toEcsDocument(record: Record<string, unknown>): EcsDocument {
  // One pass: bunyan's own fields are left out and everything else is redacted as it is copied.
  const doc: Record<string, unknown> = {};
  for (const key in record) {
    if (BUNYAN_FIELDS.has(key)) continue;
    const item = record[key];
    doc[key] = SECRET_KEY.test(key) && item !== undefined && item !== null && item !== '' ? REDACTED : redact(item, 1);
  }
  const time = record.time instanceof Date ? record.time.toISOString() : new Date().toISOString();
  const log = (doc.log as Record<string, unknown> | undefined) ?? {};
  const event = (doc.event as Record<string, unknown> | undefined) ?? {};
  const service = (doc.service as Record<string, unknown> | undefined) ?? {};
  return {
    ...doc,
    '@timestamp': typeof doc['@timestamp'] === 'string' ? doc['@timestamp'] : time,
    message: typeof doc.message === 'string' ? doc.message : String(record.msg ?? ''),
    ecs: { version: ECS_VERSION },
    log: { ...log, level: log.level ?? LEVEL_NAMES[record.level as number] ?? 'info', logger: record.name },
    service: { ...service, name: service.name ?? record.name },
    host: { hostname: record.hostname },
    process: { pid: record.pid },
    event: { ...event, id: typeof event.id === 'string' ? event.id : randomUUID() },
  } as EcsDocument;
}

export interface DocumentSink {
  write(doc: EcsDocument): void;
}

/** A bunyan raw stream that hands ECS documents to `sink` (the shipper, a test array, ...). */
export function ecsRawStream(sink: DocumentSink): { write(record: Record<string, unknown>): void } {
  return { write: (record) => sink.write(toEcsDocument(record)) };
}

/** A bunyan raw stream writing one ECS JSON line per record to `out` (stdout by default). */
export function ecsJsonStream(out: { write(text: string): unknown } = process.stdout): { write(record: Record<string, unknown>): void } {
  return { write: (record) => out.write(`${JSON.stringify(toEcsDocument(record))}\n`) };
}
