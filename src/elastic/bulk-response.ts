/**
 * What a `_bulk` answer means for each document sent, as a pure function of the answer: no client, no clock.
 *
 * - 2xx: delivered. 409 (`version_conflict_engine_exception` on a `create`): a document with that `_id` is already
 *   there, i.e. an earlier attempt whose answer was lost got through; delivered too, and counted as a duplicate.
 * - 429 and 5xx: the document was not indexed for a reason that passes (queue full, shard unavailable): retry.
 *   A missing item (an answer shorter than the request) is treated the same: nothing says it was indexed.
 * - Any other status (400 mapping errors, 404 ...): retrying cannot help; dead letter.
 */

export interface BulkItemError {
  type?: string;
  reason?: string;
}

/** The answer as requested with `filter_path=items.*.status,items.*.error.type,items.*.error.reason`. */
export interface BulkResponse {
  items?: Array<Record<string, { status?: number; error?: BulkItemError } | undefined>>;
}

export interface Rejection {
  /** Position in the request (0-based, in the order the documents were sent). */
  position: number;
  status: number;
  error: BulkItemError | undefined;
}

export interface BulkOutcome {
  /** Positions indexed now or before (2xx and 409). */
  delivered: number[];
  /** How many of `delivered` were 409s. */
  duplicates: number;
  /** Positions to send again after a backoff. */
  retry: number[];
  /** Positions never to send again. */
  rejected: Rejection[];
}

export type ItemVerdict = 'delivered' | 'duplicate' | 'retry' | 'reject';

/** The verdict for one item status; 0 stands for "no answer for this item". */
export function verdictFor(status: number): ItemVerdict {
  if (status === 409) return 'duplicate';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 0 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

/** Classifies the `count` documents of one request by the answer's items, which come back in request order. */
export function parseBulkResponse(response: BulkResponse | undefined, count: number): BulkOutcome {
  const items = Array.isArray(response?.items) ? response.items : [];
  const outcome: BulkOutcome = { delivered: [], duplicates: 0, retry: [], rejected: [] };
  for (let position = 0; position < count; position += 1) {
    // Each item is { "<action>": { status, error } }; the action name is whatever was sent (create here).
    const entry = items[position];
    const result = entry && typeof entry === 'object' ? Object.values(entry)[0] : undefined;
    const status = typeof result?.status === 'number' ? result.status : 0;
    switch (verdictFor(status)) {
      case 'duplicate':
        outcome.duplicates += 1;
        outcome.delivered.push(position);
        break;
      case 'delivered':
        outcome.delivered.push(position);
        break;
      case 'retry':
        outcome.retry.push(position);
        break;
      case 'reject':
        outcome.rejected.push({ position, status, error: result?.error });
        break;
    }
  }
  return outcome;
}
