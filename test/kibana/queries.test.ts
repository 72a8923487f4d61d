/**
 * What the saved objects show, run against the real Elasticsearch: every saved search's query (KQL translated
 * as Kibana translates it) and every Lens chart's aggregation, over generated security events, the alerts of a
 * real anomaly run (plus the daily review stored beside them), and access records from the real request logger.
 * The data views are pointed at this test's indices by the same prefix rewriting `kibana import --prefix` does.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import Koa from 'koa';
import { buildDailyReview, storeDailyReview } from '../../src/anomaly/review.js';
import { TAMPERING_REASONS } from '../../src/anomaly/rules/sessions.js';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import type { AlertDocument } from '../../src/anomaly/alerts.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { dailyIndex } from '../../src/elastic/templates.js';
import { EVENT_CATALOGUE, type EventAction } from '../../src/events/catalogue.js';
import { buildSecurityEvent, type SecurityEvent } from '../../src/events/security-event.js';
import type { EcsDocument } from '../../src/logging/ecs.js';
import { createLogger } from '../../src/logging/logger.js';
import { createRequestLogger } from '../../src/logging/request-logger.js';
import { IDS, parseNdjson, rewriteIndexPrefix } from '../../src/kibana/saved-objects.js';
import { createEnricher } from '../../src/enrich/enricher.js';
import type { GeoResult } from '../../src/enrich/types.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { event, fail, indexEvents, success } from '../support/events.js';
import { byId, lensRows, lensAggregations, lensState, MISSING_VALUE, searchSource, shippedText, toEsQuery, viewOf, type Row, type SavedObjectLine } from './support.js';

const MINUTE = 60_000;
const LOGIN_ATTEMPT = new Set<string>(['authn_login_success', 'authn_login_successafterfail', 'authn_login_fail', 'excess_rate_limit_exceeded']);
const FAILED_LOGIN = new Set<string>(['authn_login_fail', 'excess_rate_limit_exceeded']);
const BRUTE_FORCE_IP = '203.0.113.7';
const SPRAY_IP = '198.51.100.9';
const TAMPER_IP = '192.0.2.66';
/** Public addresses the corpus's test geolocation knows; the corpus's other addresses are private or documentation ones. */
const PLACES: Record<string, GeoResult> = {
  '81.2.69.142': { geo: { country_iso_code: 'GB', city_name: 'London', location: { lat: 51.5142, lon: -0.0931 } }, as: { number: 20712, organization: { name: 'Andrews & Arnold Ltd' } } },
  '89.160.20.129': { geo: { country_iso_code: 'SE', city_name: 'Linköping', location: { lat: 58.4167, lon: 15.6167 } }, as: { number: 29518, organization: { name: 'Bredband2 AB' } } },
};
const STUFFING_IPS = ['45.1.2.1', '45.1.2.2', '45.1.2.3', '45.1.2.4'];
for (const ip of STUFFING_IPS) PLACES[ip] = { geo: { country_iso_code: 'US', location: { lat: 37.75, lon: -97.82 } }, as: { number: 64501, organization: { name: 'Hosting Example Inc' } } };
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const WINDOWS_CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
type Enriched = SecurityEvent & { source?: { geo?: { country_iso_code?: string }; as?: { organization?: { name?: string } } }; user_agent?: { name?: string; os?: { name?: string }; device?: { name?: string } } };

/** The promise each saved search's title makes, written from the catalogue, not from the query. */
const PROMISES: Record<string, (e: SecurityEvent) => boolean> = {
  [IDS.failedLogins]: (e) => FAILED_LOGIN.has(e.event.action),
  [IDS.tokenAbuse]: (e) => (e.event.action === 'authn_token_reuse' && e.event.reason !== 'revoked') || (e.event.action === 'authn_token_invalid' && (TAMPERING_REASONS as readonly string[]).includes(e.event.reason ?? '')),
  [IDS.authzFailures]: (e) => e.event.action === 'authz_fail',
  [IDS.csrfRefusals]: (e) => e.event.action === 'malicious_csrf',
};

