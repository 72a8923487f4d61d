import type { ElasticClient } from '../elastic/client.js';
import { dailyIndex } from '../elastic/templates.js';
import { ECS_VERSION } from '../events/security-event.js';
import { printable } from '../printable.js';
import { renderReviewHtml } from './review-html.js';
import { newDeviceForUser } from './rules/devices.js';
import { LOGIN_FAIL, LOGIN_SUCCESS } from './rules/query.js';
import { NEW_DEVICE_BASELINE_DAYS, UNKNOWN, type CountRow, type DailyReview, type NewDevice } from './review-types.js';

export type { CountRow, DailyReview, NewDevice } from './review-types.js';

/**
 * The daily review security staff asked for: the day's logins by outcome and by hour, the top failing sources,
 * countries and users, devices new to their user, and alerts by rule and severity. Stored in `<prefix>-alerts-*`
 * as an ECS `event.kind: metric` document (id `review-YYYY-MM-DD`, so a re-run replaces it) together with its HTML
 * page (review-html.ts), and rendered as a plain-text report.
 */

const DAY_MS = 86_400_000;
/** Users judged for new devices (the rule's own bound is for a 15-minute window), and rows reported. */
const NEW_DEVICE_USERS = 10_000;
const NEW_DEVICES_SHOWN = 50;

type Buckets = { buckets: Array<{ key: string; doc_count: number }> };
const top = (agg: unknown): CountRow[] => ((agg as Buckets | undefined)?.buckets ?? []).map((b) => ({ key: String(b.key), count: b.doc_count }));

/**
 * The day's new devices as the `new_device_for_user` rule finds them, over the whole day at once: the review and the
 * alerts agree (a login carrying the user's device cookie is not a new device; a login without a parsed browser is
 * not judged). Users without a login in the baseline days are left out, as the rule leaves them out.
 */
async function newDevices(client: ElasticClient, eventsIndex: string, start: number, end: number): Promise<NewDevice[]> {
  const window = { start: new Date(start), end: new Date(end) };
  const params = { ...newDeviceForUser.defaults, windowMs: end - start, baselineDays: NEW_DEVICE_BASELINE_DAYS, maxUsers: NEW_DEVICE_USERS };
  const responses = await Promise.all(newDeviceForUser.queries(window, params, { eventsIndex })
    .map((spec) => client.search({ index: spec.index, ignore_unavailable: true, allow_no_indices: true, ...spec.body })));
  return newDeviceForUser.evaluate(responses, window, params)
    .map((finding) => {
      const details = finding.details as { browser?: string; os?: string; device_name?: string };
      return { user: finding.entity, browser: details.browser ?? UNKNOWN, os: details.os ?? UNKNOWN, device: details.device_name ?? UNKNOWN, firstSeen: finding.firstSeen ?? '' };
    })
    .sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.user.localeCompare(b.user))
    .slice(0, NEW_DEVICES_SHOWN);
}

