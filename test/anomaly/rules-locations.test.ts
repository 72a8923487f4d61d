/**
 * The location rules against the real Elasticsearch: a login from a new country, impossible travel, and a session
 * used from another country than it was created in. Each gets its attack, and the benign look-alikes it must let
 * pass (a trip, mobile carriers, VPN exits, users without history), with the same events shown to fire without the
 * option that silences them, so a quiet result is never an empty index (docs/anomaly-detection.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertDocument } from '../../src/anomaly/alerts.js';
import { createImpossibleTravelRule, createNewCountryRule, impossibleTravel, newCountryForUser } from '../../src/anomaly/rules/locations.js';
import { createSessionCountryChangeRule, sessionCountryChange } from '../../src/anomaly/rules/session-locations.js';
import type { Rule } from '../../src/anomaly/rules/types.js';
import type { EventAction } from '../../src/events/catalogue.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { event, success } from '../support/events.js';
import { CORPORATE_AS, PLACES, from, type Place } from '../support/located-events.js';
import { DAY, END, HOUR, MINUTE, NOW, ruleScenarios, type Scenario } from '../support/rule-scenario.js';

const scenario = ruleScenarios();

const IP = { paris: '192.0.2.10', lyon: '192.0.2.11', berlin: '192.0.2.20', sydney: '203.0.113.50', vpn: '198.51.100.80', corporate: '198.51.100.90', mobile: '198.51.100.100' };

/** A successful login of `user` from `place`. */
const login = (user: string, place: Place, ip: string, at: number): SecurityEvent => from(place, success(user, ip, at));
/** A login every day at 10:00 for `days` days before END, from `place`. */
const history = (user: string, place: Place, ip: string, days = 10): SecurityEvent[] =>
  Array.from({ length: days }, (_, d) => login(user, place, ip, END - (d + 1) * DAY + 2 * HOUR));

async function onlyAlert(s: Scenario, rule: Rule): Promise<AlertDocument> {
  const result = await s.runOnce();
  assert.equal(result.windows, 1);
  assert.deepEqual(result.created.map((a) => a.message).length, 1, `one alert expected, got ${JSON.stringify(result.created.map((a) => a.message))}`);
  const stored = await s.stored();
  assert.equal(stored.length, 1);
  const alert = stored[0]!;
  assert.equal(alert.event.id, result.created[0]!.event.id);
  assert.equal(alert.rule.id, rule.id);
  assert.equal(alert.event.action, rule.id);
  const technique = alert.threat.technique as { id: string; name: string; subtechnique?: { id: string; name: string } };
  assert.deepEqual([technique.id, technique.name, technique.subtechnique?.id, technique.subtechnique?.name], [rule.technique.id, rule.technique.name, rule.technique.subtechnique?.id, rule.technique.subtechnique?.name]);
  assert.deepEqual([alert.threat.tactic.id, alert.threat.tactic.name], [rule.tactic.id, rule.tactic.name]);
  assert.ok(alert.message.startsWith(`${rule.name}: `), alert.message);
  return alert;
}

async function assertQuiet(s: Scenario): Promise<void> {
  assert.deepEqual(await s.evaluate(), []);
  const result = await s.runOnce();
  assert.deepEqual(result.created.map((a) => a.message), []);
  assert.deepEqual(await s.stored(), []);
}

