/**
 * Enrichment end to end: a createSentinel app behind a trusted proxy (X-Forwarded-For from loopback), test MMDB
 * databases, real logins, and the documents as the real Elasticsearch holds them: the security event and the access
 * record of a request carry the client's place, network and parsed user agent; special addresses carry none.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import Koa from 'koa';
import { createElasticClient } from '../../src/elastic/client.js';
import type { GeoLookup } from '../../src/enrich/types.js';
import { ConfigurationError } from '../../src/errors.js';
import { createLogger } from '../../src/logging/logger.js';
import { createSentinel, type Sentinel, type SentinelOptions } from '../../src/sentinel.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { DOCUMENTATION, IPV6_OSLO, LONDON, PRIVATE, writeGeoDatabases } from '../support/geo-databases.js';
import { PASSWORDS, recordKeys, TEST_SCRYPT, TestClient, testUsers } from '../support/http-server.js';
import { removeSpool } from '../support/secret-ledger.js';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

type Doc = {
  event: { action?: string; dataset: string };
  source: { ip: string; geo?: Record<string, unknown>; as?: { number: number; organization?: { name: string } } };
  user_agent?: { original: string; name?: string; os?: { name?: string }; device?: { name?: string } };
  url?: { path: string };
};

interface Running {
  sentinel: Sentinel;
  server: Server;
  url: string;
  stdout: string[];
  spool: string;
}

async function run(options: Omit<SentinelOptions, 'session'>): Promise<Running> {
  const secret = randomBytes(32);
  recordKeys([{ kid: 'enrich-1', alg: 'HS256', secret }]);
  const stdout: string[] = [];
  const spool = mkdtempSync(join(tmpdir(), 'sentinel-enrich-spool-'));
  const sentinel = createSentinel({
    session: { keyRing: createKeyRing([{ kid: 'enrich-1', alg: 'HS256', secret }]), users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT },
    jobs: { anomalies: false, review: false, retention: false },
    // The test client is the proxy: it connects from loopback and names the client in X-Forwarded-For.
    http: { trustProxy: ['loopback'] },
    log: { stdout: { write: (text: string) => stdout.push(text) } },
    ...options,
    ...(options.elasticsearch ? { elasticsearch: { ...options.elasticsearch, spoolDir: spool } } : {}),
  });
  const app = new Koa();
  app.silent = true;
  app.use(sentinel.middleware());
  await sentinel.start();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return { sentinel, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stdout, spool };
}

async function stop(running: Running): Promise<void> {
  running.server.closeAllConnections();
  await new Promise<void>((resolve) => running.server.close(() => resolve()));
  await running.sentinel.close(10_000);
  removeSpool(running.spool);
}

async function login(url: string, user: keyof typeof PASSWORDS, forwardedFor: string, userAgent: string, password: string = PASSWORDS[user]): Promise<number> {
  const client = new TestClient(url);
  const response = await client.request('POST', '/auth/login', { json: { username: user, password }, headers: { 'x-forwarded-for': forwardedFor, 'user-agent': userAgent } });
  return response.status;
}

describe('enrichment through createSentinel into Elasticsearch', () => {
  const dbs = writeGeoDatabases();
  let client: Client;
  let prefix: string;

  before(async () => {
    client = createElasticClient({ url: (await sharedElasticsearch()).url, requestTimeoutMs: 30_000 });
    prefix = uniquePrefix('enrich');
  });

  after(async () => {
    dbs.remove();
    if (!client) return;
    await dropPrefix(client, prefix);
    await client.close();
  });

  async function documents(family: 'events' | 'access'): Promise<Doc[]> {
    await client.indices.refresh({ index: `${prefix}-${family}-*` });
    const response = await client.search({ index: `${prefix}-${family}-*`, size: 500, query: { match_all: {} } });
    return response.hits.hits.map((hit) => hit._source as Doc);
  }

  it('the login event and the access record of a request carry source.geo, source.as and user_agent.*; special addresses stay un-geolocated', async () => {
    const running = await run({
      elasticsearch: { client, indexPrefix: prefix, spoolDir: '', setup: true },
      enrichment: { geo: { cityDatabase: dbs.city, asnDatabase: dbs.asn } },
    });
    try {
      assert.equal(await login(running.url, 'alice', `${DOCUMENTATION}, ${LONDON}`, IPHONE), 200);
      assert.equal(await login(running.url, 'alice', IPV6_OSLO, FIREFOX), 200);
      assert.equal(await login(running.url, 'admin', DOCUMENTATION, FIREFOX, 'wrong password 1'), 401);
      assert.equal(await login(running.url, 'admin', PRIVATE, FIREFOX), 200);
      assert.ok(await running.sentinel.shipper!.flush(15_000), 'everything delivered');
    } finally {
      await stop(running);
    }

    const events = await documents('events');
    const access = await documents('access');
    const loginsFrom = (docs: Doc[], ip: string): Doc[] => docs.filter((d) => d.source?.ip === ip && (d.event.dataset === 'sentinel.access' ? d.url?.path === '/auth/login' : d.event.action?.startsWith('authn_login')));

    const london = [...loginsFrom(events, LONDON), ...loginsFrom(access, LONDON)];
    assert.deepEqual(london.map((d) => d.event.action ?? d.event.dataset).sort(), ['authn_login_success', 'sentinel.access']);
    for (const doc of london) {
      assert.equal(doc.source.geo?.country_iso_code, 'GB');
      assert.equal(doc.source.geo?.city_name, 'London');
      assert.deepEqual(doc.source.geo?.location, { lat: 51.5142, lon: -0.0931 });
      assert.deepEqual(doc.source.as, { number: 20712, organization: { name: 'Andrews & Arnold Ltd' } });
      assert.equal(doc.user_agent?.name, 'Mobile Safari');
      assert.equal(doc.user_agent?.os?.name, 'iOS');
      assert.equal(doc.user_agent?.device?.name, 'Apple iPhone');
    }
    // location is a geo_point: a distance query finds the London documents and nothing else.
    await client.indices.refresh({ index: `${prefix}-*` });
    const near = await client.search({ index: `${prefix}-events-*,${prefix}-access-*`, size: 100, query: { geo_distance: { distance: '50km', 'source.geo.location': { lat: 51.5, lon: -0.1 } } } });
    assert.deepEqual([...new Set(near.hits.hits.map((h) => (h._source as Doc).source.ip))], [LONDON]);

    const oslo = loginsFrom(events, IPV6_OSLO)[0]!;
    assert.equal(oslo.source.geo?.country_iso_code, 'NO');
    assert.equal(oslo.source.as?.number, 64512);
    assert.equal(oslo.user_agent?.name, 'Firefox');

    for (const ip of [DOCUMENTATION, PRIVATE]) {
      const docs = [...loginsFrom(events, ip), ...loginsFrom(access, ip)];
      assert.ok(docs.length >= 2, `${ip}: an event and an access record`);
      for (const doc of docs) {
        assert.equal(doc.source.geo, undefined, `${ip} is never geolocated (the test database has a record for it)`);
        assert.equal(doc.source.as, undefined);
        assert.equal(doc.user_agent?.os?.name, 'Ubuntu', 'the user agent is parsed all the same');
      }
    }
    const lines = running.stdout.map((line) => JSON.parse(line) as Doc & { message: string });
    assert.ok(lines.some((line) => line.event?.action === 'authn_login_success' && line.source?.geo?.country_iso_code === 'GB'), 'stdout lines are enriched too');
    assert.ok(lines.some((line) => /Geolocation from GeoIP2-City \(2026-01-01\), GeoLite2-ASN \(2026-01-01\)/.test(line.message)), 'the start says which databases');
  });

  it('your own logger and your own GeoLookup: shipped documents are enriched through sentinel.enrich', async () => {
    const asked: string[] = [];
    const geo: GeoLookup = { lookup: (ip) => (asked.push(ip), { geo: { country_iso_code: 'NZ', location: { lat: -41.29, lon: 174.78 } }, as: { number: 64500 } }) };
    const running = await run({
      logger: createLogger({ name: 'own-logger', stdout: false }),
      elasticsearch: { client, indexPrefix: prefix, spoolDir: '' },
      enrichment: { geo },
    });
    try {
      assert.equal(await login(running.url, 'zoë', '81.2.69.200', FIREFOX), 200);
      assert.equal(await login(running.url, 'zoë', PRIVATE, FIREFOX), 200);
      assert.ok(await running.sentinel.shipper!.flush(15_000));
    } finally {
      await stop(running);
    }
    assert.ok(asked.length > 0 && asked.every((ip) => ip === '81.2.69.200'), `asked only about the public address: ${asked.join(', ')}`);
    const mine = (await documents('events')).filter((d) => d.source?.ip === '81.2.69.200');
    assert.ok(mine.length > 0);
    for (const doc of mine) {
      assert.equal(doc.source.geo?.country_iso_code, 'NZ');
      assert.equal(doc.source.as?.number, 64500);
    }
  });

  it('a configured database that cannot be opened stops start() with ConfigurationError config_geo_database; bad shapes stop construction', async () => {
    const options = { session: { keyRing: createKeyRing([{ kid: 'k', alg: 'HS256' as const, secret: randomBytes(32) }]), users: createMemoryUserDirectory([]) }, jobs: { anomalies: false as const, review: false as const, retention: false as const }, log: { stdout: false as const } };
    const broken = createSentinel({ ...options, enrichment: { geo: { cityDatabase: join(dbs.dir, 'missing.mmdb') } } });
    await assert.rejects(broken.start(), (e: unknown) => e instanceof ConfigurationError && e.code === 'config_geo_database' && e.option === 'enrichment.geo.cityDatabase' && /missing\.mmdb/.test(e.message));
    await broken.close();
    assert.throws(() => createSentinel({ ...options, enrichment: { geo: { cacheSize: -1 } } }), (e: unknown) => e instanceof ConfigurationError && e.option === 'enrichment.geo.cacheSize');
    assert.throws(() => createSentinel({ ...options, enrichment: { userAgent: { parsesPerSecond: 0.5 } } }), (e: unknown) => e instanceof ConfigurationError && e.option === 'userAgent.parsesPerSecond');
    assert.throws(() => createSentinel({ ...options, enrichment: 'on' as never }), (e: unknown) => e instanceof ConfigurationError && e.option === 'enrichment');
  });

  it('enrichment: false adds nothing; the default opens DB-IP City Lite at start()', async () => {
    const off = await run({ enrichment: false });
    try {
      assert.equal(await login(off.url, 'alice', LONDON, IPHONE), 200);
    } finally {
      await stop(off);
    }
    const offLine = off.stdout.map((l) => JSON.parse(l) as Doc).find((d) => d.event?.action === 'authn_login_success')!;
    assert.deepEqual(offLine.source, { ip: LONDON });
    assert.deepEqual(offLine.user_agent, { original: IPHONE });

    const byDefault = await run({});
    try {
      assert.equal(await login(byDefault.url, 'alice', LONDON, IPHONE), 200);
    } finally {
      await stop(byDefault);
    }
    const lines = byDefault.stdout.map((l) => JSON.parse(l) as Doc & { message: string });
    assert.ok(lines.some((l) => /Geolocation from city ipv4 .*city ipv6 .*: IP Geolocation by DB-IP \(https:\/\/db-ip\.com\), CC BY 4\.0/.test(l.message)), 'the credit CC BY 4.0 asks for');
    const line = lines.find((d) => d.event?.action === 'authn_login_success')!;
    assert.equal(line.source.geo?.country_iso_code, 'GB');
    assert.equal(line.user_agent?.name, 'Mobile Safari');
  });
});
