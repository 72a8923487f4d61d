import { distanceKm, MAX_DISTANCE_KM, parseGeoPoint, type GeoPoint } from './geo-distance.js';
import { LOGIN_SOURCE_FIELDS, LOGIN_SUCCESS, actions, buckets, docCount, exists, hitSources, isoOf, keys, movedAndActive, movingEntities, placeOf, range, recentUsers, searchBody, value, type LoginSource, type TermsBucket } from './query.js';
import { fromTrustedNetworks, trustedAsNumbers, type LocationRuleOptions } from './trusted-networks.js';
import type { Finding, Rule, Window } from './types.js';

/**
 * Where successful logins come from (docs/anomaly-detection.md#locations-and-devices): a country new for the user,
 * and two logins too far apart for the time between them. Both read `source.geo.*` and `source.as.*`, filled in by
 * the enrichment; events without them are left out, so a deployment without geolocation gets no alerts, not noise.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** `source.as.number` of a login without one. AS 0 is reserved (RFC 7607): it never names a real network. */
const NO_AS = 0;
/** The longest look back for a previous login, whatever the speed threshold: bounds the search. */
const MAX_TRAVEL_LOOKBACK_MS = 2 * DAY;

type Params<K extends string> = { windowMs: number } & Record<K, number>;
export type NewCountryParams = Params<'baselineDays' | 'maxUsers'>;
export type ImpossibleTravelParams = Params<'maxSpeedKmh' | 'minDistanceKm' | 'maxUsers' | 'maxLogins'>;

const VALID_ACCOUNTS = { technique: { id: 'T1078', name: 'Valid Accounts' }, tactic: { id: 'TA0001', name: 'Initial Access' } };

/**
 * A successful login from a country this user has not logged in from in the previous `baselineDays`. Users without
 * any located login in the baseline are not judged (everything would be new). One alert per user and new country:
 * its id is fixed by the first login from there, and once that login leaves the window it is part of the baseline.
 */
export function createNewCountryRule(options?: LocationRuleOptions): Rule<NewCountryParams> {
  const trusted = trustedAsNumbers(options);
  return {
    id: 'new_country_for_user',
    name: 'Login from a new country',
    description: 'A successful login from a country this user has not logged in from in the previous days.',
    severity: 'medium',
    ...VALID_ACCOUNTS,
    defaults: { windowMs: 15 * MINUTE, baselineDays: 30, maxUsers: 2000 },
    // Round one: the users with a located login in the window (a login through a trusted network says nothing about
    // where the person is); round two: their window and their baseline. One round read the baseline of every user
    // of the last 30 days to keep those of the window.
    queries: (window, p, ctx) => [{
      index: ctx.eventsIndex,
      body: searchBody([range(window), actions(LOGIN_SUCCESS), exists('source.geo.country_iso_code')], {
        users: { terms: { field: 'user.name', size: p.maxUsers, order: { last_seen: 'desc' } }, aggs: { last_seen: { max: { field: '@timestamp' } } } },
      }, fromTrustedNetworks(trusted)),
    }],
    refine: ([first], window, p, ctx) => {
      const baseline = { start: new Date(window.start.getTime() - p.baselineDays * DAY), end: window.start };
      const candidates = buckets(first, 'users').map((user) => String(user.key));
      return [{
        index: ctx.eventsIndex,
        body: searchBody([range({ start: baseline.start, end: window.end }), actions(LOGIN_SUCCESS), exists('source.geo.country_iso_code'), { terms: { 'user.name': candidates } }], {
          users: recentUsers(Math.max(1, candidates.length), {
            // A login through a trusted network says nothing about where the person is; in the baseline it is harmless.
            recent: {
              filter: { bool: { filter: [range(window)], must_not: fromTrustedNetworks(trusted) } },
              aggs: {
                countries: {
                  terms: { field: 'source.geo.country_iso_code', size: 20 },
                  aggs: {
                    first: { top_hits: { size: 1, sort: [{ '@timestamp': 'asc' }], _source: LOGIN_SOURCE_FIELDS } },
                    last_seen: { max: { field: '@timestamp' } },
                  },
                },
              },
            },
            baseline: { filter: range(baseline), aggs: { countries: { terms: { field: 'source.geo.country_iso_code', size: 300 } } } },
          }),
        }),
      }];
    },
    // The evidence round's answer is the last (a single answer in unit tests).
    evaluate: (responses, _window, p) => buckets(responses.at(-1), 'users').flatMap((user): Finding[] => {
      if (docCount(user, 'baseline') === 0) return [];
      const known = keys(user, 'baseline.countries');
      return buckets({ aggregations: user }, 'recent.countries').flatMap((country): Finding[] => {
        if (known.includes(String(country.key))) return [];
        const [first] = hitSources<LoginSource>(country, 'first');
        if (!first?.event?.id) return [];
        return [{
          entityType: 'user',
          entity: String(user.key),
          summary: `"${user.key}" logged in from ${placeOf(first.source)}, a country not seen for them in ${p.baselineDays} days`,
          count: country.doc_count,
          eventId: first.event.id,
          firstSeen: first['@timestamp'],
          lastSeen: isoOf(country, 'last_seen'),
          sources: first.source?.ip ? [first.source.ip] : [],
          details: {
            country: String(country.key),
            ...(first.source?.geo?.country_name ? { country_name: first.source.geo.country_name } : {}),
            ...(first.source?.geo?.city_name ? { city: first.source.geo.city_name } : {}),
            ...(first.source?.as?.number ? { as_number: first.source.as.number } : {}),
            known_countries: known,
          },
        }];
      });
    }),
  };
}