describe('new_country_for_user (T1078)', () => {
  it('fires once for a user with 10 days in France who logs in from Australia, and never again for that login', async () => {
    const first = login('alice', PLACES.sydney, IP.sydney, END - 6 * MINUTE);
    const second = login('alice', PLACES.sydney, IP.sydney, END - 3 * MINUTE);
    const s = await scenario('country-attack', newCountryForUser, [...history('alice', PLACES.paris, IP.paris), first, second]);
    const alert = await onlyAlert(s, newCountryForUser);
    assert.deepEqual(alert.user, { name: 'alice' });
    assert.equal(alert.event.severity, 47);
    assert.equal(alert.sentinel.alert.entity, 'alice');
    assert.equal(alert.sentinel.alert.count, 2);
    assert.deepEqual(alert.sentinel.alert.sources, [IP.sydney]);
    assert.deepEqual(alert.sentinel.alert.details, { country: 'AU', country_name: 'Australia', city: 'Sydney', as_number: 64498, known_countries: ['FR'] });
    // Stamped with, and identified by, the first login from the new country.
    assert.equal(alert['@timestamp'], first['@timestamp']);
    assert.equal(alert.sentinel.alert.first_seen, first['@timestamp']);
    assert.equal(alert.sentinel.alert.last_seen, second['@timestamp']);
    assert.match(alert.message, /"alice" logged in from Sydney, Australia \(AS64498 Example Telco AU\)/);

    // The next runs: while the first login is in a window it is the same alert; after, Australia is in the baseline.
    const next = await s.runAt(NOW + 5 * MINUTE);
    assert.equal(next.windows, 1);
    assert.deepEqual(next.created, []);
    assert.equal(next.existing.length, 1);
    assert.deepEqual(await s.evaluate(END + 10 * MINUTE), []);
    const later = await s.runAt(NOW + 30 * MINUTE);
    assert.deepEqual(later.created, []);
    assert.equal((await s.stored()).length, 1);
  });

  it('counts only the last 30 days: a country last seen 40 days ago is new again', async () => {
    const s = await scenario('country-expired', newCountryForUser, [
      ...history('bob', PLACES.paris, IP.paris), login('bob', PLACES.sydney, IP.sydney, END - 40 * DAY), login('bob', PLACES.sydney, IP.sydney, END - 7 * MINUTE),
      ...history('carl', PLACES.paris, IP.paris), login('carl', PLACES.sydney, IP.sydney, END - 20 * DAY), login('carl', PLACES.sydney, IP.sydney, END - 7 * MINUTE),
    ]);
    const findings = await s.evaluate();
    assert.deepEqual(findings.map((f) => [f.entity, f.details?.country, f.details?.known_countries]), [['bob', 'AU', ['FR']]]);
  });

  it('stays quiet for a new city in a known country, a country seen 20 days ago, a user without history, unlocated logins, and the trusted VPN', async () => {
    const events = [
      ...history('alice', PLACES.paris, IP.paris), login('alice', PLACES.lyon, IP.lyon, END - 9 * MINUTE),
      ...history('carol', PLACES.paris, IP.paris), login('carol', PLACES.berlin, IP.berlin, END - 20 * DAY), login('carol', PLACES.berlin, IP.berlin, END - 8 * MINUTE),
      login('newbie', PLACES.sydney, IP.sydney, END - 7 * MINUTE),
      ...history('dan', PLACES.paris, IP.paris), login('dan', PLACES.corporateAmsterdam, IP.corporate, END - 6 * MINUTE),
      // Before the enrichment: no source.geo at all, in the window and in the baseline.
      ...history('erin', PLACES.paris, IP.paris), success('erin', '100.64.1.5', END - 5 * MINUTE),
      ...Array.from({ length: 5 }, (_, d) => success('fay', '100.64.1.6', END - (d + 1) * DAY)), login('fay', PLACES.sydney, IP.sydney, END - 4 * MINUTE),
    ];
    const trusting = createNewCountryRule({ trustedAsNumbers: [CORPORATE_AS] });
    await assertQuiet(await scenario('country-benign', trusting, events));
    // The same events without the trusted network: only the VPN login is new.
    const plain = await scenario('country-untrusted', newCountryForUser, events);
    assert.deepEqual((await plain.evaluate()).map((f) => [f.entity, f.details?.country]), [['dan', 'NL']]);
  });
});

