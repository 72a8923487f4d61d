import { isResponseError, type ElasticClient } from './client.js';
import { parseBulkResponse, type BulkOutcome, type BulkResponse } from './bulk-response.js';
import type { IndexFamily } from './templates.js';

/**
 * One `_bulk` request of `create` actions and its answer: the only place the shipper talks to the client.
 * `create` (never `index`) with `_id` set is what makes retries safe: a second attempt meets 409, not a copy.
 */

/** A document ready to send: its `_id`, its daily index, and its JSON line exactly as spooled. */
export interface BulkItem {
  id: string;
  index: string;
  line: string;
  family: IndexFamily;
}

export interface BulkSenderOptions {
  client: ElasticClient;
  /** Timeout of one bulk request. */
  requestTimeoutMs: number;
}

/**
 * Sends the items and classifies the answer per item. Rejects with the client's own error when the request as a
 * whole failed (network, timeout, 429, 5xx, ...): the caller backs off and sends the same items again.
 */
export type BulkSend = (items: readonly BulkItem[]) => Promise<BulkOutcome>;

const FILTER_PATH = 'items.*.status,items.*.error.type,items.*.error.reason';

export function bulkBody(items: readonly BulkItem[]): string {
  let body = '';
  for (const item of items) body += `{"create":{"_index":${JSON.stringify(item.index)},"_id":${JSON.stringify(item.id)}}}\n${item.line}\n`;
  return body;
}

/** A 400 naming the parameter: a server older than 8.18, which does not know include_source_on_error. */
function refusesSourceOnErrorParam(error: unknown): boolean {
  return isResponseError(error) && error.statusCode === 400 && /include_source_on_error/.test(JSON.stringify(error.body ?? ''));
}

export function createBulkSender(options: BulkSenderOptions): BulkSend {
  const { client, requestTimeoutMs } = options;
  // Error messages must not echo documents back (ES 8.18+); older servers refuse the parameter, learnt once.
  let sourceOnErrorParam = true;
  const request = (body: string, withParam: boolean): Promise<unknown> =>
    client.bulk(
      { operations: body as never, filter_path: FILTER_PATH, ...(withParam ? { include_source_on_error: false } : {}) } as never,
      // Retries are the shipper's (backoff per chunk and per item); the client's own would multiply them.
      { requestTimeout: requestTimeoutMs, maxRetries: 0 },
    );
  return async (items) => {
    const body = bulkBody(items);
    const withParam = sourceOnErrorParam;
    let response: unknown;
    try {
      response = await request(body, withParam);
    } catch (error) {
      // Two requests in flight may both meet the refusal: each resends once, without the parameter.
      if (!withParam || !refusesSourceOnErrorParam(error)) throw error;
      sourceOnErrorParam = false;
      response = await request(body, false);
    }
    return parseBulkResponse(response as BulkResponse, items.length);
  };
}
