import type { ElasticClient } from './client.js';
import { SentinelError } from '../errors.js';

/**
 * A user's recent logins, newest first, read from the security events. Paginated with an opaque cursor over
 * (`@timestamp`, `event.id`), so pages never skip or repeat when new logins arrive. Elasticsearch trouble becomes
 * 503 dependency_unavailable within `timeoutMs`: the endpoint never hangs.
 */

export const LOGIN_ACTIONS = ['authn_login_success', 'authn_login_successafterfail', 'authn_login_fail'] as const;

export interface LoginHistoryEntry {
  time: string;
  outcome: 'success' | 'failure';
  action: string;
  sourceIp: string | null;
  userAgent: string | null;
}

export interface LoginHistoryPage {
  logins: LoginHistoryEntry[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

export interface LoginHistoryQuery {
  userName: string;
  size?: number;
  cursor?: string;
}

export interface LoginHistoryOptions {
  client: ElasticClient;
  indexPrefix: string;
  /** Default 2 s. */
  timeoutMs?: number;
}

export const MAX_PAGE_SIZE = 100;

export function decodeCursor(cursor: string): [number, string] | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string' && value[1].length <= 64) {
      return [value[0] as number, value[1]];
    }
  } catch {
    // fall through
  }
  return undefined;
}

export function encodeCursor(sort: unknown[]): string {
  return Buffer.from(JSON.stringify(sort)).toString('base64url');
}

export function createLoginHistory(options: LoginHistoryOptions): (query: LoginHistoryQuery) => Promise<LoginHistoryPage> {
  const { client, indexPrefix } = options;
  const timeoutMs = options.timeoutMs ?? 2000;
  return async ({ userName, size = 20, cursor }) => {
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw new SentinelError('invalid_request', { reason: 'size', message: `size must be an integer from 1 to ${MAX_PAGE_SIZE}.` });
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && !after) throw new SentinelError('invalid_request', { reason: 'cursor', message: 'The cursor is not valid.' });
    let response;
    try {
      response = await client.search(
        {
          index: `${indexPrefix}-events-*`,
          ignore_unavailable: true,
          allow_no_indices: true,
          size,
          track_total_hits: false,
          timeout: `${timeoutMs}ms`,
          query: { bool: { filter: [{ term: { 'user.name': userName } }, { terms: { 'event.action': [...LOGIN_ACTIONS] } }] } },
          sort: [{ '@timestamp': { order: 'desc' } }, { 'event.id': { order: 'desc' } }],
          ...(after ? { search_after: after } : {}),
          _source: ['@timestamp', 'event.action', 'event.outcome', 'source.ip', 'user_agent.original'],
        },
        { requestTimeout: timeoutMs, maxRetries: 0 },
      );
    } catch (error) {
      throw new SentinelError('dependency_unavailable', { reason: 'elasticsearch', cause: error });
    }
    const hits = response.hits.hits;
    const logins = hits.map((hit) => {
      const source = hit._source as { '@timestamp': string; event: { action: string; outcome: string }; source?: { ip?: string }; user_agent?: { original?: string } };
      return {
        time: source['@timestamp'],
        outcome: source.event.outcome === 'success' ? 'success' : 'failure',
        action: source.event.action,
        sourceIp: source.source?.ip ?? null,
        userAgent: source.user_agent?.original ?? null,
      } satisfies LoginHistoryEntry;
    });
    const last = hits.at(-1);
    return { logins, nextCursor: hits.length === size && last?.sort ? encodeCursor(last.sort) : null };
  };
}
