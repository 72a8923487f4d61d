import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { loadConfig } from '../../src/config/env.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import type { ShipperStats } from '../../src/elastic/shipper.js';
import { DEV_USERS, startServer, type RunningServer } from '../../src/service/server.js';
import { dropPrefix, freePort, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { TestClient } from '../support/http-server.js';
import { removeSpool } from '../support/secret-ledger.js';

const [DEMO, ADMIN] = DEV_USERS;

interface Health {
  status: 'ok' | 'degraded';
  shipper: ShipperStats;
}

/** The environment of a real deployment, minus what the test varies. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    // A strong secret: random bytes, prefixed so it can never look like a placeholder.
    JWT_SECRET: `k-${randomBytes(48).toString('base64url')}`,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** The development administrator's session: the health details are for that role only. */
const admins = new Map<string, TestClient>();
async function adminOf(url: string): Promise<TestClient> {
  let admin = admins.get(url);
  if (!admin) {
    admin = new TestClient(url);
    const res = await admin.login(ADMIN.name, ADMIN.password);
    assert.equal(res.status, 200);
    admins.set(url, admin);
  }
  return admin;
}

/** GET /healthz as the administrator (the details), or signed out (`{ status }` only) with `publicly`. */
async function health(url: string, publicly = false): Promise<{ status: number; headers: Headers; body: Health }> {
  if (publicly) {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, headers: res.headers, body: await res.json() as Health };
  }
  const res = await (await adminOf(url)).request('GET', '/healthz');
  return { status: res.status, headers: res.headers, body: res.body as Health };
}

/** Polls /healthz until `done` holds or `ms` pass; returns the last answer. */
async function healthUntil(url: string, done: (h: Health) => boolean, ms: number): Promise<Health> {
  const deadline = Date.now() + ms;
  let last = (await health(url)).body;
  while (!done(last) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = (await health(url)).body;
  }
  return last;
}

function assertShipperStats(stats: ShipperStats): void {
  for (const field of ['queueDepth', 'spoolBytes', 'delivered', 'retried', 'deadLettered'] as const) {
    assert.ok(Number.isInteger(stats[field]) && stats[field] >= 0, `${field}: ${String(stats[field])}`);
  }
  assert.equal(typeof stats.elasticsearchReachable, 'boolean');
  // The health route is public: the error text (addresses, host names) stays in the log; only its time is shown.
  assert.equal('lastError' in stats, false, 'no error text on the public health route');
  assert.ok(stats.lastErrorAt === null || typeof stats.lastErrorAt === 'string', 'lastErrorAt');
}

/** Logs in as the development user; `wrong` sends a bad password. Returns the status and how long it took. */
async function login(client: TestClient, wrong = false): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const res = await client.login(DEMO.name, wrong ? 'not-the-password' : DEMO.password);
  return { status: res.status, ms: Date.now() - started };
}

describe('GET /healthz with Elasticsearch up', () => {
  let running: RunningServer;
  let es: Client;
  let spool: string;
  const prefix = uniquePrefix('healthok');

  before(async () => {
    const { url } = await sharedElasticsearch();
    es = createElasticClient({ url });
    await setupElasticsearch(es, prefix, url);
    spool = mkdtempSync(join(tmpdir(), 'sentinel-healthz-'));
    running = await startServer(loadConfig(environment({ ELASTICSEARCH_URL: url, ES_INDEX_PREFIX: prefix, SPOOL_DIR: spool })));
  });
  after(async () => {
    await running?.close(5000);
    removeSpool(spool, 'healthz-up');
    await dropPrefix(es, prefix);
    await es.close();
  });

  it('answers ok with the shipper figures, uncached', async () => {
    const res = await health(running.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.status, 'ok');
    assertShipperStats(res.body.shipper);
    assert.equal(res.body.shipper.elasticsearchReachable, true);
    assert.equal(res.body.shipper.lastErrorAt, null);
    assert.equal(res.body.shipper.deadLettered, 0);
  });

  it('counts delivered documents after logins and drains its queue and spool', async () => {
    const client = new TestClient(running.url);
    assert.equal((await login(client, true)).status, 401);
    assert.equal((await login(client)).status, 200);
    assert.equal((await client.request('GET', '/auth/me')).status, 200);
    // Three access records, and at least authn_login_fail, authn_login_successafterfail, session and token events.
    const final = await healthUntil(running.url, (h) => h.shipper.delivered >= 6 && h.shipper.queueDepth === 0, 15_000);
    assert.equal(final.status, 'ok');
    assertShipperStats(final.shipper);
    assert.ok(final.shipper.delivered >= 6, JSON.stringify(final.shipper));
    assert.equal(final.shipper.queueDepth, 0);
    assert.equal(final.shipper.spoolBytes, 0);
    assert.equal(final.shipper.deadLettered, 0);
    assert.equal(final.shipper.elasticsearchReachable, true);
    assert.equal(final.shipper.lastErrorAt, null);
    // And they are really in Elasticsearch.
    await es.indices.refresh({ index: `${prefix}-*` });
    const logins = await es.search({ index: `${prefix}-events-*`, query: { bool: { filter: [{ term: { 'user.name': DEMO.name } }, { terms: { 'event.action': ['authn_login_success', 'authn_login_successafterfail', 'authn_login_fail'] } }] } } });
    assert.equal(logins.hits.hits.length, 2);
    const access = await es.count({ index: `${prefix}-access-*` });
    assert.ok(access.count >= 3, `${access.count} access records`);
  });

  it('tells the public the status only, and a signed-in user without the admin role no more', async () => {
    const anonymous = await health(running.url, true);
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.headers.get('cache-control'), 'no-store');
    assert.deepEqual(anonymous.body, { status: 'ok' });
    const user = new TestClient(running.url);
    assert.equal((await login(user)).status, 200);
    assert.deepEqual((await user.request('GET', '/healthz')).body, { status: 'ok' });
  });

  it('is not itself logged or shipped', async () => {
    // What earlier tests logged (logins) is delivered first, so only /healthz requests happen in between.
    await running.shipper!.flush(5000);
    const before = (await health(running.url)).body.shipper;
    for (let i = 0; i < 5; i += 1) await health(running.url);
    await running.shipper!.flush(5000);
    const after = (await health(running.url)).body.shipper;
    assert.equal(after.delivered, before.delivered);
    assert.equal(after.queueDepth, 0);
  });
});

