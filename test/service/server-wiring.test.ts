/**
 * The reference server as its environment builds it (loadConfig → startServer), observed from outside: every
 * Elasticsearch request goes through a TLS proxy whose self-signed certificate only ELASTICSEARCH_CA_CERT makes
 * trusted, so whatever reaches Elasticsearch proves the CA is wired; the three crons run every second and are seen
 * by their effects (an alert at the ALERT_WEBHOOK_URL receiver, a stored daily review, an expired index gone); the
 * HTTP server's header and request timeouts are read off the server; without the CA the shipper cannot deliver
 * and /healthz says degraded. Spool-only mode journals for a later server to ship.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { loadConfig } from '../../src/config/env.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import type { ShipperStats } from '../../src/elastic/shipper.js';
import { startServer, type RunningServer } from '../../src/service/server.js';
import { addUserToFile } from '../../src/session/users.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { fail, indexEvents, spread } from '../support/events.js';
import { TEST_SCRYPT, TestClient } from '../support/http-server.js';
import { removeSpool } from '../support/secret-ledger.js';

const MINUTE = 60_000;
const PASSWORD = `ops-${randomBytes(9).toString('base64url')}`;
const EVERY_SECOND = '* * * * * *';

interface Health {
  status: 'ok' | 'degraded';
  shipper: ShipperStats;
}

/** A self-signed certificate for 127.0.0.1: its own CA. */
function selfSigned(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** HTTPS in front of Elasticsearch's plain HTTP: the only way the server can reach it. Counts what it forwarded. */
async function tlsProxy(target: string, tls: { key: string; cert: string }): Promise<{ url: string; forwarded: () => number; close(): Promise<void> }> {
  const upstream = new URL(target);
  let forwarded = 0;
  const server = createHttpsServer(tls, (req, res) => {
    forwarded += 1;
    const proxied = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    proxied.on('error', () => res.destroy());
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded: () => forwarded,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Collects the JSON bodies POSTed to it: the alert webhook. */
async function webhookReceiver(): Promise<{ url: string; bodies: Array<Record<string, unknown>>; close(): Promise<void> }> {
  const bodies: Array<Record<string, unknown>> = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Waits for `check` to hold, polling every 100 ms, at most `ms`; returns whether it did. */
async function eventually(ms: number, check: () => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the reference server built from its environment', () => {
  let es: Client;
  let esUrl: string;
  let work: string;
  let usersFile: string;
  let tls: ReturnType<typeof selfSigned>;
  let proxy: Awaited<ReturnType<typeof tlsProxy>>;
  let webhook: Awaited<ReturnType<typeof webhookReceiver>>;
  const prefix = uniquePrefix('wiring');
  const running: RunningServer[] = [];
  const spools: string[] = [];

  /** A server from the environment of a deployment, plus `extra`; its stdout records are collected. */
  async function start(extra: Record<string, string>, spoolOnly = false): Promise<{ server: RunningServer; records: () => Array<Record<string, unknown>> }> {
    const lines: string[] = [];
    const spool = extra.SPOOL_DIR ?? mkdtempSync(join(work, 'spool-'));
    if (!spools.includes(spool)) spools.push(spool);
    const server = await startServer(loadConfig({
      NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', AUTH_USERS_FILE: usersFile,
      JWT_SECRET: `k-${randomBytes(48).toString('base64url')}`, SPOOL_DIR: spool,
      ...extra,
    }), { stdout: { write: (text: string) => lines.push(text) }, spoolOnly });
    running.push(server);
    return {
      server,
      records: () => lines.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
    };
  }

  before(async () => {
    esUrl = (await sharedElasticsearch()).url;
    es = createElasticClient({ url: esUrl });
    await setupElasticsearch(es, prefix, esUrl);
    work = mkdtempSync(join(tmpdir(), 'sentinel-wiring-'));
    usersFile = join(work, 'users.json');
    await addUserToFile(usersFile, 'ops', PASSWORD, { roles: ['user', 'admin'], scrypt: TEST_SCRYPT });
    tls = selfSigned(work);
    proxy = await tlsProxy(esUrl, tls);
    webhook = await webhookReceiver();
  });
  after(async () => {
    for (const server of running.splice(0)) await server.close(2000);
    for (const spool of spools) removeSpool(spool, 'server-wiring');
    await proxy.close();
    await webhook.close();
    // The shared node may refuse a request for a moment under the whole suite's load (circuit breaker): try again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await dropPrefix(es, prefix);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    await es.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('wires the CA certificate, the anomaly, review and retention crons, the alert webhook and the HTTP timeouts', async (t) => {
    // A brute force in the newest window the first scheduled anomaly run judges (it ends on the 5-minute grid at
    // least a minute back), and an access index far past its 14 days.
    const closedTo = Math.floor((Date.now() - MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    await indexEvents(es, prefix, spread(12, closedTo - 4 * MINUTE, 30_000, (_i, at) => fail('wiring-victim', '198.51.100.77', at)));
    const expired = `${prefix}-access-2020.01.01`;
    await es.indices.create({ index: expired });

    const { server, records } = await start({
      ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_CA_CERT: tls.certFile, ES_INDEX_PREFIX: prefix,
      ANOMALY_CRON: EVERY_SECOND, REVIEW_CRON: EVERY_SECOND, RETENTION_CRON: EVERY_SECOND, ALERT_WEBHOOK_URL: webhook.url,
    });

    // Timeouts against slow-loris and idle sockets, as configured on the listening server.
    assert.equal(server.server.headersTimeout, 10_000);
    assert.equal(server.server.requestTimeout, 30_000);
    assert.equal(server.server.keepAliveTimeout, 5_000);

    // The alert webhook receives the brute force the scheduled anomaly run found.
    assert.ok(await eventually(20_000, () => webhook.bodies.length > 0), 'the webhook was called within 20 s');
    assert.match(JSON.stringify(webhook.bodies[0]), /wiring-victim/);
    // The run logs when it has finished, after notifying.
    assert.ok(await eventually(5000, () => records().some((record) => /^Anomaly run: \d+ window\(s\), 1 new alert\(s\)$/.test(String(record.message)))), 'the run logged its new alert');

    // The daily review, built and stored by its cron.
    assert.ok(await eventually(20_000, () => records().some((record) => (record.sentinel as { review?: { day?: string } } | undefined)?.review?.day !== undefined)), 'a daily review was logged');
    await es.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });

    // Retention: the expired index is gone, the run said so.
    assert.ok(await eventually(20_000, async () => !(await es.indices.exists({ index: expired }))), 'retention deleted the expired index');
    assert.ok(records().some((record) => /^Retention deleted \d+ indices$/.test(String(record.message))));

    // A login's events reach Elasticsearch through the TLS proxy: the CA certificate is in use.
    const ops = new TestClient(server.url);
    assert.equal((await ops.login('ops', PASSWORD)).status, 200);
    assert.equal(await server.shipper!.flush(10_000), true);
    const health = (await ops.request('GET', '/healthz')).body as Health;
    assert.equal(health.status, 'ok');
    assert.equal(health.shipper.elasticsearchReachable, true);
    assert.ok(health.shipper.delivered > 0);
    assert.ok(proxy.forwarded() > 0);
    t.diagnostic(`${proxy.forwarded()} requests through the TLS proxy, ${webhook.bodies.length} webhook call(s)`);
  });

  it('without ELASTICSEARCH_CA_CERT the same Elasticsearch is untrusted: nothing is delivered and /healthz says degraded', async () => {
    const { server } = await start({ ELASTICSEARCH_URL: proxy.url, ES_INDEX_PREFIX: prefix, ANOMALY_CRON: '0 0 1 1 *', REVIEW_CRON: '0 0 1 1 *', RETENTION_CRON: '0 0 1 1 *' });
    const ops = new TestClient(server.url);
    assert.equal((await ops.login('ops', PASSWORD)).status, 200);
    assert.equal(await server.shipper!.flush(1500), false, 'the login events cannot be delivered');
    const health = (await ops.request('GET', '/healthz')).body as Health;
    assert.equal(health.status, 'degraded');
    assert.equal(health.shipper.elasticsearchReachable, false);
    assert.equal(health.shipper.delivered, 0);
    assert.ok(health.shipper.queueDepth > 0);
  });

  it('spool-only mode journals events without Elasticsearch; a later server with it ships them', async () => {
    const spoolDir = mkdtempSync(join(work, 'spool-only-'));
    const { server } = await start({ SPOOL_DIR: spoolDir }, true);
    const ops = new TestClient(server.url);
    assert.equal((await ops.login('ops', PASSWORD)).status, 200);
    const marker = `spooled-${randomBytes(4).toString('hex')}`;
    assert.equal((await new TestClient(server.url).login(marker, 'wrong password')).status, 401);
    const health = (await ops.request('GET', '/healthz')).body as Health;
    assert.equal(health.status, 'ok', 'spool-only is a mode, not a fault');
    assert.equal(health.shipper.elasticsearchReachable, false);
    assert.ok(health.shipper.queueDepth >= 2, `${health.shipper.queueDepth} documents journaled`);
    await server.close(2000);
    running.splice(running.indexOf(server), 1);

    const { server: later } = await start({ SPOOL_DIR: spoolDir, ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_CA_CERT: tls.certFile, ES_INDEX_PREFIX: prefix, ANOMALY_CRON: '0 0 1 1 *', REVIEW_CRON: '0 0 1 1 *', RETENTION_CRON: '0 0 1 1 *' });
    assert.equal(await later.shipper!.flush(10_000), true);
    await es.indices.refresh({ index: `${prefix}-events-*` });
    const found = await es.count({ index: `${prefix}-events-*`, query: { term: { 'user.name': marker } } });
    assert.equal(found.count, 1, 'the failed login journaled in spool-only mode reached Elasticsearch');
  });
});

