/**
 * The whole Elasticsearch path with the client a user of this server would bring: @elastic/elasticsearch 8.19
 * against an 8.x node, 9.x (the `es9` alias devDependency) against a 9.x node. The major is read from the node, so
 * the same file proves both pairs: run it once with ELASTICSEARCH_URL on an 8.x node and once on a 9.x node.
 *
 * The pairing is the only one that works in one direction: a 9.x client sends
 * `Accept: application/vnd.elasticsearch+json; compatible-with=9`, which an 8.x server refuses (it knows
 * compatible-with=7 and 8 only), so an 8.x server needs an 8.x client. A 9.x server still serves an 8.19 client
 * (compatible-with=8); the other tests, which use createElasticClient, cover that pair.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as Client8 } from '@elastic/elasticsearch';
import { Client as Client9 } from 'es9';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { createElasticClient, type ElasticClient } from '../../src/elastic/client.js';
import { createLoginHistory } from '../../src/elastic/login-history.js';
import { createRetention } from '../../src/elastic/retention.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { createShipper } from '../../src/elastic/shipper.js';
import { buildSecurityEvent, type SecurityEvent } from '../../src/events/security-event.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { removeSpool } from '../support/secret-ledger.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const require = createRequire(import.meta.url);

/** The installed version of a package that does not export its package.json: read next to its entry point. */
function packageVersion(name: string): string {
  const { version } = JSON.parse(readFileSync(join(dirname(require.resolve(name)), 'package.json'), 'utf8')) as { version: string };
  return version;
}