describe('impossible_travel (T1078)', () => {
  it('fires for Paris then Sydney one hour later, across two windows, once per pair', async () => {
    const paris = login('bob', PLACES.paris, IP.paris, END - 70 * MINUTE);
    const sydney = login('bob', PLACES.sydney, IP.sydney, END - 10 * MINUTE);
    const again = login('bob', PLACES.sydney, IP.sydney, END - 5 * MINUTE);
    const s = await scenario('travel-attack', impossibleTravel, [...history('bob', PLACES.paris, IP.paris), paris, sydney, again]);
    const alert = await onlyAlert(s, impossibleTravel);
    assert.deepEqual(alert.user, { name: 'bob' });
    assert.equal(alert.event.severity, 73);
    assert.equal(alert.log.level, 'error');
    assert.equal(alert.sentinel.alert.count, 1);
    assert.deepEqual(alert.sentinel.alert.sources, [IP.paris, IP.sydney]);
    assert.equal(alert['@timestamp'], sydney['@timestamp'], 'the alert lives at the later login');
    const details = alert.sentinel.alert.details as Record<string, unknown>;
    assert.deepEqual(details.from, { at: paris['@timestamp'], addresses: [IP.paris], country: 'FR', city: 'Paris', as_number: 64496 });
    assert.deepEqual(details.to, { at: sydney['@timestamp'], addresses: [IP.sydney], country: 'AU', city: 'Sydney', as_number: 64498 });
    assert.equal(details.minutes, 60);
    assert.ok(Math.abs((details.distance_km as number) - 16_960) < 30, `Paris-Sydney is about 16 960 km, got ${details.distance_km}`);
    assert.equal(details.speed_kmh, details.distance_km);
    assert.match(alert.message, /"bob" logged in from Sydney, Australia \(AS64498 Example Telco AU\) 60 min after Paris, France \(AS64496 Example Fibre FR\): \d+ km, \d+ km\/h/);

    // Every window that sees the later login finds the same pair: one alert, whatever the runs.
    const backfill = await s.runner.run({ since: new Date(END - 40 * MINUTE) });
    assert.equal(backfill.windows, 8);
    assert.deepEqual(backfill.created, []);
    assert.equal(backfill.existing.length, 1);
    const next = await s.runAt(NOW + 10 * MINUTE);
    assert.deepEqual(next.created, []);
    assert.equal((await s.stored()).length, 1);
  });

  it('stays quiet for a train ride, short hops, a country-level mobile address, one VPN provider, and the trusted corporate VPN', async () => {
    const events = [
      // Paris to Berlin in three hours: 880 km at about 300 km/h.
      login('carol', PLACES.paris, IP.paris, END - 3 * HOUR), login('carol', PLACES.berlin, IP.berlin, END - 8 * MINUTE),
      // A mobile address geolocated to France's centroid only, 30 minutes after Berlin.
      login('dave', PLACES.berlin, IP.berlin, END - 40 * MINUTE), login('dave', PLACES.mobileFrance, IP.mobile, END - 9 * MINUTE),
      // One VPN provider's exits in Paris and New York, 12 minutes apart.
      login('erin', PLACES.vpnParis, IP.vpn, END - 20 * MINUTE), login('erin', PLACES.vpnNewYork, IP.vpn, END - 8 * MINUTE),
      // The company VPN between two logins from home.
      login('frank', PLACES.paris, IP.paris, END - 60 * MINUTE), login('frank', PLACES.corporateNewYork, IP.corporate, END - 9 * MINUTE),
      login('frank', PLACES.paris, IP.paris, END - 7 * MINUTE),
      // Paris to Lyon in 12 minutes: too fast, but 390 km is within what IP geolocation gets wrong.
      login('gina', PLACES.paris, IP.paris, END - 20 * MINUTE), login('gina', PLACES.lyon, IP.lyon, END - 8 * MINUTE),
      // A first login ever, from anywhere.
      login('heidi', PLACES.sydney, IP.sydney, END - 6 * MINUTE),
    ];
    const trusting = createImpossibleTravelRule({ trustedAsNumbers: [CORPORATE_AS] });
    await assertQuiet(await scenario('travel-benign', trusting, events));
    // Without the trusted network, the corporate exit in New York is two impossible hops.
    const plain = await scenario('travel-untrusted', impossibleTravel, events);
    const findings = await plain.evaluate();
    assert.deepEqual(findings.map((f) => [f.entity, (f.details?.from as { city: string }).city, (f.details?.to as { city: string }).city]), [
      ['frank', 'Paris', 'New York'], ['frank', 'New York', 'Paris'],
    ]);
  });
});

