/**
 * `koa-sentinel anomalies run|list|review` as an operator runs them: the real CLI in a child process, against the
 * real Elasticsearch, configured by ELASTICSEARCH_URL and ES_INDEX_PREFIX only. `run` exits 1 when it found alerts,
 * 0 when it found none, 2 when it could not do its job.
 *
 * The CLI reads the real clock, so the attack is timestamped relative to it: 12 failed logins 16 to 14 minutes
 * ago, whole inside the 15-minute windows `--since 1h` evaluates (the newest ends 1 to 6 minutes ago).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import type { AlertDocument } from '../../src/anomaly/alerts.js';
import type { DailyReview } from '../../src/anomaly/review.js';
import { bruteForceAccount } from '../../src/anomaly/rules/authentication.js';
import type { Rule } from '../../src/anomaly/rules/types.js';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { runCli, type CliResult } from '../support/cli.js';
import { dropPrefix, freePort, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { event, fail, indexEvents, spread, success } from '../support/events.js';

/** Generous: tsx compiles the CLI on start, which is slow on a loaded machine. */
const SPAWN_TIMEOUT_MS = 60_000;
const MINUTE = 60_000;

function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}


type RunOutput = { windows: number; created: AlertDocument[]; existing: AlertDocument[]; suppressed: number; alerts: AlertDocument[] };

describe('koa-sentinel anomalies', () => {
  let es: Client;
  let url: string;
  const attacked = uniquePrefix('cli-attack');
  const clean = uniquePrefix('cli-clean');
  const reviewed = uniquePrefix('cli-review');
  let attackEvents: ReturnType<typeof fail>[];

  before(async () => {
    url = (await sharedElasticsearch()).url;
    es = createElasticClient({ url });
    for (const prefix of [attacked, clean, reviewed]) await setupElasticsearch(es, prefix);
    const now = Date.now();
    // All twelve inside one 5-minute grid interval that the newest judged window (ending at a grid point at least a
    // minute back) certainly covers: the alert's count is then 12 whatever the time of day the test runs.
    const grid = Math.floor((now - 6 * MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    attackEvents = spread(12, grid - 4 * MINUTE, 15_000, (_i, at) => fail('cli-victim', '198.51.100.23', at));
    await indexEvents(es, attacked, [...attackEvents, success('someone', '100.64.0.1', now - 20 * MINUTE)]);
  });

  after(async () => {
    for (const prefix of [attacked, clean, reviewed]) await dropPrefix(es, prefix);
    await es.close();
  });

  const envFor = (prefix: string): Record<string, string> => ({ ELASTICSEARCH_URL: url, ES_INDEX_PREFIX: prefix });

  it('run --since 1h --json exits 1 and prints the alerts when an attack is indexed', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h', '--json'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    const out = json<RunOutput>(result);
    assert.ok(out.windows >= 11 && out.windows <= 12, `${out.windows} windows`);
    assert.equal(out.created.length, 1);
    assert.deepEqual(out.existing, []);
    const [alert, ...rest] = out.alerts;
    assert.deepEqual(rest, []);
    assert.equal(alert?.event.kind, 'alert');
    assert.equal(alert?.rule.id, 'brute_force_account');
    assert.equal(alert?.threat.technique.id, 'T1110.001');
    assert.deepEqual(alert?.user, { name: 'cli-victim' });
    assert.equal(alert?.sentinel.alert.count, 12);
    assert.equal(alert?.sentinel.alert.first_seen, attackEvents[0]!['@timestamp']);
    assert.equal(result.stderr, '');
  });

  it('run again (text output) still exits 1: the alert is already known, not new', async () => {
    const result = await runCli(['anomalies', 'run', '--since', '1h'], { env: envFor(attacked), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^Checked \d+ window\(s\) from \S+ to \S+ in \d+ ms: 0 new, 1 already known, \d+ suppressed\.\n/);
    assert.match(result.stdout, /\n {5}\[HIGH\] Brute force against one account \(T1110\.001\): .*"cli-victim"/);
    const { count } = await es.count({ index: `${attacked}-alerts-*`, query: { term: { 'event.kind': 'alert' } } });
    assert.equal(count, 1);
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
  it('run exits 2 with a clear message when Elasticsearch is unreachable', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['anomalies', 'run', '--since', '1h', '--json'], { env: { ELASTICSEARCH_URL: dead, ES_INDEX_PREFIX: clean }, timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^koa-sentinel anomalies run: Cannot reach Elasticsearch at ${dead.replaceAll('.', '\\.')}.*ELASTICSEARCH_URL`, 's'));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  it('run exits 2 on a bad --since', async () => {
    const result = await runCli(['anomalies', 'run', '--since', 'yesterday'], { env: envFor(clean), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--since must be a duration/);
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

  it('review --json prints the day\'s summary and stores it as review-<day>', async () => {
    // A fixed past day: its logins, failures and alerts are known exactly.
    const day = '2026-11-20';
    const at = (h: number, m: number): number => Date.UTC(2026, 10, 20, h, m);
    await indexEvents(es, reviewed, [
      ...spread(12, at(11, 41), 8 * MINUTE, (i, t) => fail(i < 10 ? 'mallory' : 'bob', i < 11 ? '192.0.2.7' : '192.0.2.8', t)),
      ...spread(5, at(9, 0), 60 * MINUTE, (i, t) => success(`user${i}`, '100.64.0.1', t)),
      event({ action: 'authn_login_successafterfail', user: 'bob', ip: '192.0.2.8', at: at(11, 52) }),
      event({ action: 'authz_fail', user: 'user1', ip: '100.64.0.1', at: at(10, 0), path: '/admin/users' }),
      fail('yesterday', '192.0.2.9', at(-1, 0)),
    ]);
    const alerts = await createAnomalyRunner({ client: es, indexPrefix: reviewed, rules: [bruteForceAccount as unknown as Rule], now: () => Date.UTC(2026, 10, 20, 12, 0, 30) })
      .run({ since: new Date(at(11, 50)) });
    assert.equal(alerts.created.length, 1);

    const result = await runCli(['anomalies', 'review', '--day', day, '--json'], { env: envFor(reviewed), timeoutMs: SPAWN_TIMEOUT_MS });
    assert.equal(result.code, 0, result.stderr);
    const review = json<DailyReview>(result);
    assert.deepEqual(review, {
      day,
      logins: { success: 6, failure: 12 },
      events: { authn_login_fail: 12, authn_login_success: 5, authn_login_successafterfail: 1, authz_fail: 1 },
      topFailingSources: [{ key: '192.0.2.7', count: 11 }, { key: '192.0.2.8', count: 1 }],
      topFailingUsers: [{ key: 'mallory', count: 10 }, { key: 'bob', count: 2 }],
      alertsByRule: [{ key: 'brute_force_account', count: 1 }],
    });

    const stored = await es.get({ index: `${reviewed}-alerts-2026.11.20`, id: `review-${day}` });
    const doc = stored._source as { event: { kind: string; id: string }; sentinel: { review: DailyReview }; '@timestamp': string };
    assert.equal(doc.event.kind, 'metric');
    assert.equal(doc.event.id, `review-${day}`);
    assert.deepEqual(doc.sentinel.review, review);
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
    assert.match(result.stdout, /Logins: 18 \(6 succeeded, 12 failed, 67% failure\)/);
    assert.match(result.stdout, /Top failing sources:\n\s+11 {2}192\.0\.2\.7\n/);
    assert.match(result.stdout, /Alerts by rule:\n\s+1 {2}brute_force_account\n/);
  });
});
