/**
 * The location and device rules as pure functions: `evaluate` on hand-written aggregation responses at the edges of
 * each threshold, the searches `queries` builds (look-backs, trusted networks), and the options of their factories.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newDeviceForUser } from '../../src/anomaly/rules/devices.js';
import { MAX_DISTANCE_KM } from '../../src/anomaly/rules/geo-distance.js';
import { createRuleSet, RULES } from '../../src/anomaly/rules/index.js';
import { createImpossibleTravelRule, createNewCountryRule, impossibleTravel, newCountryForUser, travelLookbackMs } from '../../src/anomaly/rules/locations.js';
import { createSessionCountryChangeRule, sessionCountryChange } from '../../src/anomaly/rules/session-locations.js';
import type { Finding, Rule, Window } from '../../src/anomaly/rules/types.js';
import { ConfigurationError } from '../../src/errors.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const END = Date.UTC(2026, 10, 20, 11, 55);
const windowOf = (rule: Pick<Rule, 'defaults'>): Window => ({ start: new Date(END - rule.defaults.windowMs), end: new Date(END) });
const iso = (ms: number): string => new Date(ms).toISOString();

const terms = (...buckets: unknown[]): { buckets: unknown[] } => ({ buckets });
const hits = (...sources: unknown[]): { hits: { hits: Array<{ _source: unknown }> } } => ({ hits: { hits: sources.map((_source) => ({ _source })) } });
const response = (aggregations: Record<string, unknown>): unknown => ({ took: 1, timed_out: false, hits: { hits: [] }, aggregations });

function evaluate<P extends { windowMs: number }>(rule: Rule<P>, responses: unknown[], params: Partial<P> = {}): Finding[] {
  return rule.evaluate(responses, windowOf(rule), { ...rule.defaults, ...params });
}

interface Spot { city?: string; country: string; lat: number; lon: number; as?: number; ip: string }
const PARIS: Spot = { city: 'Paris', country: 'FR', lat: 48.8566, lon: 2.3522, as: 64496, ip: '192.0.2.10' };
const LONDON: Spot = { city: 'London', country: 'GB', lat: 51.5074, lon: -0.1278, as: 64502, ip: '192.0.2.30' };
const NEW_YORK: Spot = { city: 'New York', country: 'US', lat: 40.7128, lon: -74.006, as: 64503, ip: '192.0.2.40' };

/** A login's _source as the rules ask for it. */
function loginAt(id: string, at: number, spot: Spot, location: unknown = { lat: spot.lat, lon: spot.lon }): Record<string, unknown> {
  return {
    '@timestamp': iso(at), event: { id }, user: { name: 'bob' },
    source: { ip: spot.ip, geo: { country_iso_code: spot.country, ...(spot.city ? { city_name: spot.city } : {}), location }, ...(spot.as ? { as: { number: spot.as } } : {}) },
  };
}