/** A day of varied events: every catalogue action with every reason, plus a brute force, a spray, token abuse. */
function corpus(t0: number): SecurityEvent[] {
  const at = (minutes: number): number => t0 + minutes * MINUTE;
  const events: SecurityEvent[] = [];
  let i = 0;
  for (const [action, entry] of Object.entries(EVENT_CATALOGUE) as Array<[EventAction, (typeof EVENT_CATALOGUE)[EventAction]]>) {
    const reasons: Array<string | undefined> = 'reasons' in entry ? [...entry.reasons] : [undefined];
    for (const reason of reasons) {
      // A malformed login has no user name to log.
      const user = action === 'authn_login_fail' && reason === 'malformed' ? undefined : 'erin';
      events.push(event({ action, reason, user, ip: '10.0.0.5', at: at(1 + (i++ % 40) * 0.25), sessionId: `s-erin-${i}` }));
    }
  }
  for (const [n, user] of ['alice', 'bob', 'carol'].entries()) {
    events.push(success(user, `10.0.1.${n + 1}`, at(1 + n)), success(user, `10.0.1.${n + 1}`, at(30 + n)));
  }
  // Brute force against alice: 401s, then 429s while throttled, and the lock event between them.
  for (let k = 0; k < 12; k += 1) events.push(fail('alice', BRUTE_FORCE_IP, at(2 + k * 0.5)));
  events.push(event({ action: 'authn_login_lock', reason: 'account_source', user: 'alice', ip: BRUTE_FORCE_IP, at: at(8) }));
  for (let k = 0; k < 3; k += 1) events.push(event({ action: 'excess_rate_limit_exceeded', reason: 'account_source', user: 'alice', ip: BRUTE_FORCE_IP, at: at(8.5 + k * 0.25) }));
  // A spray: one attempt at each of six accounts from one address.
  for (let k = 1; k <= 6; k += 1) events.push(fail(`user${k}`, SPRAY_IP, at(10 + k * 0.2), { reason: 'unknown_user' }));
  // Bob mistypes twice, then gets in.
  events.push(fail('bob', '10.0.1.2', at(12)), fail('bob', '10.0.1.2', at(12.2)), event({ action: 'authn_login_successafterfail', user: 'bob', ip: '10.0.1.2', at: at(12.5) }));
  // Tampered tokens from one source, and everyday token failures that are not abuse.
  for (const reason of ['bad_signature', 'bad_signature', 'algorithm', 'wrong_type']) events.push(event({ action: 'authn_token_invalid', reason, ip: TAMPER_IP, at: at(14), path: '/api/hello' }));
  for (const reason of ['expired', 'expired', 'expired', 'missing', 'missing', 'revoked']) events.push(event({ action: 'authn_token_invalid', reason, user: 'carol', ip: '10.0.1.3', at: at(15), path: '/api/hello' }));
  // A stolen refresh token used again, and the revocation it causes.
  events.push(event({ action: 'authn_token_reuse', user: 'bob', ip: '192.0.2.99', at: at(16), sessionId: 's-bob-1', path: '/auth/refresh' }));
  events.push(event({ action: 'authn_token_revoked', reason: 'reuse', user: 'bob', ip: '192.0.2.99', at: at(16), sessionId: 's-bob-1', path: '/auth/refresh' }));
  // Authorization failures as the session kit emits them, and CSRF refusals.
  for (let k = 0; k < 3; k += 1) {
    events.push(buildSecurityEvent('authz_fail', {
      timestamp: new Date(at(18 + k)), reason: 'missing_role', user: { name: 'bob', id: 'u-bob', roles: ['user'] }, source: { ip: '10.0.1.2' },
      urlPath: '/api/admin/stats', http: { method: 'GET', statusCode: 403 }, sentinel: { required_roles: ['admin'] },
    }));
  }
  events.push(event({ action: 'malicious_csrf', reason: 'cross_site', user: 'carol', ip: '10.0.1.3', at: at(20), path: '/api/notes' }));
  events.push(event({ action: 'malicious_csrf', reason: 'token_missing', user: 'carol', ip: '10.0.1.3', at: at(20.5), path: '/api/notes' }));
  // From public addresses, for the country, network and device panels: alice on her phone in London, carol on
  // Windows in Sweden, and a stuffing run from four addresses of one hosting network at accounts that exist already.
  events.push(success('alice', '81.2.69.142', at(22), { userAgent: IPHONE }), success('carol', '89.160.20.129', at(23), { userAgent: WINDOWS_CHROME }));
  for (const [k, ip] of STUFFING_IPS.entries()) events.push(fail(`user${k + 1}`, ip, at(24 + k * 0.1), { reason: 'unknown_user' }));
  // What the server does before it writes them: the same enrichment, with a test geolocation (real user agent parsing).
  const enrich = createEnricher({ geo: { lookup: (ip) => PLACES[ip] } });
  for (const e of events) enrich(e as unknown as Record<string, unknown>);
  return events;
}