/** The node's version from the node info API, without a client: which client to use is what this decides. */
async function nodeVersion(url: string): Promise<string> {
  const response = await fetch(`${url}/_nodes/_local?filter_path=nodes.*.version`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { nodes: Record<string, { version: string }> };
  return Object.values(body.nodes)[0]!.version;
}

interface PickedClient {
  /** The package version, to show which client ran. */
  version: string;
  client: ElasticClient;
  /** Makes what was just written searchable (not part of ElasticClient: koa-sentinel never refreshes). */
  refresh(index: string): Promise<unknown>;
}

/** The client major matching the server major, configured as createElasticClient configures its own. */
function clientFor(major: number, url: string): PickedClient {
  const options = { node: url, maxRetries: 0, requestTimeout: 60_000, compression: false };
  if (major === 8) {
    const client = new Client8(options);
    return { version: packageVersion('@elastic/elasticsearch'), client, refresh: (index) => client.indices.refresh({ index }) };
  }
  if (major === 9) {
    const client = new Client9(options);
    return { version: packageVersion('es9'), client, refresh: (index) => client.indices.refresh({ index }) };
  }
  throw new Error(`No client for Elasticsearch ${major}.x`);
}

describe('the user\'s own client, of the server\'s major', () => {
  let url: string;
  let serverMajor: number;
  let picked: PickedClient;
  let dir: string;
  const prefix = uniquePrefix('majors');
  const user = `mallory-${prefix.slice(-6)}`;
  // Twelve failed logins in four minutes (the brute_force_account rule wants ten in 15 minutes), then a success.
  const start = Date.now() - 6 * MINUTE;
  const events: SecurityEvent[] = [
    ...Array.from({ length: 12 }, (_, i) => buildSecurityEvent('authn_login_fail', {
      reason: 'bad_password', user: { name: user }, source: { ip: '198.51.100.23' }, userAgent: 'client-majors/1.0',
      urlPath: '/auth/login', http: { method: 'POST', statusCode: 401 }, timestamp: new Date(start + i * 20_000),
    })),
    buildSecurityEvent('authn_login_successafterfail', {
      user: { name: user }, source: { ip: '198.51.100.23' }, userAgent: 'client-majors/1.0',
      urlPath: '/auth/login', http: { method: 'POST', statusCode: 200 }, timestamp: new Date(start + 5 * MINUTE),
    }),
  ];

  before(async () => {
    url = (await sharedElasticsearch()).url;
    serverMajor = Number((await nodeVersion(url)).split('.')[0]);
    picked = clientFor(serverMajor, url);
    dir = mkdtempSync(join(tmpdir(), 'sentinel-majors-'));
  });

  after(async () => {
    await picked?.client.close();
    removeSpool(dir, 'client-majors');
    // Clean-up is not under test: the 8.19 client talks to both majors.
    const admin = createElasticClient({ url, requestTimeoutMs: 60_000 });
    await dropPrefix(admin, prefix);
    await admin.close();
  });

  it('is the client of the server\'s major', () => {
    assert.equal(Number(picked.version.split('.')[0]), serverMajor, `client ${picked.version} for server ${serverMajor}.x`);
  });

  it('setupElasticsearch installs the templates', async () => {
    const result = await setupElasticsearch(picked.client, prefix, url);
    assert.equal(Number(result.version.split('.')[0]), serverMajor);
    assert.deepEqual(result.indexTemplates.sort(), [`${prefix}-access`, `${prefix}-alerts`, `${prefix}-deadletter`, `${prefix}-events`]);
  });

  it('createShipper delivers security events and flush drains', async () => {
    const errors: string[] = [];
    const shipper = createShipper({ client: picked.client, indexPrefix: prefix, dir, onError: (message) => errors.push(message) });
    shipper.start();
    for (const event of events) shipper.write({ ...event });
    const drained = await shipper.close(30_000);
    const stats = shipper.stats();
    assert.equal(drained, true, JSON.stringify(stats));
    assert.deepEqual(errors, []);
    assert.equal(stats.delivered, events.length, JSON.stringify(stats));
    assert.equal(stats.deadLettered, 0, JSON.stringify(stats));
    await picked.refresh(`${prefix}-events-*`);
  });

  it('createLoginHistory reads them back, newest first, in pages', async () => {
    const history = createLoginHistory({ client: picked.client, indexPrefix: prefix, timeoutMs: 10_000 });
    const first = await history({ userName: user, size: 10 });
    assert.equal(first.logins.length, 10);
    assert.deepEqual(first.logins[0], { time: events.at(-1)!['@timestamp'], outcome: 'success', action: 'authn_login_successafterfail', sourceIp: '198.51.100.23', userAgent: 'client-majors/1.0' });
    assert.ok(first.nextCursor);
    const second = await history({ userName: user, size: 10, cursor: first.nextCursor });
    assert.equal(second.logins.length, events.length - 10);
    assert.equal(second.nextCursor, null);
    const times = [...first.logins, ...second.logins].map((login) => login.time);
    assert.deepEqual(times, events.map((event) => event['@timestamp']).reverse());
    assert.ok(second.logins.every((login) => login.outcome === 'failure' && login.action === 'authn_login_fail'));
  });

  it('createAnomalyRunner finds the brute force, writes one alert and lists it', async () => {
    const runner = createAnomalyRunner({ client: picked.client, indexPrefix: prefix, requestTimeoutMs: 60_000 });
    const result = await runner.run({ since: new Date(start - 10 * MINUTE), until: new Date() });
    const mine = result.created.filter((alert) => alert.rule.id === 'brute_force_account');
    assert.equal(mine.length, 1, JSON.stringify(result.created.map((alert) => alert.rule.id)));
    assert.equal(mine[0]!.sentinel.alert.entity, user);
    assert.ok(Number(mine[0]!.sentinel.alert.count) >= 10);
    const again = await runner.run({ since: new Date(start - 10 * MINUTE), until: new Date() });
    assert.equal(again.created.length, 0, 'a re-run creates nothing');
    const listed = await runner.list(new Date(start - DAY));
    assert.ok(listed.some((alert) => alert.event.id === mine[0]!.event.id));
  });

  it('createRetention keeps today\'s indices and deletes them once they are past retention', async () => {
    const days = { events: 1, access: 1, alerts: 1, deadletter: 1 };
    const today = await createRetention({ client: picked.client, indexPrefix: prefix, days })();
    assert.deepEqual(today.deleted, []);
    assert.ok(today.kept >= 2, JSON.stringify(today));
    const later = await createRetention({ client: picked.client, indexPrefix: prefix, days, now: () => Date.now() + 3 * DAY })();
    assert.ok(later.deleted.some((index) => index.startsWith(`${prefix}-events-`)), JSON.stringify(later));
    assert.ok(later.deleted.some((index) => index.startsWith(`${prefix}-alerts-`)), JSON.stringify(later));
    const again = await createRetention({ client: picked.client, indexPrefix: prefix, days, now: () => Date.now() + 3 * DAY })();
    assert.deepEqual(again.deleted, []);
  });

  // The other pairing, whichever node this is: an 8.19 client on a 9.x server works, a 9.x client on 8.x does not.
  it('the other client major: an 8.19 client on a 9.x server works, a 9.x client on an 8.x server is refused', async () => {
    if (serverMajor === 9) {
      const older = new Client8({ node: url, maxRetries: 0, requestTimeout: 60_000 });
      try {
        const found = await createLoginHistory({ client: older, indexPrefix: prefix, timeoutMs: 10_000 })({ userName: user, size: 1 });
        assert.equal(found.logins.length, 0, 'retention deleted the events');
        assert.equal(Number((await setupElasticsearch(older, prefix)).version.split('.')[0]), 9);
      } finally {
        await older.close();
      }
      return;
    }
    const newer = new Client9({ node: url, maxRetries: 0, requestTimeout: 60_000 });
    try {
      await assert.rejects(setupElasticsearch(newer, prefix, url), (error: Error & { cause?: { statusCode?: number; body?: unknown } }) => {
        assert.equal(error.cause?.statusCode, 400);
        // "Accept version must be either version 8 or 7, but found 9."
        assert.match(JSON.stringify(error.cause?.body), /media_type_header_exception.*but found 9/);
        return true;
      });
    } finally {
      await newer.close();
    }
  });
});
