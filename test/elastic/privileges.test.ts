/**
 * The least-privilege identities (src/elastic/privileges.ts, docs/elasticsearch.md#privileges) on a real node with
 * security on: the minimal distribution's file realm, with a roles.yml written from buildRolesYaml and one user per
 * identity. The app's identity ships everything yet is refused when it reads, overwrites, updates or deletes an
 * event; the job's identity runs the anomaly runner; setup installs templates and nothing else; analysts only read;
 * retention deletes whole expired days and reads nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { buildApiKeyRequests, buildRoles, buildRolesYaml, createIdentities, IDENTITIES, identityName, type SentinelIdentity } from '../../src/elastic/privileges.js';
import { createRetention } from '../../src/elastic/retention.js';
import { createShipper } from '../../src/elastic/shipper.js';
import { dailyIndex } from '../../src/elastic/templates.js';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import { createLogger, logSecurityEvent } from '../../src/logging/logger.js';
import { runCli } from '../support/cli.js';
import { startElasticsearch, type ElasticsearchProcess } from '../support/elasticsearch.js';
import { fail, indexEvents, spread } from '../support/events.js';
import { removeSpool } from '../support/secret-ledger.js';

const PREFIX = 'priv';
const PASSWORDS = Object.fromEntries(IDENTITIES.map((identity) => [identity, `${identity}-Privileges-Test-31`])) as Record<SentinelIdentity, string>;

let node: ElasticsearchProcess;
let admin: Client;
const clients = new Map<SentinelIdentity, Client>();
const as = (identity: SentinelIdentity): Client => clients.get(identity)!;

/** The status of a refused call (403), or 0 if it was allowed. */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 0;
  } catch (error) {
    return (error as { statusCode?: number }).statusCode ?? -1;
  }
}

before(async () => {
  node = await startElasticsearch({
    security: true,
    rolesYaml: buildRolesYaml(PREFIX),
    users: IDENTITIES.map((identity) => ({ username: identityName(PREFIX, identity), password: PASSWORDS[identity], roles: [identityName(PREFIX, identity)] })),
  });
  admin = createElasticClient({ url: node.url, username: node.username, password: node.password, requestTimeoutMs: 60_000 });
  for (const identity of IDENTITIES) {
    clients.set(identity, createElasticClient({ url: node.url, username: identityName(PREFIX, identity), password: PASSWORDS[identity], requestTimeoutMs: 30_000 }));
  }
});

after(async () => {
  for (const client of clients.values()) await client.close();
  await admin?.close();
  await node?.destroy();
});

describe('role definitions', () => {
  it('gives the app create_doc and auto_configure on its daily indices, and nothing else', () => {
    const roles = buildRoles('sentinel');
    assert.deepEqual(Object.keys(roles), IDENTITIES.map((identity) => `sentinel_${identity}`));
    const app = roles.sentinel_app!;
    assert.deepEqual(app.cluster, []);
    assert.deepEqual(app.indices, [{ names: ['sentinel-events-*', 'sentinel-access-*', 'sentinel-alerts-*', 'sentinel-deadletter-*'], privileges: ['create_doc', 'auto_configure'] }]);
    for (const [name, role] of Object.entries(roles)) {
      for (const grant of role.indices) {
        for (const index of grant.names) assert.match(index, /^sentinel-/, `${name} reaches outside the prefix: ${index}`);
        assert.ok(!grant.privileges.some((p) => ['all', 'write', 'delete', 'manage'].includes(p)), `${name}: ${grant.privileges.join(',')}`);
      }
      assert.ok(!role.cluster.some((p) => ['all', 'manage', 'manage_security'].includes(p)), name);
    }
  });

  it('prints role descriptors, roles.yml and API-key requests without Elasticsearch', async () => {
    const json = await runCli(['setup', 'roles', '--prefix', 'acme'], { env: {} });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), buildRoles('acme'));
    const yaml = await runCli(['setup', 'roles', '--format', 'yaml'], { env: { ES_INDEX_PREFIX: 'acme' } });
    assert.equal(yaml.stdout, buildRolesYaml('acme'));
    const keys = await runCli(['setup', 'roles', '--format', 'api-keys', '--prefix', 'acme', '--expiration', '90d'], { env: {} });
    const requests = JSON.parse(keys.stdout) as ReturnType<typeof buildApiKeyRequests>;
    assert.deepEqual(requests.app, { name: 'acme_app', expiration: '90d', role_descriptors: { acme_app: buildRoles('acme').acme_app }, metadata: { managed_by: 'koa-sentinel' } });
    assert.equal((await runCli(['setup', 'roles', '--format', 'toml'], { env: {} })).code, 2);
  });

  it('creates roles and users through the security API, refusing placeholder and short passwords first', async () => {
    const calls: string[] = [];
    const fake = { security: { putRole: async (r: { name: string }) => { calls.push(`role ${r.name}`); }, putUser: async (u: { username: string }) => { calls.push(`user ${u.username}`); } } };
    await assert.rejects(createIdentities(fake, 'acme', { app: 'change-me-app-password' }), /app identity/);
    await assert.rejects(createIdentities(fake, 'acme', { jobs: 'short' }), /at least 16/);
    assert.deepEqual(calls, []);
    const result = await createIdentities(fake, 'acme', { app: 'a-long-enough-app-password' });
    assert.deepEqual(result.users, ['acme_app']);
    assert.deepEqual(calls, [...IDENTITIES.map((identity) => `role acme_${identity}`), 'user acme_app']);
    const placeholder = await runCli(['setup'], { env: { ELASTICSEARCH_URL: 'http://127.0.0.1:9', ELASTICSEARCH_USERNAME: 'elastic', ELASTICSEARCH_PASSWORD: 'change-me-elastic' } });
    assert.equal(placeholder.code, 2);
    assert.match(placeholder.stderr, /ELASTICSEARCH_PASSWORD is a placeholder/);
  });
});