/** Access records from the real request logger, for a few requests of each outcome. */
async function accessRecords(): Promise<EcsDocument[]> {
  const docs: EcsDocument[] = [];
  const logger = createLogger({ name: 'kibana-test', stdout: false, sinks: [{ write: (doc) => docs.push(doc) }] });
  const app = new Koa();
  app.use(createRequestLogger({ logger }));
  app.use(async (ctx, next) => {
    const user = ctx.get('x-test-user');
    if (user) ctx.state.user = { id: `u-${user}`, name: user, roles: ['user'], sessionId: `s-${user}`, tokenId: `t-${user}` };
    ctx.state.requestId = `req-${docs.length}`;
    await next();
  });
  app.use((ctx) => {
    if (ctx.path === '/ok') ctx.body = { ok: true };
    else if (ctx.path === '/denied') ctx.status = 403;
    else if (ctx.path === '/login') ctx.status = 401;
    else if (ctx.path === '/boom') ctx.status = 500;
    // anything else: Koa's 404
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const plan: Array<[string, string | undefined]> = [
      ['/ok', 'alice'], ['/ok', 'alice'], ['/ok', 'bob'], ['/ok', undefined], ['/ok', 'carol'],
      ['/denied', 'bob'], ['/denied', 'bob'], ['/login', undefined], ['/login', undefined], ['/login', undefined], ['/nowhere', undefined], ['/boom', 'alice'],
    ];
    for (const [path, user] of plan) {
      const response = await fetch(`${base}${path}`, { headers: user ? { 'x-test-user': user } : {} });
      await response.arrayBuffer();
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return docs;
}

const count = <T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, number> => {
  const out = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
};

const sumBy = (rows: Row[], key: string, metric: string): Map<string, number> => {
  const out = new Map<string, number>();
  for (const row of rows) out.set(String(row[key]), (out.get(String(row[key])) ?? 0) + Number(row[metric]));
  return out;
};

describe('Kibana saved objects over real documents', () => {
  let client: Client;
  let prefix: string;
  let objects: SavedObjectLine[];
  let events: SecurityEvent[];
  let alerts: AlertDocument[];
  let access: EcsDocument[];

  before(async () => {
    const { url } = await sharedElasticsearch();
    client = createElasticClient({ url, requestTimeoutMs: 30_000 });
    prefix = uniquePrefix('kibana');
    await setupElasticsearch(client, prefix);
    objects = parseNdjson(shippedText()) as SavedObjectLine[];
    assert.equal(rewriteIndexPrefix(objects, prefix).length, 3);

    const t0 = Math.floor((Date.now() - 3 * 60 * MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    events = corpus(t0);
    await indexEvents(client, prefix, events);

    const run = await createAnomalyRunner({ client, indexPrefix: prefix, now: () => t0 + 45 * MINUTE }).run({ since: new Date(t0 - 5 * MINUTE) });
    alerts = [...run.created, ...run.existing];
    await storeDailyReview(client, prefix, await buildDailyReview(client, prefix, new Date(t0)));

    access = await accessRecords();
    const operations = access.flatMap((doc) => [{ create: { _index: dailyIndex(prefix, 'access', doc['@timestamp']), _id: doc.event.id } }, doc]);
    const bulk = await client.bulk({ operations, refresh: true });
    assert.equal(bulk.errors, false, JSON.stringify(bulk.items.find((item) => item.create?.error)));
    await client.indices.refresh({ index: `${prefix}-*` });
  });

  after(async () => {
    if (!client) return;
    await dropPrefix(client, prefix);
    await client.close();
  });

  /** The saved search as Discover runs it: its data view's indices, its query and filters, its sort. */
  async function runSearch(id: string): Promise<Array<Record<string, unknown>>> {
    const o = byId(objects, id);
    const view = viewOf(objects, o, 'kibanaSavedObjectMeta.searchSourceJSON.index');
    const source = searchSource(o);
    const sort = (o.attributes.sort as Array<[string, 'asc' | 'desc']>).map(([field, order]) => ({ [field]: order }));
    const response = await client.search({ index: String(view.attributes.title), query: toEsQuery(source.query, source.filter) as never, sort, size: 1000, track_total_hits: true });
    return response.hits.hits.map((hit) => hit._source as Record<string, unknown>);
  }

  /** The Lens chart's aggregation over its data view, with extra filters as a dashboard control adds them. */
  async function runLens(id: string, extra: Array<Record<string, unknown>> = []): Promise<Row[]> {
    const o = byId(objects, id);
    const state = lensState(o);
    const [layerId, layer] = Object.entries(state.datasourceStates.formBased.layers)[0]!;
    const view = viewOf(objects, o, `indexpattern-datasource-layer-${layerId}`);
    const response = await client.search({ index: String(view.attributes.title), size: 0, query: toEsQuery(state.query, state.filters, extra) as never, aggs: lensAggregations(layer) as never });
    return lensRows(layer, response.aggregations as Record<string, unknown>);
  }

  const ids = (docs: Array<Record<string, unknown>>): string[] => docs.map((d) => (d.event as { id: string }).id).sort();

  describe('saved searches return what their titles promise, and nothing else', () => {
    for (const [id, promise] of Object.entries(PROMISES)) {
      it(id, async () => {
        const hits = await runSearch(id);
        const expected = events.filter(promise);
        assert.ok(expected.length > 0, 'the corpus has matching events');
        assert.ok(expected.length < events.length, 'and others');
        assert.deepEqual(ids(hits), expected.map((e) => e.event.id).sort());
        const times = hits.map((h) => String(h['@timestamp']));
        assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
      });
    }

    it('failed logins: 401s and 429s of login attempts, not the lock events, not successes', async () => {
      const actions = count(await runSearch(IDS.failedLogins), (h) => (h.event as { action: string }).action);
      assert.deepEqual([...actions.keys()].sort(), ['authn_login_fail', 'excess_rate_limit_exceeded']);
      const scopes = EVENT_CATALOGUE.excess_rate_limit_exceeded.reasons.length;
      assert.equal(actions.get('excess_rate_limit_exceeded'), 3 + scopes, 'three of the brute force, one per reason of the catalogue sweep');
    });

    it('token abuse: tampering and reuse, not expired, missing or revoked tokens, nor the revocation that follows reuse', async () => {
      const hits = await runSearch(IDS.tokenAbuse);
      const reasons = new Set(hits.map((h) => (h.event as { reason?: string }).reason ?? (h.event as { action: string }).action));
      for (const everyday of ['expired', 'missing', 'revoked', 'not_before', 'user_disabled', 'reuse']) assert.ok(!reasons.has(everyday), everyday);
      assert.ok(reasons.has('authn_token_reuse') && reasons.has('bad_signature') && reasons.has('wrong_type'));
      assert.ok(hits.some((h) => (h.sentinel as { session_id?: string } | undefined)?.session_id === 's-bob-1'), 'the stolen session is shown');
    });

    it('alerts: every alert of the anomaly run, not the daily review stored in the same indices', async () => {
      assert.ok(alerts.length >= 3, `the run raised alerts (${alerts.length})`);
      for (const rule of ['brute_force_account', 'token_tampering', 'refresh_token_reuse']) assert.ok(alerts.some((a) => a.rule.id === rule), `an alert of ${rule}`);
      const all = await client.search({ index: `${prefix}-alerts-*`, size: 1000, query: { match_all: {} } });
      assert.ok(all.hits.hits.some((h) => (h._source as { event: { kind: string } }).event.kind === 'metric'), 'the review is there to be left out');
      const hits = await runSearch(IDS.alerts);
      assert.deepEqual(ids(hits), alerts.map((a) => a.event.id).sort());
    });
  });

  describe('Lens charts compute what their titles say', () => {
    const logins = (): SecurityEvent[] => events.filter((e) => LOGIN_ATTEMPT.has(e.event.action));
    const failures = (): SecurityEvent[] => events.filter((e) => FAILED_LOGIN.has(e.event.action));

    it('authentication outcomes over time: login attempts by outcome', async () => {
      const rows = await runLens(IDS.authOutcomes);
      assert.deepEqual(sumBy(rows, 'outcome', 'attempts'), count(logins(), (e) => e.event.outcome));
      assert.ok(rows.every((r) => !Number.isNaN(Date.parse(String(r.time)))), 'bucketed by time');
    });

    it('top failing source IPs: the brute force first, one account tried; the spray tried six', async () => {
      const rows = await runLens(IDS.topFailingSources);
      assert.deepEqual(new Map(rows.map((r) => [String(r.source), r.failures])), count(failures(), (e) => e.source?.ip));
      assert.deepEqual(rows[0], { source: BRUTE_FORCE_IP, failures: 15, accounts: 1 });
      assert.equal(rows.find((r) => r.source === SPRAY_IP)?.accounts, 6);
    });

    it('most targeted users: alice first, failures per account and their sources', async () => {
      const rows = await runLens(IDS.targetedUsers);
      assert.deepEqual(new Map(rows.map((r) => [String(r.user), r.failures])), count(failures(), (e) => e.user?.name));
      assert.equal(rows[0]!.user, 'alice');
      assert.equal(rows[0]!.sources, 1);
    });

    it('login history: every attempt of every user; with the User control set, that user\'s only', async () => {
      const rows = await runLens(IDS.loginHistory);
      assert.ok(rows.every((r) => LOGIN_ATTEMPT.has(String(r.result))));
      assert.equal(rows.reduce((n, r) => n + Number(r.attempts), 0), logins().filter((e) => e.user?.name).length);
      // The options list control adds a phrase filter on user.name when one user is chosen.
      const bob = await runLens(IDS.loginHistory, [{ match_phrase: { 'user.name': 'bob' } }]);
      assert.ok(bob.length > 0 && bob.every((r) => r.user === 'bob'));
      assert.deepEqual(sumBy(bob, 'result', 'attempts'), count(logins().filter((e) => e.user?.name === 'bob'), (e) => e.event.action));
      assert.deepEqual(new Set(bob.map((r) => r.source)), new Set(['10.0.1.2']));
      const times = bob.map((r) => String(r.time));
      assert.ok(times.every((t) => /T\d{2}:\d{2}:00\.000Z$/.test(t)), 'by minute');
    });

    it('response codes over time: every access record by status code', async () => {
      const rows = await runLens(IDS.responseCodes);
      assert.deepEqual(sumBy(rows, 'status', 'requests'), count(access, (d) => String((d.http as { response: { status_code: number } }).response.status_code)));
      assert.deepEqual([...sumBy(rows, 'status', 'requests').keys()].sort(), ['200', '401', '403', '404', '500']);
    });

    it('login attempts by country: geolocated attempts by outcome, private and documentation addresses left out', async () => {
      const rows = await runLens(IDS.loginsByCountry);
      const geolocated = (logins() as Enriched[]).filter((e) => e.source?.geo?.country_iso_code);
      assert.deepEqual(new Map(rows.map((r) => [`${r.country}|${r.outcome}`, r.attempts])), count(geolocated, (e) => `${e.source!.geo!.country_iso_code}|${e.event.outcome}`));
      assert.deepEqual(new Map(rows.map((r) => [`${r.country}|${r.outcome}`, r.attempts])), new Map([['US|failure', 4], ['GB|success', 1], ['SE|success', 1]]));
    });

    it('failed logins by network: the hosting network of the stuffing run, four accounts from four addresses', async () => {
      const rows = await runLens(IDS.loginsByNetwork);
      assert.deepEqual(rows, [{ network: 'Hosting Example Inc', failures: 4, accounts: 4, sources: 4 }]);
    });

    it('devices per user: browser, system and device of every successful login, desktops too; with the User control, one user\'s', async () => {
      const rows = await runLens(IDS.devicesPerUser);
      const successes = (events as Enriched[]).filter((e) => ['authn_login_success', 'authn_login_successafterfail'].includes(e.event.action) && e.user?.name);
      const device = (e: Enriched): string => [e.user!.name, e.user_agent?.name ?? MISSING_VALUE, e.user_agent?.os?.name ?? MISSING_VALUE, e.user_agent?.device?.name ?? MISSING_VALUE].join('|');
      assert.deepEqual(new Map(rows.map((r) => [[r.user, r.browser, r.os, r.device].join('|'), r.logins])), count(successes, device));
      const alice = rows.filter((r) => r.user === 'alice').map((r) => [r.browser, r.os, r.device]).sort();
      assert.deepEqual(alice, [['Firefox', 'Linux', MISSING_VALUE], ['Mobile Safari', 'iOS', 'Apple iPhone']]);
      const last = rows.find((r) => r.device === 'Apple iPhone')!;
      assert.equal(new Date(Number(last.last)).toISOString(), successes.find((e) => e.user_agent?.device?.name === 'Apple iPhone')!['@timestamp']);
      const carol = await runLens(IDS.devicesPerUser, [{ match_phrase: { 'user.name': 'carol' } }]);
      assert.ok(carol.length > 0 && carol.every((r) => r.user === 'carol'));
      assert.ok(carol.some((r) => r.browser === 'Chrome' && r.os === 'Windows'));
    });

    it('alerts by rule and severity, over time, and by severity: the run\'s alerts, not the review', async () => {
      const expected = count(alerts, (a) => `${a.rule.name}|${String(a.sentinel.alert.severity)}`);
      const byRule = await runLens(IDS.alertsByRule);
      assert.deepEqual(new Map(byRule.map((r) => [`${r.rule}|${r.severity}`, r.alerts])), expected);
      const overTime = await runLens(IDS.alertsOverTime);
      assert.equal(overTime.reduce((n, r) => n + Number(r.alerts), 0), alerts.length);
      const bySeverity = await runLens(IDS.alertsBySeverity);
      assert.deepEqual(new Map(bySeverity.map((r) => [String(r.severity), r.alerts])), count(alerts, (a) => String(a.sentinel.alert.severity)));
      for (const r of bySeverity) assert.ok(['low', 'medium', 'high', 'critical'].includes(String(r.severity)));
    });
  });
});