/** Located, city-level successful logins of the window and the lookback before it. */
function travelScope(window: Window, p: ImpossibleTravelParams): unknown[] {
  const start = new Date(window.start.getTime() - travelLookbackMs(p.maxSpeedKmh));
  return [range({ start, end: window.end }), actions(LOGIN_SUCCESS), exists('source.geo.location'), exists('source.geo.city_name')];
}

/** How far back a previous login can still make an impossible pair: half the globe at the speed threshold. */
export function travelLookbackMs(maxSpeedKmh: number): number {
  return Math.min(MAX_TRAVEL_LOOKBACK_MS, Math.ceil((MAX_DISTANCE_KM / Math.max(1, maxSpeedKmh)) * HOUR));
}

interface Located {
  at: number;
  point: GeoPoint;
  login: LoginSource;
  /** The user's addresses in that place and network (a login's own address is not kept per login). */
  addresses: string[];
}

/**
 * Two consecutive successful logins of one user whose distance over the time between them needs a speed no
 * traveller reaches. The false positives of the textbook rule are mobile carriers and VPN exits:
 *
 * - only city-level locations take part (`source.geo.city_name` set): an address geolocated to a country only sits
 *   at the country's centroid, hundreds of kilometres from the person (mobile networks often are);
 * - a pair through the same network (`source.as.number`) on both sides is one carrier or one VPN provider whose
 *   exits are geolocated apart, not a journey;
 * - logins through a trusted network (the company VPN, `trustedAsNumbers`) are left out of the sequence;
 * - pairs closer than `minDistanceKm` are below what IP geolocation can tell apart.
 *
 * Pairs are consecutive in time order over the window plus a lookback, so a pair that spans two windows is judged in
 * the window of its later login, and only there. One alert per pair, its id fixed by the later login: re-runs and
 * overlapping windows never repeat it.
 *
 * The search fetches no document per login (a user's logins over a day would be thousands of documents): per user,
 * place and network, the time of the last login before the window, the ids and times of the window's logins (up to
 * `maxLogins`, the newest) and the addresses, and one document per place for its coordinates.
 */
