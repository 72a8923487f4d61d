import { createHash, randomUUID } from 'node:crypto';
import { ECS_VERSION } from '../events/security-event.js';
import type { BulkItem } from './bulk-request.js';
import type { Rejection } from './bulk-response.js';
import { dailyIndex, type IndexFamily } from './templates.js';

/**
 * From a logged document to what the shipper sends, and back from a spool line: which index family it belongs to,
 * whether it is journaled before `write()` returns, its `_id` and daily index, and the dead-letter record for a
 * document Elasticsearch refused.
 */

export type ShippedDocument = Record<string, unknown> & { '@timestamp'?: unknown; event?: { id?: unknown; dataset?: unknown } };

const DATASET_FAMILY: Record<string, IndexFamily> = {
  'sentinel.security': 'events',
  'sentinel.access': 'access',
  'sentinel.alert': 'alerts',
  'sentinel.deadletter': 'deadletter',
};

/** Longest part of a refused document kept in its dead letter: enough to see what was wrong, bounded in size. */
const DEAD_LETTER_DOCUMENT_CHARS = 32_000;
const DEAD_LETTER_REASON_CHARS = 2000;

export const familyByDataset = (doc: ShippedDocument): IndexFamily | undefined => DATASET_FAMILY[String(doc.event?.dataset)];

export const securityAndAlertsAreDurable = (doc: ShippedDocument): boolean =>
  doc.event?.dataset === 'sentinel.security' || doc.event?.dataset === 'sentinel.alert';

/**
 * `_id` is `event.id`, so a retry or a replay can never index a document twice. A document without one gets an id
 * derived from its spool line: the same line read back from disk after a crash gets the same id.
 */
export function toBulkItem(prefix: string, doc: ShippedDocument, family: IndexFamily, line: string, now: number): BulkItem {
  const id = typeof doc.event?.id === 'string' ? doc.event.id : createHash('sha256').update(line).digest('base64url');
  const at = typeof doc['@timestamp'] === 'string' ? doc['@timestamp'] : new Date(now).toISOString();
  return { id, index: dailyIndex(prefix, family, at), line, family };
}

/** The items of a chunk file, in file order, so positions recorded for its pending retries stay valid. */
export function itemsFromLines(
  prefix: string,
  lines: readonly string[],
  familyOf: (doc: ShippedDocument) => IndexFamily | undefined,
  now: number,
): BulkItem[] {
  const items: BulkItem[] = [];
  for (const line of lines) {
    try {
      const doc = JSON.parse(line) as ShippedDocument;
      const family = familyOf(doc);
      if (family) items.push(toBulkItem(prefix, doc, family, line, now));
    } catch {
      // A line torn by a crash mid-write: it was never acknowledged to anyone, so dropping it loses nothing.
    }
  }
  return items;
}

/**
 * The record of a refused document, for deadletter.ndjson and the `<prefix>-deadletter-*` index. ECS calls a
 * document the ingest path could not take `event.kind: pipeline_error`.
 */
export function deadLetterRecord(item: BulkItem, rejection: Rejection, now: number): ShippedDocument {
  const type = rejection.error?.type ?? 'unknown';
  const record = {
    '@timestamp': new Date(now).toISOString(),
    ecs: { version: ECS_VERSION },
    message: `Elasticsearch rejected a document (${rejection.status} ${type})`,
    event: { id: randomUUID(), kind: 'pipeline_error', dataset: 'sentinel.deadletter' },
    error: { type, message: String(rejection.error?.reason ?? '').slice(0, DEAD_LETTER_REASON_CHARS) },
    sentinel: { deadletter: { index: item.index, document_id: item.id, status: rejection.status, document: item.line.slice(0, DEAD_LETTER_DOCUMENT_CHARS) } },
  };
  return record;
}
