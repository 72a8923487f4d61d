/**
 * `koa-sentinel anomalies run|list|review` as an operator runs them: the real CLI in a child process, against the
 * real Elasticsearch, configured by ELASTICSEARCH_URL and ES_INDEX_PREFIX only. `run` exits 1 when it created
 * alerts (with --any-alert: when the judged range has any), 0 when not, 2 on a usage or configuration error, 3 when
 * Elasticsearch cannot be used; with --json, errors are JSON on stdout too.
 *
 * The CLI reads the real clock, so the attack is timestamped relative to it: 12 failed logins 16 to 14 minutes
 * ago, whole inside the 15-minute windows `--since 1h` evaluates (the newest ends 1 to 6 minutes ago).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import type { AlertDocument } from '../../src/anomaly/alerts.js';
import type { DailyReview } from '../../src/anomaly/review.js';
import { bruteForceAccount } from '../../src/anomaly/rules/authentication.js';
import type { Rule } from '../../src/anomaly/rules/types.js';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { ECS_VERSION } from '../../src/events/security-event.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { runCli, type CliResult } from '../support/cli.js';
import { dropPrefix, freePort, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { event, fail, indexEvents, spread, success } from '../support/events.js';

/** Generous: tsx compiles the CLI on start, which is slow on a loaded machine. */
const SPAWN_TIMEOUT_MS = 60_000;
const MINUTE = 60_000;
/** A user name an attacker chose: the page must show it as text. */
const HOSTILE = '<img src=x onerror=alert(1)>';
const FIREFOX = { browser: 'Firefox', os: 'Linux' };

/** The event as enrichment leaves it: the user agent parsed (device only for phones and tablets). */
function onDevice<T extends object>(doc: T, ua: { browser: string; os: string; device?: string }): T {
  const original = (doc as { user_agent?: { original?: string } }).user_agent?.original ?? 'test';
  return { ...doc, user_agent: { original, name: ua.browser, os: { name: ua.os }, ...(ua.device ? { device: { name: ua.device } } : {}) } };
}

/** The event with the source's country, as geolocation leaves it; none for an address it cannot place. */
function fromCountry<T extends object>(doc: T, country: string | undefined): T {
  if (!country) return doc;
  const source = (doc as { source?: Record<string, unknown> }).source ?? {};
  return { ...doc, source: { ...source, geo: { country_iso_code: country } } };
}

function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}


type RunOutput = {
  windows: number; from: string; to: string; closedTo: string; openWindowEnd: string | null;
  created: AlertDocument[]; existing: AlertDocument[]; suppressed: number; alerts: AlertDocument[]; inRange?: AlertDocument[];
};
type ErrorOutput = { error: { code: string; message: string } };
/** With --json, an error is the one JSON document on stdout, and stderr stays empty. */
function jsonError(result: CliResult): ErrorOutput['error'] {
  assert.equal(result.stderr, '');
  const out = json<ErrorOutput>(result);
  assert.deepEqual(Object.keys(out), ['error']);
  assert.deepEqual(Object.keys(out.error), ['code', 'message']);
  assert.doesNotMatch(out.error.message, /\n\s+at /, 'no stack trace');
  return out.error;
}

