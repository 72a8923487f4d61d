import { SESSION_START, actions, buckets, docCount, exists, isoOf, keys, movedAndActive, movingEntities, range, searchBody, value } from './query.js';
import { fromTrustedNetworks, trustedAsNumbers, type LocationRuleOptions } from './trusted-networks.js';
import type { Finding, Rule, Window } from './types.js';

/**
 * A session used from another country than the one it was created in: the session cookie travelled without its
 * owner (docs/anomaly-detection.md#locations-and-devices). Every event of a session carries `sentinel.session_id`
 * (a keyed hash, never the id) and the address of the request that caused it: the login and `session_created`, then
 * refreshes (`authn_token_created`, `session_renewed`), refusals, reuse and logout.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
/** `source.as.number` of an event without one, in the per-country network list. AS 0 is reserved (RFC 7607). */
const UNKNOWN_AS = 0;

export type SessionCountryParams = { windowMs: number; sessionDays: number; maxSessions: number };

/** Where a group of events came from, as terms aggregations (no documents are fetched). */
const WHERE = {
  networks: { terms: { field: 'source.as.number', size: 10, missing: UNKNOWN_AS } },
  addresses: { terms: { field: 'source.ip', size: 10 } },
  cities: { terms: { field: 'source.geo.city_name', size: 5 } },
  first_seen: { min: { field: '@timestamp' } },
  last_seen: { max: { field: '@timestamp' } },
};

/**
 * The events a session is judged by: located events of sessions in the window, and before it only the start events,
 * as far back as a session lives (the search reads what it needs, not a week of refreshes).
 */
function scope(window: Window, p: SessionCountryParams): unknown[] {
  const lookback = { start: new Date(window.start.getTime() - p.sessionDays * DAY), end: window.end };
  return [
    range(lookback), exists('sentinel.session_id'), exists('source.geo.country_iso_code'),
    { bool: { should: [range(window), actions(SESSION_START)], minimum_should_match: 1 } },
  ];
}

/** "Paris, FR (AS64496)" from a bucket with WHERE's aggregations. */
function placeOfBucket(country: string, bucket: unknown): string {
  const city = keys(bucket, 'cities')[0];
  const networks = keys(bucket, 'networks').map(Number).filter((n) => n !== UNKNOWN_AS);
  return `${city ? `${city}, ` : ''}${country}${networks.length ? ` (${networks.map((n) => `AS${n}`).join(', ')})` : ''}`;
}

/**
 * ATT&CK T1550.004 (Use Alternate Authentication Material: Web Session Cookie), not T1539 (Steal Web Session
 * Cookie): what the events show is the stolen cookie being used, from somewhere its owner is not; the theft itself
 * (malware, a proxy) happens where we cannot see it.
 *
 * The creation country is the one of the session's start events (the login and `session_created`, one request),
 * looked up as far back as a session lives (`sessionDays`, the session kit's absolute lifetime). Not judged: sessions
 * started longer ago, or without a located start event, or started through a trusted network (its exit says nothing
 * about where the person was). Ignored: use through a trusted network, and use from another country through the
 * same network (`source.as.number`) the session started on (one carrier or VPN whose exits are geolocated apart).
 * One alert per session and day (realert).
 *
 * Sessions seen in more than one country come first (the only ones that can be findings), so `maxSessions` bounds
 * the work, not the detection, unless that many sessions changed country at once.
 */