describe('new_country_for_user.evaluate', () => {
  const user = (key: string, baseline: string[], recent: Array<[string, number, string]>) => ({
    key, doc_count: 1,
    baseline: { doc_count: baseline.length, countries: terms(...baseline.map((c) => ({ key: c, doc_count: 1 }))) },
    recent: { doc_count: recent.length, countries: terms(...recent.map(([c, n, id]) => ({ key: c, doc_count: n, first: hits(loginAt(id, END - 5 * MINUTE, { ...PARIS, country: c })), last_seen: { value: END - MINUTE } }))) },
  });

  it('reports each new country of a known user once, fixed by its first login', () => {
    const findings = evaluate(newCountryForUser, [response({ users: terms(user('alice', ['FR', 'DE'], [['FR', 3, 'e1'], ['AU', 2, 'e2'], ['US', 1, 'e3']])) })]);
    assert.deepEqual(findings.map((f) => [f.entity, f.entityType, f.eventId, f.count, f.details?.country, f.details?.known_countries]), [
      ['alice', 'user', 'e2', 2, 'AU', ['FR', 'DE']], ['alice', 'user', 'e3', 1, 'US', ['FR', 'DE']],
    ]);
    assert.equal(findings[0]!.firstSeen, iso(END - 5 * MINUTE));
    assert.equal(findings[0]!.lastSeen, iso(END - MINUTE));
  });

  it('does not judge a user without a located login in the baseline, nor a country without its first login', () => {
    assert.deepEqual(evaluate(newCountryForUser, [response({ users: terms(user('newbie', [], [['AU', 1, 'e4']])) })]), []);
    const broken = user('alice', ['FR'], [['AU', 1, 'e5']]);
    (broken.recent.countries.buckets[0] as { first: unknown }).first = hits();
    assert.deepEqual(evaluate(newCountryForUser, [response({ users: terms(broken) })]), []);
    assert.deepEqual(evaluate(newCountryForUser, [undefined]), []);
  });

  it('finds the users of the window first, then reads the baseline of those only; trusted networks out of the window only', () => {
    const w = windowOf(newCountryForUser);
    const rule = createNewCountryRule({ trustedAsNumbers: [64500, 64499, 64500] });
    const [first] = rule.queries(w, newCountryForUser.defaults, { eventsIndex: 'p-events-*' });
    const round1 = JSON.stringify(first!.body);
    assert.ok(round1.includes(`"gte":"${iso(END - 15 * MINUTE)}","lt":"${iso(END)}"`), 'round one: the window only');
    assert.ok(!round1.includes(iso(END - 15 * MINUTE - 30 * DAY)));
    assert.ok(round1.includes('"must_not":[{"terms":{"source.as.number":[64499,64500]}}]'), round1);
    const users = [{ key: 'alice', doc_count: 2 }, { key: 'bob', doc_count: 1 }];
    const [second] = rule.refine!([{ aggregations: { users: { buckets: users } } }], w, newCountryForUser.defaults, { eventsIndex: 'p-events-*' });
    const body = JSON.stringify(second!.body);
    assert.ok(body.includes(`"gte":"${iso(END - 15 * MINUTE - 30 * DAY)}","lt":"${iso(END)}"`), 'round two: window plus 30 days');
    assert.ok(body.includes('{"terms":{"user.name":["alice","bob"]}}'), body);
    assert.ok(body.includes('"order":{"last_seen":"desc"}'));
    assert.ok(body.includes('"must_not":[{"terms":{"source.as.number":[64499,64500]}}]'), 'out of the window\'s logins, not of the baseline');
    assert.doesNotMatch(JSON.stringify(newCountryForUser.queries(w, newCountryForUser.defaults, { eventsIndex: 'p' })), /"terms":\{"source\.as\.number"/, 'no trusted networks, no filter');
  });
});

describe('impossible_travel.evaluate', () => {
  type Login = ReturnType<typeof loginAt> & { source: { ip: string; geo: { country_iso_code: string; city_name: string; location: unknown }; as?: { number: number } } };
  /**
   * The user bucket the search returns: per country, city and network, the addresses, the last login before the
   * window, and the window's logins by event id.
   */
  function user(key: string, list: unknown[], recent: number): unknown {
    const logins = list as Login[];
    const group = <T>(items: T[], by: (item: T) => string): Array<[string, T[]]> => {
      const groups = new Map<string, T[]>();
      for (const item of items) groups.set(by(item), [...(groups.get(by(item)) ?? []), item]);
      return [...groups];
    };
    return {
      key, doc_count: logins.length, recent: { doc_count: recent },
      countries: terms(...group(logins, (l) => l.source.geo.country_iso_code).map(([country, inCountry]) => ({
        key: country, doc_count: inCountry.length,
        cities: terms(...group(inCountry, (l) => l.source.geo.city_name).map(([city, inCity]) => ({
          key: city, doc_count: inCity.length,
          point: hits({ source: { geo: { location: inCity[0]!.source.geo.location, country_name: `${country} name` } } }),
          networks: terms(...group(inCity, (l) => String(l.source.as?.number ?? 0)).map(([as, inNetwork]) => {
            const at = (l: Login): number => Date.parse(l['@timestamp'] as string);
            const before = inNetwork.filter((l) => at(l) < WINDOW_START);
            const inWindow = inNetwork.filter((l) => at(l) >= WINDOW_START);
            return {
              key: Number(as), doc_count: inNetwork.length, org: terms(),
              addresses: terms(...[...new Set(inNetwork.map((l) => l.source.ip))].map((ip) => ({ key: ip, doc_count: 1 }))),
              before: { doc_count: before.length, at: { value: before.length ? Math.max(...before.map(at)) : null } },
              window: { doc_count: inWindow.length, logins: terms(...inWindow.map((l) => ({ key: (l.event as { id: string }).id, doc_count: 1, at: { value: at(l) } }))) },
            };
          })),
        }))),
      }))),
    };
  }
  const WINDOW_START = windowOf(impossibleTravel).start.getTime();
  const run = (logins: unknown[], params: Record<string, number> = {}, recent = 1): Finding[] =>
    evaluate(impossibleTravel, [response({ users: terms(user('bob', logins, recent)) })], params);

  it('fires at just over the speed limit and not at it: Paris-London (344 km) needs a 500 km floor lowered to show it', () => {
    // 343.6 km: at 1000 km/h that is 20.6 minutes.
    const pair = (minutes: number) => [loginAt('a', END - 10 * MINUTE - minutes * MINUTE, PARIS), loginAt('b', END - 10 * MINUTE, LONDON)];
    assert.deepEqual(run(pair(20), { minDistanceKm: 300 }).map((f) => f.eventId), ['b']);
    assert.deepEqual(run(pair(21), { minDistanceKm: 300 }), []);
    assert.deepEqual(run(pair(20)), [], 'under the 500 km floor by default');
  });

  it('reports the later login of the pair, with distance, minutes and speed', () => {
    const [finding, ...rest] = run([loginAt('a', END - 70 * MINUTE, PARIS), loginAt('b', END - 10 * MINUTE, NEW_YORK)]);
    assert.deepEqual(rest, []);
    assert.equal(finding!.eventId, 'b');
    assert.equal(finding!.firstSeen, iso(END - 10 * MINUTE));
    assert.deepEqual(finding!.sources, [PARIS.ip, NEW_YORK.ip]);
    assert.deepEqual(finding!.details, {
      from: { at: iso(END - 70 * MINUTE), addresses: [PARIS.ip], country: 'FR', city: 'Paris', as_number: 64496 },
      to: { at: iso(END - 10 * MINUTE), addresses: [NEW_YORK.ip], country: 'US', city: 'New York', as_number: 64503 },
      distance_km: 5837, minutes: 60, speed_kmh: 5837,
    });
  });

  it('pairs consecutive logins in time order, whatever order the buckets come in, and judges only pairs ending in the window', () => {
    const logins = [
      loginAt('p1', END - 5 * HOUR, PARIS), loginAt('n1', END - 4 * HOUR, NEW_YORK), // impossible, but judged by an earlier window
      loginAt('n2', END - 20 * MINUTE, NEW_YORK), loginAt('p2', END - 12 * MINUTE, PARIS), // the last before the window, then the window's first: fires
      loginAt('p3', END - 3 * MINUTE, PARIS),
    ];
    const shuffled = [logins[3], logins[0], logins[4], logins[2], logins[1]];
    assert.deepEqual(run(shuffled).map((f) => f.eventId), ['p2']);
  });

  it('keeps the speed finite for two logins in the same second', () => {
    const [finding] = run([loginAt('a', END - 5 * MINUTE, PARIS), loginAt('b', END - 5 * MINUTE, NEW_YORK)]);
    assert.equal(finding!.details?.minutes, 0);
    assert.ok(Number.isFinite(finding!.details?.speed_kmh as number) && (finding!.details?.speed_kmh as number) > 1_000_000);
  });

  it('ignores one network on both sides, unreadable locations, and users without a login in the window', () => {
    assert.deepEqual(run([loginAt('a', END - 30 * MINUTE, PARIS), loginAt('b', END - 10 * MINUTE, { ...NEW_YORK, as: PARIS.as })]), []);
    assert.deepEqual(run([loginAt('a', END - 30 * MINUTE, PARIS), loginAt('b', END - 10 * MINUTE, NEW_YORK, 'somewhere')]), []);
    assert.deepEqual(run([loginAt('a', END - 30 * MINUTE, PARIS), loginAt('b', END - 10 * MINUTE, NEW_YORK)], {}, 0), []);
    // Without an AS on either side, the networks are unknown, not the same.
    const noAs = (spot: Spot): Spot => ({ ...spot, as: undefined });
    assert.equal(run([loginAt('a', END - 30 * MINUTE, noAs(PARIS)), loginAt('b', END - 10 * MINUTE, noAs(NEW_YORK))]).length, 1);
  });

  it('looks back as far as half the globe takes at the speed limit, within two days', () => {
    assert.equal(travelLookbackMs(1000), Math.ceil((MAX_DISTANCE_KM / 1000) * HOUR));
    assert.ok(Math.abs(travelLookbackMs(1000) - 20.015 * HOUR) < 0.001 * HOUR);
    assert.equal(travelLookbackMs(100), 2 * DAY);
    assert.equal(travelLookbackMs(0), 2 * DAY);
    const w = windowOf(impossibleTravel);
    const rule = createImpossibleTravelRule({ trustedAsNumbers: [64500] });
    const params = { ...impossibleTravel.defaults, maxLogins: 500 };
    const [first] = rule.queries(w, params, { eventsIndex: 'p' });
    const round1 = JSON.stringify(first!.body);
    const lookback = `"gte":"${iso(w.start.getTime() - travelLookbackMs(1000))}"`;
    assert.ok(round1.includes(lookback), round1);
    assert.ok(round1.includes('"order":[{"places":"desc"},{"last_seen":"desc"}]') && round1.includes('"places":{"cardinality":{"field":"source.geo.city_name"'), 'users seen in several cities first');
    assert.doesNotMatch(round1, /top_hits|event\.id/, 'round one reads no place and no login');
    // Round two: only users seen in two cities with a login in the window.
    const users = [
      { key: 'bob', doc_count: 3, places: { value: 2 }, active: { doc_count: 1 } },
      { key: 'carol', doc_count: 5, places: { value: 1 }, active: { doc_count: 2 } },
      { key: 'dave', doc_count: 4, places: { value: 3 }, active: { doc_count: 0 } },
    ];
    const [second] = rule.refine!([{ aggregations: { users: { buckets: users } } }], w, params, { eventsIndex: 'p' });
    const body = JSON.stringify(second!.body);
    assert.ok(body.includes('{"terms":{"user.name":["bob"]}}'), body);
    assert.ok(body.includes(lookback));
    assert.ok(body.includes('"terms":{"field":"event.id","size":500,"order":{"at":"desc"},"execution_hint":"map"}'), 'the window\'s logins by id, not documents');
    assert.ok(body.includes(`"before":{"filter":{"range":{"@timestamp":{"gte":"${iso(w.start.getTime() - travelLookbackMs(1000))}","lt":"${w.start.toISOString()}"`), 'before the window, the last login time only');
    assert.ok(body.includes('"point":{"top_hits":{"size":1,'), 'one document per place, for its coordinates');
    for (const b of [round1, body]) {
      assert.ok(b.includes('{"exists":{"field":"source.geo.city_name"}}'), 'country-level locations are left out');
      assert.ok(b.includes('"must_not":[{"terms":{"source.as.number":[64500]}}]'));
    }
  });
});

describe('new_device_for_user.evaluate', () => {
  type Dev = [browser: string, os: string, device: string];
  const tree = (devices: Array<Dev & { length: 3 }>, leaf: (d: Dev) => Record<string, unknown> = () => ({})) => {
    const browsers = new Map<string, Map<string, Dev[]>>();
    for (const d of devices) {
      const systems = browsers.get(d[0]) ?? new Map<string, Dev[]>();
      systems.set(d[1], [...(systems.get(d[1]) ?? []), d]);
      browsers.set(d[0], systems);
    }
    return {
      doc_count: devices.length,
      browsers: terms(...[...browsers].map(([b, systems]) => ({
        key: b, doc_count: 1,
        systems: terms(...[...systems].map(([s, list]) => ({ key: s, doc_count: 1, devices: terms(...list.map((d) => ({ key: d[2], doc_count: 2, ...leaf(d) }))) }))),
      }))),
    };
  };
  const unrecognised = (n: number) => (d: Dev) => ({ unrecognised: { doc_count: n, first: hits({ '@timestamp': iso(END - 6 * MINUTE), event: { id: `e-${d.join('-')}` }, source: { ip: '192.0.2.10' } }) }, last_seen: { value: END - 2 * MINUTE } });
  const user = (baseline: Dev[], recent: Dev[], n = 1) => response({ users: terms({ key: 'alice', doc_count: 3, baseline: tree(baseline), recent: tree(recent, unrecognised(n)) }) });
  const LINUX_FIREFOX: Dev = ['Firefox', 'Linux', '-'];

  it('reports a new browser, OS or device, labelled for people, fixed by its first unrecognised login', () => {
    const findings = evaluate(newDeviceForUser, [user([LINUX_FIREFOX, ['Mobile Safari', 'iOS', 'iPhone']], [LINUX_FIREFOX, ['Chrome', 'Linux', '-'], ['Firefox', 'Windows', '-'], ['Mobile Safari', 'iOS', 'iPad']])]);
    assert.deepEqual(findings.map((f) => [f.details?.device, f.eventId]).sort(), [
      ['Chrome on Linux', 'e-Chrome-Linux--'], ['Firefox on Windows', 'e-Firefox-Windows--'], ['Mobile Safari on iOS (iPad)', 'e-Mobile Safari-iOS-iPad'],
    ]);
    const chrome = findings.find((f) => f.details?.device === 'Chrome on Linux')!;
    assert.deepEqual(chrome.details, { device: 'Chrome on Linux', browser: 'Chrome', os: 'Linux', unrecognised_logins: 1, known_devices: ['Firefox on Linux', 'Mobile Safari on iOS (iPhone)'] });
    assert.equal(findings.find((f) => f.details?.device === 'Mobile Safari on iOS (iPad)')!.details?.device_name, 'iPad');
    assert.equal(chrome.entity, 'alice');
    assert.equal(chrome.count, 2);
    assert.equal(chrome.firstSeen, iso(END - 6 * MINUTE));
    assert.equal(chrome.lastSeen, iso(END - 2 * MINUTE));
  });

  it('is quiet when every login from the new device carried a recognised device cookie, and for users without a baseline', () => {
    assert.deepEqual(evaluate(newDeviceForUser, [user([LINUX_FIREFOX], [['Chrome', 'Windows', '-']], 0)]), []);
    assert.deepEqual(evaluate(newDeviceForUser, [user([], [['Chrome', 'Windows', '-']])]), []);
  });

  it('keys devices on names only: the query never reads a version or the raw User-Agent', () => {
    const body = JSON.stringify(newDeviceForUser.queries(windowOf(newDeviceForUser), newDeviceForUser.defaults, { eventsIndex: 'p' }));
    assert.doesNotMatch(body, /version|user_agent\.original/);
    assert.ok(body.includes('{"term":{"sentinel.known_device":true}}'));
  });
});

describe('session_country_change.evaluate', () => {
  const where = (networks: number[], ips: string[], first: number, last: number) => ({
    networks: terms(...networks.map((n) => ({ key: n, doc_count: 1 }))),
    addresses: terms(...ips.map((ip) => ({ key: ip, doc_count: 1 }))),
    cities: terms(), first_seen: { value: first }, last_seen: { value: last },
  });
  const start = (country: string, as = 0) => ({
    doc_count: 2, countries: terms({ key: country, doc_count: 2 }), users: terms({ key: 'alice', doc_count: 2 }), ...where([as], ['192.0.2.10'], END - 2 * DAY, END - 2 * DAY + 5),
  });
  const noStart = { doc_count: 0, countries: terms(), users: terms(), ...where([], [], 0, 0) };
  const used = (country: string, networks: number[], ips: string[], count = 2) => ({
    key: country, doc_count: count, actions: terms({ key: 'session_renewed', doc_count: count }), ...where(networks, ips, END - 9 * MINUTE, END - 3 * MINUTE),
  });
  const session = (key: string, begun: unknown, countries: Array<{ key: string }>, seen = 2) => ({
    key, doc_count: 3, countries: { value: seen }, start: begun, used: { doc_count: countries.length ? 2 : 0, countries: terms(...countries) },
  });
  const run = (rule: Rule, ...sessions: unknown[]): Finding[] => evaluate(rule, [response({ sessions: terms(...sessions) })]);

  it('reports a session used from another country and another network than it started on', () => {
    const [finding, ...rest] = run(sessionCountryChange, session('s1', start('FR', 64496), [used('FR', [64496], ['192.0.2.10']), used('AU', [64498, 0], ['203.0.113.50', '203.0.113.51'], 3)]));
    assert.deepEqual(rest, []);
    assert.deepEqual({ ...finding, summary: undefined }, {
      entityType: 'session', entity: 's1', summary: undefined, count: 3, firstSeen: iso(END - 9 * MINUTE), lastSeen: iso(END - 3 * MINUTE),
      users: ['alice'], sources: ['203.0.113.50', '203.0.113.51'],
      details: { created_at: iso(END - 2 * DAY), created_country: 'FR', created_ip: '192.0.2.10', created_as_number: 64496, countries: ['AU'], networks: [64498], actions: ['session_renewed'] },
    });
    assert.equal(finding!.summary, 'A session of "alice" created in FR (AS64496) was used from AU (AS64498)');
  });

  it('lets pass the same network in another country, a session started on a trusted network, and one with no start event', () => {
    assert.deepEqual(run(sessionCountryChange, session('s2', start('FR', 64501), [used('DE', [64501], ['198.51.100.100'])])), []);
    assert.equal(run(sessionCountryChange, session('s3', start('FR', 64501), [used('DE', [64501, 64497], ['198.51.100.100'])])).length, 1, 'a second network in the country counts');
    assert.equal(run(sessionCountryChange, session('s4', start('NL', 64500), [used('FR', [64496], ['192.0.2.10'])])).length, 1);
    assert.deepEqual(run(createSessionCountryChangeRule({ trustedAsNumbers: [64500] }), session('s4', start('NL', 64500), [used('FR', [64496], ['192.0.2.10'])])), []);
    assert.deepEqual(run(sessionCountryChange, session('s5', noStart, [used('AU', [64498], ['203.0.113.50'])])), []);
    // Unknown networks on both sides are not "the same network".
    assert.equal(run(sessionCountryChange, session('s6', start('FR'), [used('AU', [0], ['203.0.113.50'])])).length, 1);
  });

  it('stops at the sessions seen in one country only: they come last, and cannot have changed', () => {
    assert.deepEqual(run(sessionCountryChange, session('s7', start('FR', 64496), [used('FR', [64496], ['192.0.2.10'])], 1)), []);
    assert.deepEqual(run(sessionCountryChange, session('s8', start('FR', 64496), [], 2)), [], 'no use in the window');
  });

  it('reads start events as far back as a session lives, and only the window for use', () => {
    const w = windowOf(sessionCountryChange);
    const rule = createSessionCountryChangeRule({ trustedAsNumbers: [64500] });
    const [first] = rule.queries(w, sessionCountryChange.defaults, { eventsIndex: 'p' });
    const sessions = [
      { key: 's-two-countries', doc_count: 4, places: { value: 2 }, active: { doc_count: 1 } },
      { key: 's-one-country', doc_count: 9, places: { value: 1 }, active: { doc_count: 3 } },
      { key: 's-not-used', doc_count: 2, places: { value: 2 }, active: { doc_count: 0 } },
    ];
    const [second] = rule.refine!([{ aggregations: { sessions: { buckets: sessions } } }], w, sessionCountryChange.defaults, { eventsIndex: 'p' });
    const round1 = JSON.stringify(first!.body);
    const body = JSON.stringify(second!.body);
    assert.ok(round1.includes('"order":[{"places":"desc"},{"last_seen":"desc"}]') && round1.includes('"places":{"cardinality":{"field":"source.geo.country_iso_code"'), 'sessions seen in several countries first');
    assert.doesNotMatch(round1, /"start"|"networks"/, 'round one reads no evidence');
    assert.ok(body.includes('{"terms":{"sentinel.session_id":["s-two-countries"]}}'), body);
    for (const b of [round1, body]) {
      assert.ok(b.includes(`"gte":"${iso(w.start.getTime() - 7 * DAY)}","lt":"${iso(END)}"`));
      assert.ok(b.includes('"should":[{"range":{"@timestamp":{"gte":"' + w.start.toISOString()), 'outside the window only start events are read');
      assert.ok(b.includes('"event.action":["session_created","authn_login_success","authn_login_successafterfail"]'));
      assert.doesNotMatch(b, /top_hits/, 'no documents fetched per session');
    }
    assert.ok(body.includes('"must_not":[{"terms":{"source.as.number":[64500]}}]'), 'use through a trusted network is ignored');
  });
});

describe('trusted networks and the rule set', () => {
  it('refuses anything but AS numbers, naming the option', () => {
    for (const bad of [[0], [-1], [1.5], ['64500'], [4_294_967_296], 'all'] as unknown[]) {
      for (const make of [createImpossibleTravelRule, createNewCountryRule, createSessionCountryChangeRule, createRuleSet]) {
        assert.throws(() => make({ trustedAsNumbers: bad as number[] }), (error: unknown) => error instanceof ConfigurationError && error.code === 'config_invalid' && error.option === 'trustedAsNumbers', `${make.name} ${JSON.stringify(bad)}`);
      }
    }
    assert.doesNotThrow(() => createRuleSet({ trustedAsNumbers: [1, 4_294_967_295] }));
  });

  it('builds the same rules as RULES, the location rules told which networks to trust', () => {
    const rules = createRuleSet({ trustedAsNumbers: [64500] });
    assert.deepEqual(rules.map((r) => r.id), RULES.map((r) => r.id));
    const trusting = (id: string): string => {
      const rule = rules.find((r) => r.id === id)!;
      const w = windowOf(rule);
      const first = rule.queries(w, rule.defaults, { eventsIndex: 'p' });
      return JSON.stringify([...first, ...(rule.refine?.([{}], w, rule.defaults, { eventsIndex: 'p' }) ?? [])]);
    };
    for (const id of ['new_country_for_user', 'impossible_travel', 'session_country_change']) assert.match(trusting(id), /"source\.as\.number":\[64500\]/, id);
  });
});