export function createImpossibleTravelRule(options?: LocationRuleOptions): Rule<ImpossibleTravelParams> {
  const trusted = trustedAsNumbers(options);
  return {
    id: 'impossible_travel',
    name: 'Impossible travel',
    description: 'Two successful logins of one user whose distance over the time between them is not humanly possible.',
    severity: 'high',
    ...VALID_ACCOUNTS,
    defaults: { windowMs: 15 * MINUTE, maxSpeedKmh: 1000, minDistanceKm: 500, maxUsers: 500, maxLogins: 20 },
    // Round one: per user only what says whether they can have travelled (two cities, a login in the window); round
    // two: the places and logins of those users only. One round with every sub-aggregation for every user took
    // 3.7 s over a day of a million events.
    queries: (window, p, ctx) => [{
      index: ctx.eventsIndex,
      // Users seen in one city only cannot have travelled: they come last, and are the ones `maxUsers` cuts.
      body: searchBody(travelScope(window, p), { users: movingEntities('user.name', 'source.geo.city_name', p.maxUsers, window) }, fromTrustedNetworks(trusted)),
    }],
    refine: ([first], window, p, ctx) => {
      const candidates = movedAndActive(first, 'users');
      const start = new Date(window.start.getTime() - travelLookbackMs(p.maxSpeedKmh));
      return [{
        index: ctx.eventsIndex,
        body: searchBody([...travelScope(window, p), { terms: { 'user.name': candidates } }], {
          users: {
            terms: { field: 'user.name', size: Math.max(1, candidates.length) },
            aggs: {
              recent: { filter: range(window) },
              countries: {
                terms: { field: 'source.geo.country_iso_code', size: 10 },
                aggs: {
                  cities: {
                    terms: { field: 'source.geo.city_name', size: 10 },
                    aggs: {
                      point: { top_hits: { size: 1, _source: ['source.geo.location', 'source.geo.country_name'] } },
                      networks: {
                        terms: { field: 'source.as.number', size: 5, missing: NO_AS },
                        aggs: {
                          org: { terms: { field: 'source.as.organization.name', size: 1 } },
                          addresses: { terms: { field: 'source.ip', size: 3 } },
                          // Before the window only the last login from here matters: it may precede the window's first.
                          before: { filter: range({ start, end: window.start }), aggs: { at: { max: { field: '@timestamp' } } } },
                          // In the window, each login by event id, its time a metric: one bucket per login.
                          window: {
                            filter: range(window),
                            aggs: { logins: { terms: { field: 'event.id', size: Math.max(1, p.maxLogins), order: { at: 'desc' }, execution_hint: 'map' }, aggs: { at: { max: { field: '@timestamp' } } } } },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        }, fromTrustedNetworks(trusted)),
      }];
    },
    // The evidence round's answer is the last (a single answer in unit tests).
    evaluate: (responses, window, p) => buckets(responses.at(-1), 'users').flatMap((user): Finding[] => {
      if (docCount(user, 'recent') === 0) return [];
      const logins = loginsOf(user).sort((a, b) => a.at - b.at || String(a.login.event?.id).localeCompare(String(b.login.event?.id)));
      const findings: Finding[] = [];
      for (let i = 1; i < logins.length; i += 1) {
        const finding = judgePair(String(user.key), logins[i - 1]!, logins[i]!, window, p);
        if (finding) findings.push(finding);
      }
      return findings;
    }),
  };
}

/**
 * The logins of one user bucket, each with its place, network and coordinates: every login of the window, and from
 * before it, the last one per place and network (without an event id: it is only ever the first of a pair).
 */
function loginsOf(user: TermsBucket): Located[] {
  return buckets({ aggregations: user }, 'countries').flatMap((country) => buckets({ aggregations: country }, 'cities').flatMap((city) => {
    const [located] = hitSources<LoginSource>(city, 'point');
    const point = parseGeoPoint(located?.source?.geo?.location);
    if (!point) return [];
    const geo = { country_iso_code: String(country.key), country_name: located?.source?.geo?.country_name, city_name: String(city.key) };
    return buckets({ aggregations: city }, 'networks').flatMap((network) => {
      const as = Number(network.key) === NO_AS ? undefined : { number: Number(network.key), organization: { name: keys(network, 'org')[0] } };
      const addresses = keys(network, 'addresses');
      const login = (at: number, id?: string): Located => ({ at, point, addresses, login: { '@timestamp': new Date(at).toISOString(), ...(id ? { event: { id } } : {}), source: { geo, as } } });
      const before = value(network, 'before.at');
      return [
        ...(before ? [login(before)] : []),
        ...buckets({ aggregations: network }, 'window.logins').flatMap((l) => (value(l, 'at') ? [login(value(l, 'at'), String(l.key))] : [])),
      ];
    });
  }));
}

function judgePair(user: string, from: Located, to: Located, window: Window, p: ImpossibleTravelParams): Finding | undefined {
  // Judged in the window of the later login only: earlier windows judged the pairs before it.
  if (to.at < window.start.getTime() || to.at >= window.end.getTime() || !to.login.event?.id) return undefined;
  const fromAs = from.login.source?.as?.number;
  if (fromAs !== undefined && fromAs === to.login.source?.as?.number) return undefined;
  const km = distanceKm(from.point, to.point);
  if (km < p.minDistanceKm) return undefined;
  // Two logins in the same second still took some time: one second keeps the speed finite.
  const hours = Math.max(1000, to.at - from.at) / HOUR;
  const speed = km / hours;
  if (speed <= p.maxSpeedKmh) return undefined;
  const side = (l: Located): Record<string, unknown> => ({
    at: l.login['@timestamp'],
    addresses: l.addresses,
    ...(l.login.source?.geo?.country_iso_code ? { country: l.login.source.geo.country_iso_code } : {}),
    ...(l.login.source?.geo?.city_name ? { city: l.login.source.geo.city_name } : {}),
    ...(l.login.source?.as?.number ? { as_number: l.login.source.as.number } : {}),
  });
  const minutes = Math.round((to.at - from.at) / MINUTE);
  return {
    entityType: 'user',
    entity: user,
    summary: `"${user}" logged in from ${placeOf(to.login.source)} ${minutes} min after ${placeOf(from.login.source)}: ${Math.round(km)} km, ${Math.round(speed)} km/h`,
    count: 1,
    eventId: to.login.event!.id!,
    firstSeen: to.login['@timestamp'],
    lastSeen: to.login['@timestamp'],
    sources: [...new Set([...from.addresses, ...to.addresses])],
    details: { from: side(from), to: side(to), distance_km: Math.round(km), minutes, speed_kmh: Math.round(speed) },
  };
}

export const newCountryForUser = createNewCountryRule();
export const impossibleTravel = createImpossibleTravelRule();