describe('on a secured node (file realm)', () => {
  it('setup installs the templates as the setup identity, which can write no document', async () => {
    const env = { ELASTICSEARCH_URL: node.url, ES_INDEX_PREFIX: PREFIX, ELASTICSEARCH_USERNAME: identityName(PREFIX, 'setup'), ELASTICSEARCH_PASSWORD: PASSWORDS.setup, NODE_ENV: 'production' };
    const result = await runCli(['setup'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await statusOf(() => as('setup').index({ index: `${PREFIX}-events-2026.01.01`, document: {} })), 403);
    assert.equal(await statusOf(() => as('setup').search({ index: `${PREFIX}-*` })), 403);
    // It adds new fields to days that already exist, and can still neither write nor delete them.
    const existing = `${PREFIX}-access-2026.01.02`;
    await admin.indices.create({ index: existing, mappings: { dynamic: 'strict', properties: { '@timestamp': { type: 'date' } } } });
    const again = await runCli(['setup'], { env });
    assert.equal(again.code, 0, again.stderr);
    const mapping = (await admin.indices.getMapping({ index: existing }))[existing]!.mappings as { properties: Record<string, unknown> };
    assert.ok('source' in mapping.properties && 'event' in mapping.properties, JSON.stringify(Object.keys(mapping.properties)));
    assert.equal(await statusOf(() => as('setup').indices.delete({ index: existing })), 403);
    await admin.indices.delete({ index: existing });
    // setup identities needs manage_security, which no identity has.
    const identities = await runCli(['setup', 'identities'], { env });
    assert.equal(identities.code, 1);
    assert.match(identities.stderr, /manage_security/);
  });

  it('the app ships every event through its spool, and is refused reading, overwriting, updating or deleting one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-priv-'));
    const shipper = createShipper({ client: as('app'), indexPrefix: PREFIX, dir, maxBatchAgeMs: 100, retryBaseMs: 50, retryMaxMs: 500 });
    const logger = createLogger({ name: 'privileges-test', level: 'trace', stdout: false, sinks: [shipper] });
    shipper.start();
    const ids: string[] = [];
    for (let i = 0; i < 600; i += 1) {
      const event = buildSecurityEvent('authn_login_fail', { reason: 'bad_password', user: { name: `user-${i % 7}` }, source: { ip: `10.0.${i >> 8}.${i & 255}` }, urlPath: '/auth/login', http: { method: 'POST', statusCode: 401 } });
      logSecurityEvent(logger, event);
      ids.push(event.event.id);
    }
    await shipper.flush(30_000);
    const stats = shipper.stats();
    assert.equal(stats.delivered, 600, JSON.stringify(stats));
    assert.equal(stats.deadLettered, 0);
    assert.equal(stats.queueDepth, 0);
    await admin.indices.refresh({ index: `${PREFIX}-events-*` });
    assert.equal((await admin.count({ index: `${PREFIX}-events-*` })).count, 600);

    const app = as('app');
    const index = dailyIndex(PREFIX, 'events', new Date());
    const id = ids[0]!;
    assert.equal(await statusOf(() => app.search({ index })), 403, 'search');
    assert.equal(await statusOf(() => app.get({ index, id })), 403, 'get');
    assert.equal(await statusOf(() => app.index({ index, id, document: { message: 'rewritten' } })), 403, 'overwrite');
    assert.equal(await statusOf(() => app.update({ index, id, doc: { message: 'rewritten' } })), 403, 'update');
    assert.equal(await statusOf(() => app.delete({ index, id })), 403, 'delete');
    // 403 on a full Elasticsearch; the minimal distribution has no delete-by-query at all (400).
    assert.ok(await statusOf(() => app.deleteByQuery({ index, query: { match_all: {} } })) >= 400, 'delete by query');
    assert.equal(await statusOf(() => app.indices.delete({ index })), 403, 'delete index');
    assert.equal(await statusOf(() => app.indices.putIndexTemplate({ name: `${PREFIX}-events`, index_patterns: [`${PREFIX}-events-*`] })), 403, 'template');
    assert.equal(await statusOf(() => app.index({ index: 'other-events-2026.01.01', document: {} })), 403, 'outside the prefix');
    // A bulk create of an existing id is a 409 the shipper counts as delivered, never an overwrite.
    const bulk = await app.bulk({ operations: [{ create: { _index: index, _id: id } }, { message: 'again' }] });
    assert.equal(bulk.items[0]!.create!.status, 409);
    const original = await admin.get<{ message: string }>({ index, id });
    assert.notEqual(original._source!.message, 'again');
    await shipper.close(5_000);
    removeSpool(dir, 'privileges');
  });

  it('the job identity runs the anomaly runner: reads events, writes the alert and its checkpoint, and nothing else', async () => {
    const now = Date.now();
    const start = now - 4 * 60_000;
    await indexEvents(admin, PREFIX, spread(40, start, 60_000, (i, at) => fail('victim', `203.0.113.${i % 3}`, at)));
    const runner = createAnomalyRunner({ client: as('jobs'), indexPrefix: PREFIX });
    const result = await runner.run({ since: new Date(now - 30 * 60_000), until: new Date(now + 5 * 60_000) });
    assert.ok(result.created.some((alert) => alert.rule.id.includes('brute')), JSON.stringify(result.created.map((a) => a.rule.id)));
    await admin.indices.refresh({ index: `${PREFIX}-alerts-*` });
    assert.ok((await admin.count({ index: `${PREFIX}-alerts-*` })).count >= 1);
    assert.ok((await admin.get({ index: `${PREFIX}-anomaly-state`, id: 'runner' })).found);
    const events = dailyIndex(PREFIX, 'events', new Date());
    assert.equal(await statusOf(() => as('jobs').index({ index: events, document: {} })), 403, 'write events');
    assert.equal(await statusOf(() => as('jobs').indices.delete({ index: events })), 403, 'delete events');
    // A concrete name: a wildcard the identity may not read just matches nothing.
    const access = dailyIndex(PREFIX, 'access', new Date());
    await admin.indices.create({ index: access });
    assert.equal(await statusOf(() => as('jobs').search({ index: access })), 403, 'read access');
  });

  it('analysts read every family and write nothing; retention deletes expired days and reads nothing', async () => {
    assert.ok((await as('analyst').count({ index: `${PREFIX}-events-*` })).count >= 600);
    assert.equal(await statusOf(() => as('analyst').index({ index: dailyIndex(PREFIX, 'events', new Date()), document: {} })), 403);
    const old = `${PREFIX}-access-2020.01.01`;
    await admin.indices.create({ index: old });
    const retention = createRetention({ client: as('retention'), indexPrefix: PREFIX });
    const result = await retention();
    assert.deepEqual(result.deleted, [old]);
    assert.equal(await statusOf(() => as('retention').search({ index: dailyIndex(PREFIX, 'events', new Date()) })), 403);
    assert.ok((await admin.count({ index: `${PREFIX}-events-*` })).count >= 600, 'retention kept the current days');
  });
});