describe('session_country_change (T1550.004)', () => {
  /** An event of session `session` of `user` from `place`. */
  const use = (action: EventAction, session: string, user: string, place: Place, ip: string, at: number): SecurityEvent =>
    from(place, event({ action, user, ip, at, sessionId: session, ...(action === 'authz_fail' ? { path: '/admin/users' } : {}) }));
  /** The login that starts `session` and the session_created event of the same request. */
  const start = (session: string, user: string, place: Place, ip: string, at: number): SecurityEvent[] => [
    use('authn_login_success', session, user, place, ip, at), use('session_created', session, user, place, ip, at + 5),
  ];

  it('fires once for a session created in Paris two days ago and used from Sydney now', async () => {
    const stolen = [
      use('authn_token_created', 's-hijack-1', 'alice', PLACES.sydney, IP.sydney, END - 9 * MINUTE),
      use('session_renewed', 's-hijack-1', 'alice', PLACES.sydney, IP.sydney, END - 9 * MINUTE + 2),
      use('authz_fail', 's-hijack-1', 'alice', PLACES.sydney, IP.sydney, END - 8 * MINUTE),
    ];
    const s = await scenario('session-attack', sessionCountryChange, [
      ...start('s-hijack-1', 'alice', PLACES.paris, IP.paris, END - 2 * DAY),
      use('session_renewed', 's-hijack-1', 'alice', PLACES.paris, IP.paris, END - 12 * MINUTE),
      ...stolen,
      // Another user's session, used from where it was created.
      ...start('s-fine', 'bob', PLACES.berlin, IP.berlin, END - DAY), use('session_renewed', 's-fine', 'bob', PLACES.berlin, IP.berlin, END - 7 * MINUTE),
    ]);
    const alert = await onlyAlert(s, sessionCountryChange);
    assert.equal(alert.threat.technique.id, 'T1550');
    assert.equal((alert.threat.technique as { subtechnique?: { id: string } }).subtechnique?.id, 'T1550.004');
    assert.equal(alert.threat.tactic.id, 'TA0005');
    assert.equal(alert.user, undefined);
    assert.equal(alert.sentinel.alert.entity, 's-hijack-1');
    assert.equal(alert.sentinel.alert.entity_type, 'session');
    assert.equal(alert.sentinel.alert.count, 3);
    assert.deepEqual(alert.sentinel.alert.users, ['alice']);
    assert.deepEqual(alert.sentinel.alert.sources, [IP.sydney]);
    assert.equal(alert.sentinel.alert.first_seen, stolen[0]!['@timestamp']);
    assert.equal(alert.sentinel.alert.last_seen, stolen[2]!['@timestamp']);
    const details = alert.sentinel.alert.details as Record<string, unknown>;
    assert.deepEqual({ ...details, actions: (details.actions as string[]).sort() }, {
      created_at: new Date(END - 2 * DAY).toISOString(), created_country: 'FR', created_ip: IP.paris, created_as_number: 64496,
      countries: ['AU'], networks: [64498], actions: ['authn_token_created', 'authz_fail', 'session_renewed'],
    });
    assert.equal(alert.message, 'Session used from another country: A session of "alice" created in Paris, FR (AS64496) was used from Sydney, AU (AS64498)');

    // The next scheduled run still sees the use from Sydney: suppressed for a day, not a second alert.
    const next = await s.runAt(NOW + 5 * MINUTE);
    assert.equal(next.windows, 1);
    assert.deepEqual(next.created, []);
    assert.equal(next.suppressed, 1);
    assert.equal((await s.stored()).length, 1);
  });

  it('stays quiet for a trip within the country, one mobile carrier, the trusted VPN either side, and sessions started before geolocation', async () => {
    const events = [
      ...start('s-home', 'carol', PLACES.paris, IP.paris, END - DAY), use('session_renewed', 's-home', 'carol', PLACES.lyon, IP.lyon, END - 7 * MINUTE),
      ...start('s-mobile', 'dave', PLACES.mobileFrance, IP.mobile, END - 3 * HOUR),
      use('session_renewed', 's-mobile', 'dave', PLACES.mobileGermany, IP.mobile, END - 6 * MINUTE),
      ...start('s-vpn-use', 'erin', PLACES.paris, IP.paris, END - 5 * HOUR),
      use('session_renewed', 's-vpn-use', 'erin', PLACES.corporateAmsterdam, IP.corporate, END - 9 * MINUTE),
      ...start('s-vpn-start', 'frank', PLACES.corporateAmsterdam, IP.corporate, END - 5 * HOUR),
      use('session_renewed', 's-vpn-start', 'frank', PLACES.paris, IP.paris, END - 8 * MINUTE),
      // Started before the enrichment was on: nothing says where.
      event({ action: 'session_created', user: 'gina', ip: '100.64.1.7', at: END - 2 * HOUR, sessionId: 's-unlocated' }),
      use('session_renewed', 's-unlocated', 'gina', PLACES.sydney, IP.sydney, END - 8 * MINUTE),
    ];
    const trusting = createSessionCountryChangeRule({ trustedAsNumbers: [CORPORATE_AS] });
    await assertQuiet(await scenario('session-benign', trusting, events));
    // Without the trusted network, both VPN sessions change country.
    const plain = await scenario('session-untrusted', sessionCountryChange, events);
    assert.deepEqual((await plain.evaluate()).map((f) => [f.entity, f.details?.created_country, f.details?.countries]).sort(), [
      ['s-vpn-start', 'NL', ['FR']], ['s-vpn-use', 'FR', ['NL']],
    ]);
  });
});
