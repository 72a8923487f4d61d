import type { ElasticClient } from '../elastic/client.js';
import { dailyIndex } from '../elastic/templates.js';

/**
 * The daily review security staff asked for: the day's logins by outcome, the top failing sources and users, and
 * alerts by rule. Stored in `<prefix>-alerts-*` as `event.kind: metric` (id `review-YYYY-MM-DD`, so a re-run
 * replaces it) and rendered as a plain-text report.
 */

export interface DailyReview {
  day: string;
  logins: { success: number; failure: number };
  events: Record<string, number>;
  topFailingSources: Array<{ key: string; count: number }>;
  topFailingUsers: Array<{ key: string; count: number }>;
  alertsByRule: Array<{ key: string; count: number }>;
}

type Buckets = { buckets: Array<{ key: string; doc_count: number }> };
const top = (agg: unknown): Array<{ key: string; count: number }> => ((agg as Buckets | undefined)?.buckets ?? []).map((b) => ({ key: String(b.key), count: b.doc_count }));

export async function buildDailyReview(client: ElasticClient, indexPrefix: string, day: Date): Promise<DailyReview> {
  const start = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()));
  const end = new Date(start.getTime() + 86_400_000);
  const range = { range: { '@timestamp': { gte: start.toISOString(), lt: end.toISOString() } } };
  const fail = { term: { 'event.action': 'authn_login_fail' } };
  const [events, alerts] = await Promise.all([
    client.search({
      index: `${indexPrefix}-events-*`, ignore_unavailable: true, allow_no_indices: true, size: 0,
      query: { bool: { filter: [range] } },
      aggs: {
        actions: { terms: { field: 'event.action', size: 50 } },
        success: { filter: { terms: { 'event.action': ['authn_login_success', 'authn_login_successafterfail'] } } },
        failure: { filter: fail, aggs: { sources: { terms: { field: 'source.ip', size: 10 } }, users: { terms: { field: 'user.name', size: 10 } } } },
      },
    }),
    client.search({
      index: `${indexPrefix}-alerts-*`, ignore_unavailable: true, allow_no_indices: true, size: 0,
      query: { bool: { filter: [range, { term: { 'event.kind': 'alert' } }] } },
      aggs: { rules: { terms: { field: 'rule.id', size: 50 } } },
    }),
  ]);
  // No index for the day means no aggregations at all.
  const aggs = (events.aggregations ?? {}) as Record<string, { doc_count?: number; sources?: unknown; users?: unknown; buckets?: unknown }>;
  return {
    day: start.toISOString().slice(0, 10),
    logins: { success: aggs.success?.doc_count ?? 0, failure: aggs.failure?.doc_count ?? 0 },
    events: Object.fromEntries(top(aggs.actions).map((b) => [b.key, b.count])),
    topFailingSources: top(aggs.failure?.sources),
    topFailingUsers: top(aggs.failure?.users),
    alertsByRule: top((alerts.aggregations as Record<string, unknown> | undefined)?.rules),
  };
}

export async function storeDailyReview(client: ElasticClient, indexPrefix: string, review: DailyReview): Promise<void> {
  const at = `${review.day}T23:59:59.999Z`;
  await client.index({
    index: dailyIndex(indexPrefix, 'alerts', at),
    id: `review-${review.day}`,
    refresh: 'wait_for',
    document: {
      '@timestamp': at,
      message: `Daily security review for ${review.day}`,
      event: { id: `review-${review.day}`, kind: 'metric', dataset: 'sentinel.review', created: new Date().toISOString() },
      sentinel: { review },
    },
  });
}

export function formatDailyReview(review: DailyReview): string {
  const list = (rows: Array<{ key: string; count: number }>): string =>
    rows.length ? rows.map((r) => `    ${String(r.count).padStart(6)}  ${r.key}`).join('\n') : '    (none)';
  const total = review.logins.success + review.logins.failure;
  return [
    `Security review for ${review.day} (UTC)`,
    '',
    `  Logins: ${total} (${review.logins.success} succeeded, ${review.logins.failure} failed${total ? `, ${Math.round((review.logins.failure / total) * 100)}% failure` : ''})`,
    '',
    '  Top failing sources:',
    list(review.topFailingSources),
    '',
    '  Top failing users:',
    list(review.topFailingUsers),
    '',
    '  Alerts by rule:',
    list(review.alertsByRule),
    '',
    '  All security events:',
    list(Object.entries(review.events).map(([key, count]) => ({ key, count }))),
    '',
  ].join('\n');
}
