import { LOGIN_SOURCE_FIELDS, LOGIN_SUCCESS, actions, buckets, docCount, exists, hitSources, isoOf, placeOf, range, recentUsers, searchBody, type LoginSource, type TermsBucket } from './query.js';
import type { Finding, Rule } from './types.js';

/**
 * What a login came from (docs/anomaly-detection.md#locations-and-devices): the parsed browser, operating system and
 * device, never their versions (a browser update is not a new device, and the raw User-Agent string changes with
 * every one). Logins without a parsed `user_agent.name` (no enrichment) are left out.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Stands for an absent OS or device name in the device key: desktop browsers report no device. */
const NONE = '-';

export type NewDeviceParams = { windowMs: number; baselineDays: number; maxUsers: number };

/** Browser, then OS, then device: the three levels of the device key. */
function deviceLevels(leaf: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    browsers: {
      terms: { field: 'user_agent.name', size: 20 },
      aggs: {
        systems: {
          terms: { field: 'user_agent.os.name', size: 10, missing: NONE },
          aggs: { devices: { terms: { field: 'user_agent.device.name', size: 10, missing: NONE }, ...(Object.keys(leaf).length > 0 ? { aggs: leaf } : {}) } },
        },
      },
    },
  };
}

interface Device {
  key: string;
  label: string;
  browser: string;
  os?: string;
  device?: string;
  bucket: TermsBucket;
}

/** Every device under a `browsers` aggregation, keyed "browser|os|device". */
function devicesOf(node: unknown): Device[] {
  return buckets({ aggregations: node }, 'browsers').flatMap((browser) =>
    buckets({ aggregations: browser }, 'systems').flatMap((system) =>
      buckets({ aggregations: system }, 'devices').map((device) => {
        const [b, s, d] = [String(browser.key), String(system.key), String(device.key)];
        const label = `${b}${s !== NONE ? ` on ${s}` : ''}${d !== NONE ? ` (${d})` : ''}`;
        return { key: `${b}|${s}|${d}`, label, browser: b, ...(s !== NONE ? { os: s } : {}), ...(d !== NONE ? { device: d } : {}), bucket: device };
      })));
}

/**
 * A successful login from a device (browser, OS and device names) not seen for this user in the previous
 * `baselineDays`, without the device cookie the login flow recognises (`sentinel.known_device`): a browser that
 * already holds this user's device cookie has logged in as them before, whatever its User-Agent says now. Users
 * without any parsed login in the baseline are not judged. One alert per user and new device, its id fixed by the
 * first unrecognised login from it.
 */
export const newDeviceForUser: Rule<NewDeviceParams> = {
  id: 'new_device_for_user',
  name: 'Login from a new device',
  description: 'A successful login from a browser, operating system and device this user has not used in the previous days.',
  severity: 'low',
  technique: { id: 'T1078', name: 'Valid Accounts' },
  tactic: { id: 'TA0001', name: 'Initial Access' },
  defaults: { windowMs: 15 * MINUTE, baselineDays: 30, maxUsers: 1000 },
  queries: (window, p, ctx) => {
    const baseline = { start: new Date(window.start.getTime() - p.baselineDays * DAY), end: window.start };
    return [{
      index: ctx.eventsIndex,
      body: searchBody([range({ start: baseline.start, end: window.end }), actions(LOGIN_SUCCESS), exists('user_agent.name')], {
        users: recentUsers(p.maxUsers, {
          recent: {
            filter: range(window),
            aggs: deviceLevels({
              unrecognised: {
                filter: { bool: { must_not: [{ term: { 'sentinel.known_device': true } }] } },
                aggs: { first: { top_hits: { size: 1, sort: [{ '@timestamp': 'asc' }], _source: LOGIN_SOURCE_FIELDS } } },
              },
              last_seen: { max: { field: '@timestamp' } },
            }),
          },
          baseline: { filter: range(baseline), aggs: deviceLevels() },
        }),
      }),
    }];
  },
  evaluate: ([response], _window, p) => buckets(response, 'users').flatMap((user): Finding[] => {
    if (docCount(user, 'baseline') === 0) return [];
    const known = devicesOf(user.baseline);
    const knownKeys = new Set(known.map((d) => d.key));
    return devicesOf(user.recent).flatMap((device): Finding[] => {
      if (knownKeys.has(device.key) || docCount(device.bucket, 'unrecognised') === 0) return [];
      const [first] = hitSources<LoginSource>(device.bucket, 'unrecognised.first');
      if (!first?.event?.id) return [];
      return [{
        entityType: 'user',
        entity: String(user.key),
        summary: `"${user.key}" logged in from a new device, ${device.label}, from ${placeOf(first.source)} (not seen for them in ${p.baselineDays} days)`,
        count: device.bucket.doc_count,
        eventId: first.event.id,
        firstSeen: first['@timestamp'],
        lastSeen: isoOf(device.bucket, 'last_seen'),
        sources: first.source?.ip ? [first.source.ip] : [],
        details: {
          device: device.label,
          // The parts, for the daily review's table (it lists what this rule finds).
          browser: device.browser,
          ...(device.os ? { os: device.os } : {}),
          ...(device.device ? { device_name: device.device } : {}),
          unrecognised_logins: docCount(device.bucket, 'unrecognised'),
          known_devices: known.map((d) => d.label).slice(0, 20),
        },
      }];
    });
  }),
};
