import { randomUUID } from 'node:crypto';
import type { Enricher } from '../enrich/types.js';
import { ECS_VERSION } from '../events/security-event.js';
import { toEcsError } from './error-fields.js';
import { REDACTED, isSecretKey, redact, redactString } from './redact.js';

/**
 * Bunyan records to ECS documents. Bunyan's own fields are renamed (`time` → `@timestamp`, `msg` → `message`,
 * `level` → `log.level`, `name` → `service.name`, `hostname` → `host.hostname`, `pid` → `process.pid`), an
 * error logged as bunyan's `err` goes to ECS `error.*` (error-fields.ts), the rest is kept, redacted. Every document
 * gets an `event.id`: it becomes the Elasticsearch `_id`, so a retried or replayed document can never be indexed twice.
 */

export type EcsDocument = Record<string, unknown> & {
  '@timestamp': string;
  message: string;
  event: { id: string; dataset?: string; [key: string]: unknown };
};

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const BUNYAN_FIELDS = new Set(['name', 'hostname', 'pid', 'level', 'msg', 'time', 'v', 'src']);

export function toEcsDocument(record: Record<string, unknown>): EcsDocument {
  // One pass: bunyan's own fields are left out and everything else is redacted as it is copied. The document is
  // filled in place (no object spread of the whole record): this runs for every request.
  const doc: Record<string, unknown> = { '@timestamp': undefined, message: undefined };
  let error: Record<string, unknown> | undefined;
  for (const key in record) {
    if (BUNYAN_FIELDS.has(key)) continue;
    const item = record[key];
    if (key === 'err' || (key === 'error' && item instanceof Error)) {
      // An Error instance has no enumerable fields to redact: read it into ECS fields first.
      error = toEcsError(item) as Record<string, unknown> | undefined;
      continue;
    }
    doc[key] = item !== undefined && item !== null && item !== '' && isSecretKey(key) ? REDACTED : redact(item, 1);
  }
  // `error` fields logged next to `err` win over what the error itself says.
  if (error) doc.error = { ...(redact(error, 1) as Record<string, unknown>), ...(doc.error as Record<string, unknown> | undefined) };
  if (typeof doc['@timestamp'] !== 'string') doc['@timestamp'] = record.time instanceof Date ? record.time.toISOString() : new Date().toISOString();
  // The message too: an access record's holds the raw path, and a token in a path must not survive there.
  if (typeof doc.message !== 'string') doc.message = redactString(String(record.msg ?? ''));
  doc.ecs = { version: ECS_VERSION };
  const log = doc.log as Record<string, unknown> | undefined;
  doc.log = { ...log, level: log?.level ?? LEVEL_NAMES[record.level as number] ?? 'info', logger: record.name };
  const service = doc.service as Record<string, unknown> | undefined;
  if (service?.name === undefined) doc.service = { ...service, name: record.name };
  doc.host = { hostname: record.hostname };
  doc.process = { pid: record.pid };
  const event = doc.event as Record<string, unknown> | undefined;
  if (typeof event?.id !== 'string') doc.event = { ...event, id: randomUUID() };
  return doc as EcsDocument;
}

export interface DocumentSink {
  /** `line` is the document's JSON when the logger already wrote it (to stdout): serialized once, not per sink. */
  write(doc: EcsDocument, line?: string): void;
}

/** A bunyan raw stream that hands ECS documents to `sink` (the shipper, a test array, ...), enriched by `enrich`. */
export function ecsRawStream(sink: DocumentSink, enrich?: Enricher): { write(record: Record<string, unknown>): void } {
  return { write: (record) => sink.write(ecsDocument(record, enrich)) };
}

/** A bunyan raw stream writing one ECS JSON line per record to `out` (stdout by default), enriched by `enrich`. */
export function ecsJsonStream(out: { write(text: string): unknown } = process.stdout, enrich?: Enricher): { write(record: Record<string, unknown>): void } {
  return { write: (record) => out.write(`${JSON.stringify(ecsDocument(record, enrich))}\n`) };
}

function ecsDocument(record: Record<string, unknown>, enrich: Enricher | undefined): EcsDocument {
  const doc = toEcsDocument(record);
  enrich?.(doc);
  return doc;
}