describe('koa-sentinel anomalies', () => {
  let es: Client;
  let url: string;
  const attacked = uniquePrefix('cli-attack');
  const clean = uniquePrefix('cli-clean');
  const reviewed = uniquePrefix('cli-review');
  const fresh = uniquePrefix('cli-fresh');
  const outDir = mkdtempSync(join(tmpdir(), 'sentinel-review-'));
  let attackEvents: ReturnType<typeof fail>[];

  before(async () => {
    url = (await sharedElasticsearch()).url;
    es = createElasticClient({ url });
    for (const prefix of [attacked, clean, reviewed, fresh]) await setupElasticsearch(es, prefix);
    const now = Date.now();
    // All twelve inside one 5-minute grid interval that the newest judged window (ending at a grid point at least a
    // minute back) certainly covers: the alert's count is then 12 whatever the time of day the test runs.
    const grid = Math.floor((now - 6 * MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    attackEvents = spread(12, grid - 4 * MINUTE, 15_000, (_i, at) => fail('cli-victim', '198.51.100.23', at));
    await indexEvents(es, attacked, [...attackEvents, success('someone', '100.64.0.1', now - 20 * MINUTE)]);
  });

  after(async () => {
    for (const prefix of [attacked, clean, reviewed, fresh]) await dropPrefix(es, prefix);
    await es.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  const envFor = (prefix: string): Record<string, string> => ({ ELASTICSEARCH_URL: url, ES_INDEX_PREFIX: prefix });

  it('run --since 1h --json exits 1 and prints the alerts when an attack is indexed', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h', '--json'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    const out = json<RunOutput>(result);
    assert.ok(out.windows >= 11 && out.windows <= 12, `${out.windows} windows`);
    assert.equal(out.openWindowEnd, null);
    assert.equal(out.to, out.closedTo);
    assert.equal(out.created.length, 1);
    assert.deepEqual(out.existing, []);
    const [alert, ...rest] = out.alerts;
    assert.deepEqual(rest, []);
    assert.equal(alert?.event.kind, 'alert');
    assert.equal(alert?.rule.id, 'brute_force_account');
    assert.equal(alert?.threat.technique.id, 'T1110');
    assert.equal(alert?.threat.technique.subtechnique?.id, 'T1110.001');
    assert.deepEqual(alert?.user, { name: 'cli-victim' });
    assert.equal(alert?.sentinel.alert.count, 12);
    assert.equal(alert?.sentinel.alert.first_seen, attackEvents[0]!['@timestamp']);
    assert.equal(result.stderr, '');
  });

  it('run again (text output) exits 0: the alert is already known, not new', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Checked \d+ window\(s\) from \S+ to \S+ in \d+ ms: 0 new, 1 already known, \d+ suppressed\.\n/);
    assert.match(result.stdout, /\n {5}\[HIGH\] Brute force against one account \(T1110(\.001)?\): .*"cli-victim"/);
    assert.doesNotMatch(result.stdout, /still open/);
    const { count } = await es.count({ index: `${attacked}-alerts-*`, query: { term: { 'event.kind': 'alert' } } });
    assert.equal(count, 1);
  });

  it('run --any-alert exits 1 while an alert exists in the judged range, new or not', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h', '--any-alert', '--json'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    const out = json<RunOutput>(result);
    assert.deepEqual(out.created, []);
    assert.deepEqual(out.inRange?.map((a) => [a.rule.id, a.sentinel.alert.entity]), [['brute_force_account', 'cli-victim']]);
    const text = await runCli(['anomalies', 'run', '--since', '1h', '--any-alert'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /\n1 alert\(s\) in the judged range, whichever run wrote them\.\n/);
    const none = await runCli(['anomalies', 'run', '--since', '1h', '--any-alert', '--json'], { env: envFor(clean), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(json<RunOutput>(none).inRange, []);
  });

  it('run --until now judges the open window: an attack of the last minutes is reported at once, and it says so', async () => {
    const now = Date.now();
    await indexEvents(es, fresh, spread(12, now - 100_000, 90_000, (_i, at) => fail('fresh-victim', '198.51.100.40', at)));
    const plain = await runCli(['anomalies', 'run', '--json'], { env: envFor(fresh), timeoutMs: SPAWN_TIMEOUT_MS });
    const result = await runCli(['anomalies', 'run', '--until', 'now', '--json'], { env: envFor(fresh), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    const out = json<RunOutput>(result);
    assert.ok(out.openWindowEnd, 'the open window was judged');
    assert.equal(out.to, out.openWindowEnd);
    const end = Date.parse(out.openWindowEnd);
    assert.ok(end >= now && end <= Date.now(), `the open window ends when the command ran, not later: ${out.openWindowEnd}`);
    assert.ok(Date.parse(out.closedTo) % (5 * MINUTE) === 0 && Date.parse(out.closedTo) <= end - MINUTE, out.closedTo);
    const victims = [...out.created, ...out.existing].filter((a) => a.sentinel.alert.entity === 'fresh-victim');
    assert.equal(victims.length, 1, `found once (the plain run before it exited ${plain.code})`);
    assert.equal(victims[0]!['@timestamp'] <= new Date().toISOString(), true, 'not dated in the future');
    // The checkpoint stays on the closed windows, which the scheduled job judges as usual.
    const state = await es.get({ index: `${fresh}-anomaly-state`, id: 'runner' });
    assert.equal((state._source as { last_checked: string }).last_checked, out.closedTo);

    const text = await runCli(['anomalies', 'run', '--until', 'now'], { env: envFor(fresh), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(text.code, 0, `the finding is known now: ${text.stdout}${text.stderr}`);
    assert.match(text.stdout, /\nThe last window, ending \S+, was still open: judged on demand with the events indexed so far\. The checkpoint stays at \S+;/);
  });

  it('run --since 1h --json exits 0 on a clean prefix', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h', '--json'], { env: envFor(clean), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    const out = json<RunOutput>(result);
    assert.deepEqual(out.alerts, []);
    assert.deepEqual(out.created, []);
    assert.ok(out.windows >= 11);
  });

  // The library's own hint is neutral ("is the URL right?"); the CLI, which reads ELASTICSEARCH_URL, names it.
  it('run exits 3 with a clear message when Elasticsearch is unreachable; with --json, as JSON on stdout', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const env = { ELASTICSEARCH_URL: dead, ES_INDEX_PREFIX: clean };
    const result = await runCli(['anomalies', 'run', '--since', '1h'], { env, timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 3);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^koa-sentinel anomalies run: Cannot reach Elasticsearch at ${dead.replaceAll('.', '\\.')}.*ELASTICSEARCH_URL`, 's'));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    for (const args of [['run', '--since', '1h', '--json'], ['list', '--json'], ['review', '--json']]) {
      const failed = await runCli(['anomalies', ...args], { env, timeoutMs: SPAWN_TIMEOUT_MS });
      assert.equal(failed.code, 3, args.join(' '));
      const error = jsonError(failed);
      assert.equal(error.code, 'es_unreachable');
      assert.match(error.message, /^Cannot reach Elasticsearch at .*ELASTICSEARCH_URL/s);
    }
  });

  it('run exits 2 on a bad --since', async () => {
    const result = await runCli(['anomalies', 'run', '--since', 'yesterday'], { env: envFor(clean), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--since must be a duration/);
  });

  it('usage and configuration errors exit 2, with --json as JSON with a stable code', async () => {
    const cases: Array<[string[], Record<string, string>, string, RegExp]> = [
      [['run', '--since', 'yesterday', '--json'], envFor(clean), 'usage', /--since must be a duration/],
      [['run', '--until', 'soon', '--json'], envFor(clean), 'usage', /--until must be "now" or an ISO 8601 time/],
      [['run', '--frobnicate', '--json'], envFor(clean), 'usage', /frobnicate/],
      [['run', '--html', 'x.html', '--json'], envFor(clean), 'usage', /anomalies run does not take --html/],
      [['review', '--day', '20-11-2026', '--json'], envFor(clean), 'usage', /--day must be YYYY-MM-DD/],
      [['purge', '--json'], envFor(clean), 'usage', /^Usage: koa-sentinel anomalies run/],
      [['run', '--json'], { ES_INDEX_PREFIX: clean }, 'config_invalid', /ELASTICSEARCH_URL is required/],
    ];
    for (const [args, env, code, message] of cases) {
      const result = await runCli(['anomalies', ...args], { env, timeoutMs: SPAWN_TIMEOUT_MS });
      assert.equal(result.code, 2, args.join(' '));
      const error = jsonError(result);
      assert.equal(error.code, code, args.join(' '));
      assert.match(error.message, message);
    }
  });

  it('list --json lists the alerts, newest first', async () => {
    const result = await runCli(['anomalies', 'list', '--json'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    const alerts = json<AlertDocument[]>(result);
    assert.deepEqual(alerts.map((a) => [a.event.kind, a.rule.id, a.sentinel.alert.entity]), [['alert', 'brute_force_account', 'cli-victim']]);
    const empty = await runCli(['anomalies', 'list', '--json'], { env: envFor(clean), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(json<unknown[]>(empty), []);
  });

  it('review --html writes the page, and stores it with the review as review-<day>', async () => {
    // A fixed past day: its logins, failures, devices and alerts are known exactly.
    const day = '2026-11-20';
    const at = (h: number, m: number): number => Date.UTC(2026, 10, 20, h, m);
    const daysBefore = (days: number): number => at(12, 0) - days * 24 * 60 * MINUTE;
    await indexEvents(es, reviewed, [
      ...spread(12, at(11, 41), 8 * MINUTE, (i, t) => fromCountry(fail(i < 10 ? 'mallory' : 'bob', i < 11 ? '192.0.2.7' : '192.0.2.8', t), i < 8 ? 'NL' : undefined)),
      ...spread(5, at(9, 0), 5 * 60 * MINUTE, (i, t) => onDevice(success(`user${i}`, '100.64.0.1', t), FIREFOX)),
      onDevice(event({ action: 'authn_login_successafterfail', user: 'bob', ip: '192.0.2.8', at: at(11, 52) }), { browser: 'Mobile Safari', os: 'iOS', device: 'iPhone' }),
      onDevice(success(HOSTILE, '192.0.2.66', at(14, 30)), { browser: 'Chrome', os: 'Android', device: '<b>Pixel</b>' }),
      // A new browser for user0, but the login carried user0's device cookie: not a new device, for the review as
      // for the new_device_for_user alert.
      { ...onDevice(success('user0', '100.64.0.1', at(15, 0)), { browser: 'Edge', os: 'Windows' }), sentinel: { known_device: true } },
      event({ action: 'authz_fail', user: 'user1', ip: '100.64.0.1', at: at(10, 0), path: '/admin/users' }),
      fail('yesterday', '192.0.2.9', at(-1, 0)),
      // The baseline: user0, user1 and the hostile name on their usual device, user2 and bob on another one; user3
      // only 40 days before (outside the 30 days): no history, so nothing of theirs is "new".
      ...['user0', 'user1', HOSTILE].map((user, i) => onDevice(success(user, '100.64.0.1', daysBefore(3 + i)), FIREFOX)),
      ...['user2', 'bob'].map((user, i) => onDevice(success(user, '100.64.0.1', daysBefore(5 + i)), { browser: 'Chrome', os: 'Windows' })),
      onDevice(success('user3', '100.64.0.1', daysBefore(40)), { browser: 'Chrome', os: 'Windows' }),
    ]);
    const alerts = await createAnomalyRunner({ client: es, indexPrefix: reviewed, rules: [bruteForceAccount as unknown as Rule], now: () => Date.UTC(2026, 10, 20, 12, 0, 30) })
      .run({ since: new Date(at(11, 50)) });
    assert.equal(alerts.created.length, 1);

    const file = join(outDir, 'review.html');
    const result = await runCli(['anomalies', 'review', '--day', day, '--html', file, '--json'], { env: envFor(reviewed), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const review = json<DailyReview>(result);
    assert.ok(Date.parse(review.builtAt) > at(24, 0), review.builtAt);
    const hours = Object.fromEntries(review.hourly.filter((h) => h.success || h.failure).map((h) => [h.hour.slice(11, 13), [h.success, h.failure]]));
    assert.equal(review.hourly.length, 24);
    assert.deepEqual(hours, { '09': [1, 0], 10: [1, 0], 11: [2, 12], 12: [1, 0], 13: [1, 0], 14: [1, 0], 15: [1, 0] });
    assert.deepEqual({ ...review, builtAt: undefined, hourly: undefined }, {
      day,
      builtAt: undefined,
      hourly: undefined,
      logins: { success: 8, failure: 12 },
      events: { authn_login_fail: 12, authn_login_success: 7, authn_login_successafterfail: 1, authz_fail: 1 },
      topFailingSources: [{ key: '192.0.2.7', count: 11 }, { key: '192.0.2.8', count: 1 }],
      topFailingCountries: [{ key: 'NL', count: 8 }, { key: 'unknown', count: 4 }],
      topFailingUsers: [{ key: 'mallory', count: 10 }, { key: 'bob', count: 2 }],
      newDevices: [
        { user: 'user2', browser: 'Firefox', os: 'Linux', device: 'unknown', firstSeen: '2026-11-20T11:00:00.000Z' },
        { user: 'bob', browser: 'Mobile Safari', os: 'iOS', device: 'iPhone', firstSeen: '2026-11-20T11:52:00.000Z' },
        { user: HOSTILE, browser: 'Chrome', os: 'Android', device: '<b>Pixel</b>', firstSeen: '2026-11-20T14:30:00.000Z' },
      ],
      alertsByRule: [{ key: 'brute_force_account', count: 1 }],
      alertsBySeverity: [{ key: 'high', count: 1 }],
    });

    // The page: written, escaped, self-contained; and the same page stored with the review.
    const html = readFileSync(file, 'utf8');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'it names users and addresses: readable by its owner only');
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(!html.includes(HOSTILE) && !html.includes('<b>Pixel'));
    assert.doesNotMatch(html, /:\/\/|<script/);
    assert.equal((html.match(/<svg /g) ?? []).length, 6);
    const stored = await es.get({ index: `${reviewed}-alerts-2026.11.20`, id: `review-${day}` });
    const doc = stored._source as { ecs: { version: string }; event: Record<string, unknown>; sentinel: { review: DailyReview; review_html: string }; '@timestamp': string };
    assert.equal(doc.ecs.version, ECS_VERSION);
    assert.deepEqual({ ...doc.event, created: undefined }, {
      id: `review-${day}`, kind: 'metric', dataset: 'sentinel.review', created: undefined, start: '2026-11-20T00:00:00.000Z', end: '2026-11-20T23:59:59.999Z',
    });
    assert.equal(doc['@timestamp'], '2026-11-20T23:59:59.999Z');
    assert.deepEqual(doc.sentinel.review, review);
    assert.equal(doc.sentinel.review_html, html);
    // Kept in _source, not indexed: a search on the page's text finds nothing.
    const searched = await es.search({ index: `${reviewed}-alerts-*`, query: { match: { 'sentinel.review_html': 'Security' } } });
    assert.equal(searched.hits.hits.length, 0);
    // The review is a metric, not an alert: it does not show up among the alerts.
    const list = await createAnomalyRunner({ client: es, indexPrefix: reviewed }).list(new Date(at(0, 0)));
    assert.deepEqual(list.map((a) => a.event.kind), ['alert']);

    // Run again: replaced, not duplicated.
    const again = await runCli(['anomalies', 'review', '--day', day, '--json'], { env: envFor(reviewed), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(again.code, 0, again.stderr);
    await es.indices.refresh({ index: `${reviewed}-alerts-*` });
    const { count } = await es.count({ index: `${reviewed}-alerts-*`, query: { term: { 'event.kind': 'metric' } } });
    assert.equal(count, 1);
  });

  it('review --html to a path that cannot be written exits 2 and stores nothing', async () => {
    const day = '2026-11-19';
    const result = await runCli(['anomalies', 'review', '--day', day, '--html', join(outDir, 'missing', 'r.html'), '--json'], { env: envFor(reviewed), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 2);
    const error = jsonError(result);
    assert.equal(error.code, 'output_failed');
    assert.match(error.message, /ENOENT/);
    assert.equal(await es.exists({ index: `${reviewed}-alerts-2026.11.19`, id: `review-${day}` }), false);
  });

  it('review without --day summarises today (UTC)', async () => {
    const dayBefore = new Date().toISOString().slice(0, 10);
    const result = await runCli(['anomalies', 'review', '--json'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    const afterDay = new Date().toISOString().slice(0, 10);
    assert.equal(result.code, 0, result.stderr);
    const review = json<DailyReview>(result);
    assert.ok([dayBefore, afterDay].includes(review.day), review.day);
    // The attack is from a quarter of an hour ago: today, unless the test runs in the first minutes after midnight.
    if (attackEvents[0]!['@timestamp'].startsWith(review.day)) {
      assert.equal(review.logins.failure, 12);
      assert.deepEqual(review.topFailingUsers, [{ key: 'cli-victim', count: 12 }]);
      assert.deepEqual(review.alertsByRule, [{ key: 'brute_force_account', count: 1 }]);
    }
    const stored = await es.get({ index: `${attacked}-alerts-${review.day.replaceAll('-', '.')}`, id: `review-${review.day}` });
    assert.equal((stored._source as { event: { kind: string } }).event.kind, 'metric');
  });

  it('review prints a readable report without --json', async () => {
    const result = await runCli(['anomalies', 'review', '--day', '2026-11-20'], { env: envFor(reviewed), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Security review for 2026-11-20 \(UTC\)\n/);
    assert.match(result.stdout, /Logins: 20 \(8 succeeded, 12 failed, 60% failure\)/);
    assert.match(result.stdout, /Top failing sources:\n\s+11 {2}192\.0\.2\.7\n/);
    assert.match(result.stdout, /Top failing countries:\n\s+8 {2}NL\n\s+4 {2}unknown\n/);
    assert.match(result.stdout, /New devices:\n {4}11:00 {2}user2: Firefox on Linux\n {4}11:52 {2}bob: Mobile Safari on iOS \(iPhone\)\n/);
    assert.match(result.stdout, /Alerts by rule:\n\s+1 {2}brute_force_account\n/);
  });
});