describe('GET /healthz with Elasticsearch unreachable', () => {
  let running: RunningServer;
  let spool: string;

  before(async () => {
    spool = mkdtempSync(join(tmpdir(), 'sentinel-healthz-'));
    const closed = await freePort();
    running = await startServer(loadConfig(environment({ ELASTICSEARCH_URL: `http://127.0.0.1:${closed}`, ES_INDEX_PREFIX: uniquePrefix('healthdown'), SPOOL_DIR: spool })));
  });
  after(async () => {
    try {
      const started = Date.now();
      await running?.close(500);
      assert.ok(Date.now() - started < 5000, 'close() is bounded by its deadline even with Elasticsearch down');
    } finally {
      removeSpool(spool, 'healthz-down');
    }
  });

  it('turns degraded with elasticsearchReachable false and the time of the last error, after a few logins', async () => {
    const client = new TestClient(running.url);
    for (const wrong of [true, false, true, false]) {
      const { status, ms } = await login(client, wrong);
      assert.equal(status, wrong ? 401 : 200);
      // scrypt at production cost takes a few hundred ms; the bound is far below the shipper's 30 s request timeout.
      assert.ok(ms < 5000, `a login took ${ms} ms: the API must not wait for Elasticsearch`);
    }
    const degraded = await healthUntil(running.url, (h) => h.status === 'degraded', 10_000);
    assert.equal(degraded.status, 'degraded', JSON.stringify(degraded));
    assertShipperStats(degraded.shipper);
    assert.equal(degraded.shipper.elasticsearchReachable, false);
    assert.equal(typeof degraded.shipper.lastErrorAt, 'string');
    assert.match(running.shipper!.stats().lastError ?? '', /Cannot reach Elasticsearch/, 'the shipper itself still knows why');
    assert.equal(degraded.shipper.delivered, 0);
    assert.ok(degraded.shipper.retried > 0);
    assert.ok(degraded.shipper.queueDepth >= 8, `queueDepth ${degraded.shipper.queueDepth}: events and access records wait in the spool`);
    assert.ok(degraded.shipper.spoolBytes > 0);
  });

  it('keeps serving while degraded: healthz stays 200, sessions and routes work, quickly', async () => {
    const res = await health(running.url);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'degraded');
    // The public answer says degraded and nothing about why (no addresses, no queue figures).
    assert.deepEqual((await health(running.url, true)).body, { status: 'degraded' });
    const client = new TestClient(running.url);
    assert.equal((await login(client)).status, 200);
    for (const path of ['/auth/me', '/api/hello', '/auth/me']) {
      const started = Date.now();
      const answer = await client.request('GET', path);
      assert.equal(answer.status, 200, path);
      assert.ok(Date.now() - started < 2000, `${path} took ${Date.now() - started} ms`);
    }
    const note = await client.request('POST', '/api/notes', { json: { text: 'still here' } });
    assert.equal(note.status, 201);
    const history = await client.request('GET', '/auth/login-history');
    assert.equal(history.status, 503);
    assert.equal(history.body.error.code, 'dependency_unavailable');
    const later = await health(running.url);
    assert.equal(later.body.status, 'degraded');
    assert.ok(later.body.shipper.queueDepth > res.body.shipper.queueDepth, 'new records keep being kept');
  });
});