export function createSessionCountryChangeRule(options?: LocationRuleOptions): Rule<SessionCountryParams> {
  const trusted = trustedAsNumbers(options);
  return {
    id: 'session_country_change',
    name: 'Session used from another country',
    description: 'A session was used from a different country than the one it was created in: its cookie was probably stolen.',
    severity: 'high',
    technique: { id: 'T1550', name: 'Use Alternate Authentication Material', subtechnique: { id: 'T1550.004', name: 'Web Session Cookie' } },
    tactic: { id: 'TA0005', name: 'Defense Evasion' },
    defaults: { windowMs: 15 * MINUTE, sessionDays: 7, maxSessions: 1000 },
    realertMs: DAY,
    // Round one: per session only what says whether it can be a finding (seen in two countries, used in the window);
    // round two: the evidence, for those sessions only. One round with every sub-aggregation for every session of
    // the week took 3.7 s over a day of a million events.
    queries: (window, p, ctx) => [{
      index: ctx.eventsIndex,
      body: searchBody(scope(window, p), { sessions: movingEntities('sentinel.session_id', 'source.geo.country_iso_code', p.maxSessions, window) }),
    }],
    refine: ([first], window, p, ctx) => {
      const candidates = movedAndActive(first, 'sessions');
      return [{
        index: ctx.eventsIndex,
        body: searchBody([...scope(window, p), { terms: { 'sentinel.session_id': candidates } }], {
          sessions: {
            terms: { field: 'sentinel.session_id', size: Math.max(1, candidates.length) },
            aggs: {
              countries: { cardinality: { field: 'source.geo.country_iso_code', precision_threshold: 100 } },
              start: {
                filter: actions(SESSION_START),
                aggs: { countries: { terms: { field: 'source.geo.country_iso_code', size: 3 } }, users: { terms: { field: 'user.name', size: 3 } }, ...WHERE },
              },
              used: {
                filter: { bool: { filter: [range(window)], must_not: fromTrustedNetworks(trusted) } },
                aggs: { countries: { terms: { field: 'source.geo.country_iso_code', size: 10 }, aggs: { actions: { terms: { field: 'event.action', size: 10 } }, ...WHERE } } },
              },
            },
          },
        }),
      }];
    },
    // The evidence round's answer is the last (a single answer in unit tests).
    evaluate: (responses) => buckets(responses.at(-1), 'sessions').flatMap((session): Finding[] => {
      if (value(session, 'countries') < 2 || docCount(session, 'used') === 0) return [];
      const home = keys(session, 'start.countries')[0];
      if (!home) return [];
      const startNetworks = keys(session, 'start.networks').map(Number);
      // The login and session_created come from one request: one address, one network.
      const homeAs = startNetworks.length === 1 && startNetworks[0] !== UNKNOWN_AS ? startNetworks[0] : undefined;
      if (startNetworks.some((n) => trusted.includes(n))) return [];
      const foreign = buckets({ aggregations: session }, 'used.countries').filter((country) => {
        if (String(country.key) === home) return false;
        const networks = keys(country, 'networks').map(Number);
        return !(homeAs !== undefined && networks.every((n) => n === homeAs));
      });
      if (foreign.length === 0) return [];
      const user = keys(session, 'start.users')[0];
      const times = foreign.flatMap((c) => [isoOf(c, 'first_seen'), isoOf(c, 'last_seen')]).filter((t): t is string => t !== undefined).sort();
      const start = (session as Record<string, unknown>).start;
      return [{
        entityType: 'session',
        entity: String(session.key),
        summary: `A session of "${user ?? 'unknown'}" created in ${placeOfBucket(home, start)} was used from ${foreign.map((c) => placeOfBucket(String(c.key), c)).join(' and ')}`,
        count: foreign.reduce((n, c) => n + c.doc_count, 0),
        firstSeen: times[0],
        lastSeen: times.at(-1),
        users: user ? [user] : [],
        sources: [...new Set(foreign.flatMap((c) => keys(c, 'addresses')))],
        details: {
          created_at: isoOf(start, 'first_seen'),
          created_country: home,
          ...(keys(start, 'addresses').length ? { created_ip: keys(start, 'addresses')[0] } : {}),
          ...(homeAs !== undefined ? { created_as_number: homeAs } : {}),
          countries: foreign.map((c) => String(c.key)),
          networks: [...new Set(foreign.flatMap((c) => keys(c, 'networks').map(Number)))].filter((n) => n !== UNKNOWN_AS),
          actions: [...new Set(foreign.flatMap((c) => keys(c, 'actions')))],
        },
      }];
    }),
  };
}

export const sessionCountryChange = createSessionCountryChangeRule();