export async function buildDailyReview(client: ElasticClient, indexPrefix: string, day: Date, builtAt: Date = new Date()): Promise<DailyReview> {
  const start = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate());
  const end = start + DAY_MS;
  const range = { range: { '@timestamp': { gte: new Date(start).toISOString(), lt: new Date(end).toISOString() } } };
  const fail = { term: { 'event.action': LOGIN_FAIL } };
  const success = { terms: { 'event.action': LOGIN_SUCCESS } };
  const eventsIndex = `${indexPrefix}-events-*`;
  const [events, alerts, devices] = await Promise.all([
    client.search({
      index: eventsIndex, ignore_unavailable: true, allow_no_indices: true, size: 0,
      query: { bool: { filter: [range] } },
      aggs: {
        actions: { terms: { field: 'event.action', size: 50 } },
        success: { filter: success },
        failure: {
          filter: fail,
          aggs: {
            sources: { terms: { field: 'source.ip', size: 10 } },
            countries: { terms: { field: 'source.geo.country_iso_code', size: 10, missing: UNKNOWN } },
            users: { terms: { field: 'user.name', size: 10 } },
          },
        },
        hours: {
          date_histogram: { field: '@timestamp', fixed_interval: '1h', min_doc_count: 0, extended_bounds: { min: start, max: end - 1 } },
          aggs: { success: { filter: success }, failure: { filter: fail } },
        },
      },
    }),
    client.search({
      index: `${indexPrefix}-alerts-*`, ignore_unavailable: true, allow_no_indices: true, size: 0,
      query: { bool: { filter: [range, { term: { 'event.kind': 'alert' } }] } },
      aggs: { rules: { terms: { field: 'rule.id', size: 50 } }, severities: { terms: { field: 'sentinel.alert.severity', size: 10 } } },
    }),
    newDevices(client, eventsIndex, start, end),
  ]);
  // No index for the day means no aggregations at all.
  const aggs = (events.aggregations ?? {}) as Record<string, { doc_count?: number; sources?: unknown; countries?: unknown; users?: unknown; buckets?: unknown }>;
  const hourBuckets = new Map(((aggs.hours?.buckets ?? []) as Array<{ key: number; success: { doc_count: number }; failure: { doc_count: number } }>).map((b) => [b.key, b]));
  const alertAggs = (alerts.aggregations ?? {}) as Record<string, unknown>;
  return {
    day: new Date(start).toISOString().slice(0, 10),
    builtAt: builtAt.toISOString(),
    logins: { success: aggs.success?.doc_count ?? 0, failure: aggs.failure?.doc_count ?? 0 },
    hourly: Array.from({ length: 24 }, (_, h) => {
      const at = start + h * 3_600_000;
      const bucket = hourBuckets.get(at);
      return { hour: new Date(at).toISOString(), success: bucket?.success.doc_count ?? 0, failure: bucket?.failure.doc_count ?? 0 };
    }),
    events: Object.fromEntries(top(aggs.actions).map((b) => [b.key, b.count])),
    topFailingSources: top(aggs.failure?.sources),
    topFailingCountries: top(aggs.failure?.countries),
    topFailingUsers: top(aggs.failure?.users),
    newDevices: devices,
    alertsByRule: top(alertAggs.rules),
    alertsBySeverity: top(alertAggs.severities),
  };
}

/**
 * Stores the review and its HTML page (rendered here unless given) as `review-<day>`. ECS: a metric, no
 * categorisation (ECS expects `event.category` on events, not on metrics); the review itself and the page live under
 * `sentinel.*`, kept in `_source` and not indexed.
 */
export async function storeDailyReview(client: ElasticClient, indexPrefix: string, review: DailyReview, html: string = renderReviewHtml(review)): Promise<void> {
  const at = `${review.day}T23:59:59.999Z`;
  await client.index({
    index: dailyIndex(indexPrefix, 'alerts', at),
    id: `review-${review.day}`,
    refresh: 'wait_for',
    document: {
      '@timestamp': at,
      ecs: { version: ECS_VERSION },
      message: `Daily security review for ${review.day}`,
      event: {
        id: `review-${review.day}`, kind: 'metric', dataset: 'sentinel.review', created: review.builtAt,
        start: `${review.day}T00:00:00.000Z`, end: at,
      },
      sentinel: { review, review_html: html },
    },
  });
}


export function formatDailyReview(review: DailyReview): string {
  const list = (rows: CountRow[]): string =>
    rows.length ? rows.map((r) => `    ${String(r.count).padStart(6)}  ${printable(r.key)}`).join('\n') : '    (none)';
  const total = review.logins.success + review.logins.failure;
  const devices = review.newDevices.length
    ? review.newDevices.map((d) => printable(`    ${d.firstSeen.slice(11, 16)}  ${d.user}: ${d.browser} on ${d.os}${d.device === UNKNOWN ? '' : ` (${d.device})`}`)).join('\n')
    : '    (none)';
  return [
    `Security review for ${review.day} (UTC)`,
    '',
    `  Logins: ${total} (${review.logins.success} succeeded, ${review.logins.failure} failed${total ? `, ${Math.round((review.logins.failure / total) * 100)}% failure` : ''})`,
    '',
    '  Top failing sources:',
    list(review.topFailingSources),
    '',
    '  Top failing countries:',
    list(review.topFailingCountries),
    '',
    '  Top failing users:',
    list(review.topFailingUsers),
    '',
    '  New devices:',
    devices,
    '',
    '  Alerts by rule:',
    list(review.alertsByRule),
    '',
    '  Alerts by severity:',
    list(review.alertsBySeverity),
    '',
    '  All security events:',
    list(Object.entries(review.events).map(([key, count]) => ({ key, count }))),
    '',
  ].join('\n');
}
