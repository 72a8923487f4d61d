/**
 * The shipper against a real Elasticsearch (docs/elasticsearch.md, "Shipping guarantees"): documents land
 * with the template's types, nothing is lost or duplicated whatever Elasticsearch does (down, stopped mid-load,
 * 429/503 storms, dropped connections, latency), mapping rejects are dead-lettered without blocking the rest,
 * a crash or SIGKILL loses nothing that was acknowledged, and memory stays bounded through a long outage.
 *
 * Every test gets its own index prefix (uniquePrefix) and spool folder; the run's shared node serves all but the
 * stop/restart test, which starts one private node. Faults come from test/support/fault-proxy.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import autocannon from 'autocannon';
import type bunyan from 'bunyan';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { createShipper, type Shipper, type ShipperOptions, type ShipperStats } from '../../src/elastic/shipper.js';
import { BASE_PROPERTIES, buildTemplates } from '../../src/elastic/templates.js';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import type { EcsDocument } from '../../src/logging/ecs.js';
import { createLogger, logSecurityEvent } from '../../src/logging/logger.js';
import { addUserToFile } from '../../src/session/users.js';
import { sharedElasticsearch, startElasticsearch, uniquePrefix, type ElasticsearchProcess } from '../support/elasticsearch.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../support/fault-proxy.js';
import { TEST_SCRYPT } from '../support/http-server.js';
import { removeSpool } from '../support/secret-ledger.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Fast retries for tests: the production defaults (250 ms to 30 s) would only make the suite slow. */
const FAST: Partial<ShipperOptions> = { maxBatchAgeMs: 200, retryBaseMs: 50, retryMaxMs: 1000 };
/** The password of the one real user the server children know (the final no-secrets scan looks for it too). */
const SHIPPER_TEST_PASSWORD = 'shipper-test correct horse 31';

let es: { url: string };
let admin: Client;

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value or the deadline passes; never a fixed sleep in the tests. */
async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

function tempDir(t: TestContext, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sentinel-${label}-`));
  t.after(() => removeSpool(dir, `shipper-${label}`));
  return dir;
}

/** Installs the templates for a fresh prefix; removes the templates (not the documents) afterwards. */
async function freshPrefix(t: TestContext, label: string, client: Client = admin): Promise<string> {
  const prefix = uniquePrefix(label);
  await setupElasticsearch(client, prefix);
  t.after(async () => {
    const templates = buildTemplates(prefix);
    for (const { name } of templates.indexTemplates) await client.indices.deleteIndexTemplate({ name }).catch(() => undefined);
    for (const { name } of templates.components) await client.cluster.deleteComponentTemplate({ name }).catch(() => undefined);
  });
  return prefix;
}

interface ShipperUnderTest {
  shipper: Shipper;
  client: Client;
  dir: string;
  logger: bunyan;
  /** Every document handed to the shipper, as the shipper saw it. */
  written: EcsDocument[];
}

/** A shipper on `url` with a temp spool, driven by a real bunyan logger; closed and cleaned up after the test. */
function shipperFor(t: TestContext, url: string, prefix: string, options: Partial<ShipperOptions> = {}, dir?: string): ShipperUnderTest {
  const client = createElasticClient({ url, requestTimeoutMs: 30_000 });
  const spoolDir = dir ?? tempDir(t, 'spool');
  const shipper = createShipper({ client, indexPrefix: prefix, dir: spoolDir, ...FAST, ...options });
  const written: EcsDocument[] = [];
  const logger = createLogger({ name: 'koa-sentinel-test', level: 'trace', stdout: false, sinks: [shipper, { write: (doc) => written.push(doc) }] });
  t.after(async () => {
    await shipper.close(2_000);
    await client.close();
  });
  return { shipper, client, dir: spoolDir, logger, written };
}

let sequence = 0;
/** Logs one authn_login_fail security event (durable) and returns its event.id. */
function logSecurity(logger: bunyan, extra: { requestId?: string } = {}): string {
  sequence += 1;
  const event = buildSecurityEvent('authn_login_fail', {
    reason: 'bad_password',
    user: { name: `user-${sequence % 97}`, id: `u_${sequence % 97}` },
    source: { ip: `10.${(sequence >> 16) & 255}.${(sequence >> 8) & 255}.${sequence & 255}` },
    userAgent: 'shipper-test/1.0',
    http: { method: 'POST', statusCode: 401, requestId: extra.requestId ?? `req-${sequence}` },
    urlPath: '/auth/login',
    durationNs: 1_234_567 + sequence,
    sentinel: { prior_failures: sequence % 5 },
  });
  logSecurityEvent(logger, event);
  return event.event.id;
}

/** Logs one access record (buffered, not durable) shaped as the request logger writes it; returns its event.id. */
function logAccess(logger: bunyan): string {
  sequence += 1;
  const id = randomUUID();
  logger.info({
    event: { id, kind: 'event', category: ['web'], type: ['access'], dataset: 'sentinel.access', outcome: 'success', duration: 987_654 + sequence },
    http: { request: { id: `req-${sequence}`, method: 'GET' }, response: { status_code: 200, body: { bytes: 27 } }, version: '1.1' },
    url: { path: '/api/hello' },
    source: { ip: sequence % 2 ? '127.0.0.1' : '::1' },
    user: { name: 'alice', id: 'u_alice' },
    user_agent: { original: 'shipper-test/1.0' },
  }, 'GET /api/hello 200');
  return id;
}

/** Half security events, half access records. */
function logMany(logger: bunyan, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) ids.push(i % 2 ? logAccess(logger) : logSecurity(logger));
  return ids;
}

const docsPattern = (prefix: string): string => `${prefix}-events-*,${prefix}-access-*`;

async function refresh(client: Client, index: string): Promise<void> {
  await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
}

async function countDocs(client: Client, index: string, query?: Record<string, unknown>): Promise<number> {
  await refresh(client, index);
  const response = await client.count({ index, ignore_unavailable: true, allow_no_indices: true, ...(query ? { query } : {}) } as never);
  return response.count;
}

/** Distinct event.id values, counted exactly (a paged composite aggregation; `cardinality` is an estimate). */
async function distinctIds(client: Client, index: string): Promise<number> {
  let distinct = 0;
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const response = await client.search({
      index, size: 0, ignore_unavailable: true, allow_no_indices: true,
      aggs: { ids: { composite: { size: 10_000, sources: [{ id: { terms: { field: 'event.id' } } }], ...(after ? { after } : {}) } } },
    } as never);
    const ids = (response.aggregations as { ids: { buckets: unknown[]; after_key?: Record<string, unknown> } }).ids;
    distinct += ids.buckets.length;
    if (ids.buckets.length === 0 || !ids.after_key) return distinct;
    after = ids.after_key;
  }
}

/**
 * Every id in `ids` is indexed exactly once under `prefix`, and nothing else is: the total count equals the number
 * of ids, a terms query on exactly those ids matches them all (none is missing), the exact number of distinct
 * event.id values equals the count, and no event.id has two documents (a duplicate could only hide in another
 * daily index, since `_id` is unique within one).
 */
async function assertExactlyOnce(client: Client, prefix: string, ids: readonly string[]): Promise<void> {
  const index = docsPattern(prefix);
  assert.equal(new Set(ids).size, ids.length, 'the test wrote distinct ids');
  const total = await countDocs(client, index);
  let matched = 0;
  for (let i = 0; i < ids.length; i += 50_000) matched += await countDocs(client, index, { terms: { 'event.id': ids.slice(i, i + 50_000) } });
  const response = await client.search({
    index, size: 0, ignore_unavailable: true, allow_no_indices: true,
    aggs: {
      estimate: { cardinality: { field: 'event.id', precision_threshold: 40_000 } },
      twice: { terms: { field: 'event.id', min_doc_count: 2, size: 10 } },
    },
  } as never);
  const aggs = response.aggregations as { estimate: { value: number }; twice: { buckets: Array<{ key: string; doc_count: number }> } };
  assert.deepEqual(aggs.twice.buckets, [], 'no event.id is indexed twice');
  assert.equal(matched, ids.length, `every written id is in Elasticsearch (${ids.length - matched} missing)`);
  assert.equal(total, ids.length, 'nothing but the written documents is there');
  assert.equal(await distinctIds(client, index), ids.length, 'distinct event.id values equal the number written');
  // HyperLogLog: near-exact below the precision threshold, but an estimate; a gross error would still show.
  assert.ok(Math.abs(aggs.estimate.value - ids.length) <= Math.max(2, ids.length * 0.01), `cardinality ${aggs.estimate.value} ≈ ${ids.length}`);
}

function chunkFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('chunk-')).sort().map((name) => join(dir, name));
}

function spoolLines(dir: string): number {
  return chunkFiles(dir).reduce((n, file) => n + readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 0);
}

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

async function proxyFor(t: TestContext, mode: FaultMode = { kind: 'pass' }, seed = 7): Promise<FaultProxy> {
  const proxy = await startFaultProxy(es.url, { mode, seed });
  t.after(() => proxy.close());
  return proxy;
}

/** Leaf fields of a mapping as path → type, objects flattened. */
function leafTypes(properties: Record<string, unknown>, path = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(properties)) {
    const field = spec as { type?: string; properties?: Record<string, unknown> };
    const here = path ? `${path}.${name}` : name;
    if (field.properties) Object.assign(out, leafTypes(field.properties, here));
    else out[here] = field.type ?? 'object';
  }
  return out;
}

const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ---------------------------------------------------------------------------------------------------------------
// The reference server as a child process (cases h and i)

interface ServerChild {
  child: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The temporary folder of its stdout file, removed when it is stopped. */
  scratch?: string;
}

const JWT_SECRET = randomBytes(36).toString('base64url'); // 48 random characters

async function usersFile(dir: string): Promise<string> {
  const file = join(dir, 'users.json');
  // An admin, so the test can read the shipper's figures on /healthz.
  await addUserToFile(file, 'carol', SHIPPER_TEST_PASSWORD, { roles: ['user', 'admin'], scrypt: TEST_SCRYPT });
  return file;
}

interface SpawnOptions {
  /** Extra node flags (before the script). */
  nodeArgs?: string[];
  /** A file for stdout; default a new temporary one. Never a pipe: a slow reader would make the child buffer in memory. */
  stdoutFile?: string;
}

async function spawnServer(env: Record<string, string>, options: SpawnOptions = {}): Promise<ServerChild> {
  // stdout always goes to a file: the server binds port 0 and says which port it got there, so no other process
  // can take a port between our choosing it and the server binding it.
  const scratch = options.stdoutFile ? undefined : mkdtempSync(join(tmpdir(), 'sentinel-serve-'));
  const stdoutFile = options.stdoutFile ?? join(scratch!, 'stdout.log');
  const stdout = openSync(stdoutFile, 'w');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/cli/index.ts', 'serve'], {
    cwd: ROOT,
    // Only what the server needs: nothing from the test runner (NODE_TEST_CONTEXT) leaks in. stdout (one ECS line
    // per record) goes to a file, written synchronously, so it never holds the child's memory.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', JWT_SECRET, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  closeSync(stdout);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let url = '';
  await waitFor('the server to say where it listens and answer /healthz', async () => {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}: ${stderr}`);
    url ||= /koa-sentinel listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(stdoutFile, 'utf8'))?.[1] ?? '';
    if (!url) return false;
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  }, 60_000, 100).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${stderr}`);
  });
  return { child, url, stderr: () => stderr, exited, scratch };
}

async function stopServer(server: ServerChild): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
    await server.exited;
    clearTimeout(timer);
  }
  if (server.scratch) rmSync(server.scratch, { recursive: true, force: true });
}

/** Session cookies of an admin per server: /healthz shows the shipper's figures to the admin role only. */
const adminCookies = new Map<string, string>();

async function health(url: string): Promise<ShipperStats> {
  let cookie = adminCookies.get(url);
  if (!cookie) {
    const login = await fetch(`${url}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ username: 'carol', password: SHIPPER_TEST_PASSWORD }), signal: AbortSignal.timeout(10_000),
    });
    if (login.status !== 200) throw new Error(`carol's login for /healthz answered ${login.status}`);
    cookie = login.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
    adminCookies.set(url, cookie);
  }
  const response = await fetch(`${url}/healthz`, { headers: { cookie }, signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { shipper?: ShipperStats };
  if (!body.shipper) throw new Error(`/healthz gave no shipper figures to the admin: ${JSON.stringify(body)}`);
  return body.shipper;
}

/** Heap sizes (MB) right after each full mark-compact, from a `--trace-gc` log: what the process really retains. */
function heapAfterMajorGcs(log: string): number[] {
  // Newer V8 (Node 24+) names the incremental ones "Incremental Mark-Compact": they are major collections too.
  return [...log.matchAll(/ms: (?:Incremental )?Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)].map((m) => Number(m[1]));
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0);
}

// ---------------------------------------------------------------------------------------------------------------

describe('shipper against a real Elasticsearch', () => {
  before(async () => {
    es = await sharedElasticsearch();
    admin = createElasticClient({ url: es.url, requestTimeoutMs: 60_000 });
  });
  after(() => admin.close());

  it('a. lands documents with the template types, dynamic strict, _id = event.id and the _source as written', async (t) => {
    const prefix = await freshPrefix(t, 'types');
    const { shipper, logger, written } = shipperFor(t, es.url, prefix);
    shipper.start();
    const securityId = logSecurity(logger);
    const accessId = logAccess(logger);
    assert.equal(await shipper.flush(15_000), true);
    assert.equal(shipper.stats().delivered, 2);

    const day = new Date(written[0]!['@timestamp']).toISOString().slice(0, 10).replaceAll('-', '.');
    for (const [family, id] of [['events', securityId], ['access', accessId]] as const) {
      const index = `${prefix}-${family}-${day}`;
      const mapping = (await admin.indices.getMapping({ index }))[index]!.mappings as { dynamic?: unknown; properties: Record<string, unknown> };
      assert.equal(String(mapping.dynamic), 'strict', `${index} is dynamic: strict`);
      const types = leafTypes(mapping.properties);
      assert.equal(types['source.ip'], 'ip');
      assert.equal(types['@timestamp'], 'date');
      assert.equal(types['event.duration'], 'long');
      assert.equal(types['http.response.status_code'], 'long');
      assert.equal(types['user.name'], 'keyword');
      assert.equal(types['event.id'], 'keyword');
      // Nothing outside the template: the index mapping is exactly the template's fields.
      assert.deepEqual(types, leafTypes(BASE_PROPERTIES), `${index} has exactly the template's fields`);

      const stored = await admin.get<Record<string, unknown>>({ index, id });
      assert.equal(stored._id, id);
      const sent = written.find((doc) => doc.event.id === id)!;
      assert.deepEqual(stored._source, json(sent), `${family} document stored as written`);
    }
    const security = written.find((doc) => doc.event.id === securityId)!;
    assert.equal(security.event.action, 'authn_login_fail');
    assert.equal(security.event.dataset, 'sentinel.security');
    assert.equal(typeof security.event.duration, 'number');

    // The typed fields are searchable as their types: an ip range, a numeric range, a date range.
    const hits = await countDocs(admin, docsPattern(prefix), {
      bool: {
        filter: [
          { term: { 'source.ip': '10.0.0.0/8' } },
          { range: { 'event.duration': { gte: 1_000_000 } } },
          { range: { 'http.response.status_code': { gte: 400 } } },
          { range: { '@timestamp': { gte: 'now-1h' } } },
        ],
      },
    });
    assert.equal(hits, 1);
  });

  it('b. spools while Elasticsearch is down at start and delivers every event exactly once when it is up', async (t) => {
    const prefix = await freshPrefix(t, 'down');
    const proxy = await proxyFor(t, { kind: 'refuse' });
    const { shipper, logger, dir } = shipperFor(t, proxy.url, prefix);
    shipper.start();
    const n = 2000;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1) ids.push(logSecurity(logger));

    await waitFor('the shipper to find Elasticsearch unreachable', () => !shipper.stats().elasticsearchReachable);
    const down = shipper.stats();
    assert.equal(down.queueDepth, n);
    assert.ok(down.spoolBytes > 0, 'the spool holds the backlog');
    assert.equal(down.delivered, 0);
    assert.ok(down.lastError && /reach|ECONNREFUSED/i.test(down.lastError), `lastError says why: ${down.lastError}`);
    assert.equal(spoolLines(dir), n, 'every event is on disk');

    await proxy.setMode({ kind: 'pass' });
    await waitFor('the backlog to drain', () => shipper.stats().queueDepth === 0, 30_000);
    assert.equal(await shipper.flush(10_000), true);
    const up = shipper.stats();
    assert.equal(up.elasticsearchReachable, true);
    assert.equal(up.delivered, n);
    assert.equal(up.spoolBytes, 0);
    assert.deepEqual(chunkFiles(dir), [], 'delivered chunks are deleted');
    await assertExactlyOnce(admin, prefix, ids);
  });

  it('c. survives Elasticsearch stopped mid-load and restarted: count and cardinality equal what was written', { timeout: 240_000 }, async (t) => {
    const node: ElasticsearchProcess = await startElasticsearch();
    t.after(() => node.destroy());
    const direct = createElasticClient({ url: node.url, requestTimeoutMs: 60_000 });
    t.after(() => direct.close());
    const prefix = await freshPrefix(t, 'restart', direct);
    const { shipper, logger } = shipperFor(t, node.url, prefix, { requestTimeoutMs: 5_000 });
    shipper.start();

    const ids: string[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        ids.push(...logMany(logger, 20));
        await sleep(20);
      }
    })();

    await waitFor('first deliveries', () => shipper.stats().delivered >= 500);
    await node.stop();
    const writtenAtStop = ids.length;
    await waitFor('the shipper to notice the outage', () => !shipper.stats().elasticsearchReachable, 30_000);
    await waitFor('a backlog during the outage', () => ids.length > writtenAtStop + 1000 && shipper.stats().queueDepth >= 1000, 30_000);
    const outage = shipper.stats();
    assert.ok(outage.spoolBytes > 0);

    await node.start();
    const deliveredAtRestart = shipper.stats().delivered;
    await waitFor('deliveries after the restart', () => shipper.stats().delivered > deliveredAtRestart + 1000, 60_000);
    writing = false;
    await writer;
    assert.equal(await shipper.flush(60_000), true, 'the backlog drains after the restart');
    const stats = shipper.stats();
    assert.equal(stats.queueDepth, 0);
    assert.equal(stats.deadLettered, 0);
    assert.equal(stats.delivered, ids.length, 'every written document is accounted as delivered once');
    await assertExactlyOnce(direct, prefix, ids);
    t.diagnostic(`c: wrote ${ids.length}, backlog at outage ${outage.queueDepth}, retried ${stats.retried}, duplicates ${stats.duplicates}`);
  });

  const storms: Array<{ name: string; mode: FaultMode }> = [
    { name: 'whole-request 429', mode: { kind: 'status', status: 429, fraction: 0.6 } },
    { name: 'whole-request 503', mode: { kind: 'status', status: 503, fraction: 0.6 } },
    { name: 'item-level 429', mode: { kind: 'item-status', status: 429, fraction: 0.4 } },
    { name: 'item-level 503', mode: { kind: 'item-status', status: 503, fraction: 0.4 } },
  ];
  for (const storm of storms) {
    it(`d. delivers everything exactly once through a ${storm.name} storm, retrying only what failed`, { timeout: 90_000 }, async (t) => {
      const prefix = await freshPrefix(t, 'storm');
      const proxy = await proxyFor(t, storm.mode);
      const { shipper, logger } = shipperFor(t, proxy.url, prefix, { batchSize: 250, retryBaseMs: 20, retryMaxMs: 300 });
      shipper.start();
      const ids = logMany(logger, 3000);
      assert.equal(await shipper.flush(60_000), true);
      const stats = shipper.stats();
      const faults = proxy.stats;
      assert.ok(faults.statusFaults + faults.itemFaults > 0, 'the proxy injected faults');
      assert.ok(stats.retried > 0, 'the shipper retried');
      assert.equal(stats.delivered, ids.length);
      // Refused items were never indexed, so a shipper that resends only them meets no 409.
      assert.equal(stats.duplicates, 0, 'only the failed items were resent');
      assert.equal(stats.deadLettered, 0);
      await assertExactlyOnce(admin, prefix, ids);
      t.diagnostic(`d ${storm.name}: retried ${stats.retried}, bulk requests ${faults.bulkRequests}, injected ${faults.statusFaults} request / ${faults.itemFaults} item faults`);
    });
  }

  it('d. keeps memory bounded when an item-level 429 storm meets a spooled backlog', { timeout: 90_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'stormmem');
    const proxy = await proxyFor(t, { kind: 'refuse' });
    const maxMemoryBytes = 200_000;
    // Small chunks and a small memory bound, so the backlog is many times the bound; a long per-chunk backoff, so
    // chunks with refused items wait while the storm goes on.
    const { shipper, logger } = shipperFor(t, proxy.url, prefix, { batchSize: 100, maxMemoryBytes, retryBaseMs: 3000, retryMaxMs: 3000 });
    shipper.start();
    const ids: string[] = [];
    for (let i = 0; i < 5000; i += 1) ids.push(logSecurity(logger));
    await waitFor('the backlog to be spooled', () => !shipper.stats().elasticsearchReachable && shipper.stats().queueDepth === ids.length);
    const backlog = shipper.stats();
    assert.ok(backlog.spoolBytes > 10 * maxMemoryBytes, 'the backlog is many times the memory bound');
    assert.ok(backlog.memoryBytes <= maxMemoryBytes, 'during the outage the rest waits on disk');

    await proxy.setMode({ kind: 'item-status', status: 429, fraction: 0.5 });
    let peak = 0;
    const stormEnds = Date.now() + 4000;
    while (Date.now() < stormEnds) {
      peak = Math.max(peak, shipper.stats().memoryBytes);
      await sleep(20);
    }
    const storm = shipper.stats();
    t.diagnostic(`d storm over a backlog: memoryBytes peak ${peak} (bound ${maxMemoryBytes}, backlog ${backlog.spoolBytes} bytes), delivered ${storm.delivered} of ${ids.length} during the storm`);
    await proxy.setMode({ kind: 'pass' });
    assert.equal(await shipper.flush(60_000), true);
    await assertExactlyOnce(admin, prefix, ids);
    // The chunks in flight (concurrency 2) and the one being filled may come on top of the bound, nothing more.
    const chunkBytes = backlog.spoolBytes / (ids.length / 100);
    assert.ok(peak <= maxMemoryBytes + 3 * chunkBytes,
      `memory held ${peak} bytes of documents during the storm, bound ${maxMemoryBytes} (+ ${Math.round(3 * chunkBytes)} for chunks in flight): ` +
      'chunks with refused items keep every item in memory while newer chunks are loaded from disk and sent');
  });

  it('e. delivers exactly once through dropped connections (before and after Elasticsearch did the work)', { timeout: 90_000 }, async (t) => {
    for (const afterForward of [false, true]) {
      const prefix = await freshPrefix(t, 'drop');
      const proxy = await proxyFor(t, { kind: 'drop', fraction: 0.5, afterForward }, afterForward ? 11 : 13);
      const { shipper, logger } = shipperFor(t, proxy.url, prefix, { batchSize: 250, retryBaseMs: 20, retryMaxMs: 300 });
      shipper.start();
      const ids = logMany(logger, 2000);
      assert.equal(await shipper.flush(60_000), true);
      const stats = shipper.stats();
      assert.ok(proxy.stats.drops > 0, 'connections were dropped');
      assert.ok(stats.retried > 0);
      assert.equal(stats.delivered, ids.length);
      if (afterForward) assert.ok(stats.duplicates > 0, 'a retry after a lost answer meets 409s, counted as duplicates');
      else assert.equal(stats.duplicates, 0);
      await assertExactlyOnce(admin, prefix, ids);
      t.diagnostic(`e drop${afterForward ? ' after forward' : ''}: drops ${proxy.stats.drops}, retried ${stats.retried}, duplicates ${stats.duplicates}`);
    }
  });

  it('e. delivers exactly once through 2 s of latency per request, and write() never waits for it', { timeout: 90_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'latency');
    const proxy = await proxyFor(t, { kind: 'latency', ms: 2000 });
    const { shipper, logger } = shipperFor(t, proxy.url, prefix, { batchSize: 500 });
    shipper.start();
    const ids: string[] = [];
    let slowestWriteMs = 0;
    const started = Date.now();
    for (let burst = 0; burst < 6; burst += 1) {
      const t0 = performance.now();
      ids.push(...logMany(logger, 500));
      slowestWriteMs = Math.max(slowestWriteMs, performance.now() - t0);
      await sleep(300);
    }
    assert.equal(await shipper.flush(60_000), true);
    const elapsed = Date.now() - started;
    const stats = shipper.stats();
    assert.ok(elapsed >= 2000, 'deliveries waited for the latency');
    assert.ok(slowestWriteMs < 1000, `500 writes took ${slowestWriteMs.toFixed(0)} ms: write() does not wait on the network`);
    assert.equal(stats.delivered, ids.length);
    assert.equal(stats.duplicates, 0);
    await assertExactlyOnce(admin, prefix, ids);
    t.diagnostic(`e latency: ${ids.length} documents in ${elapsed} ms through ${proxy.stats.bulkRequests} bulk requests; slowest burst of 500 writes ${slowestWriteMs.toFixed(1)} ms`);
  });

  it('f. dead-letters a document the mapping rejects (file and index), delivers the rest of its batch, never retries it', { timeout: 60_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'deadletter');
    const proxy = await proxyFor(t);
    const { shipper, logger, dir } = shipperFor(t, proxy.url, prefix);
    shipper.start();
    const good: string[] = [];
    for (let i = 0; i < 4; i += 1) good.push(logSecurity(logger));
    const badIp = randomUUID();
    logger.warn({ event: { id: badIp, kind: 'event', action: 'authn_login_fail', dataset: 'sentinel.security' }, source: { ip: 'not-an-ip' } }, 'bad source.ip');
    for (let i = 0; i < 4; i += 1) good.push(logAccess(logger));
    const badField = randomUUID();
    logger.warn({ event: { id: badField, kind: 'event', action: 'authn_login_fail', dataset: 'sentinel.security' }, surprise: { field: 1 } }, 'unknown top-level field');
    good.push(logSecurity(logger));

    // flush() must wait for the batch AND the dead letters it produced (they are new documents for the
    // dead-letter index). Checked last, so the rest of the behaviour is verified either way.
    const drainedFirst = await shipper.flush(15_000);
    const afterFirstFlush = shipper.stats();
    assert.equal(afterFirstFlush.deadLettered, 2);
    await assertExactlyOnce(admin, prefix, good);

    // On disk.
    const file = join(dir, 'deadletter.ndjson');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { sentinel: { deadletter: { document_id: string; status: number; document: string } }; error: { type: string } });
    assert.deepEqual(lines.map((l) => l.sentinel.deadletter.document_id).sort(), [badIp, badField].sort());
    const byId = Object.fromEntries(lines.map((l) => [l.sentinel.deadletter.document_id, l]));
    assert.equal(byId[badIp]!.sentinel.deadletter.status, 400);
    assert.equal(byId[badIp]!.error.type, 'document_parsing_exception');
    assert.equal(byId[badField]!.error.type, 'strict_dynamic_mapping_exception');
    assert.match(byId[badIp]!.sentinel.deadletter.document, /not-an-ip/);

    // In the dead-letter index (a second flush covers the case where the first one returned early).
    const drainedSecond = await shipper.flush(15_000);
    assert.equal(drainedSecond, true);
    assert.equal(shipper.stats().queueDepth, 0);
    await refresh(admin, `${prefix}-deadletter-*`);
    const deadletters = await admin.search<{ sentinel: { deadletter: { document_id: string } } }>({ index: `${prefix}-deadletter-*`, size: 10, ignore_unavailable: true, allow_no_indices: true });
    assert.deepEqual(deadletters.hits.hits.map((hit) => hit._source!.sentinel.deadletter.document_id).sort(), [badIp, badField].sort());
    assert.equal(await countDocs(admin, docsPattern(prefix), { terms: { 'event.id': [badIp, badField] } }), 0);

    // Never retried: the proxy saw each document once (the batch) and each dead letter once, and nothing after.
    const seen = proxy.stats.bulkItems;
    assert.equal(seen, good.length + 2 + 2);
    const more = logSecurity(logger);
    assert.equal(await shipper.flush(15_000), true);
    await sleep(1000); // the one place a pause is the point: nothing may happen during it
    assert.equal(proxy.stats.bulkItems, seen + 1, 'the rejected documents were not sent again');
    await assertExactlyOnce(admin, prefix, [...good, more]);

    assert.equal(drainedFirst, true,
      `flush() returned false with ${afterFirstFlush.queueDepth} dead-letter document(s) still owed: it stops waiting once the queue is empty, ` +
      'although the dead letters it produced sit in a new, unsealed chunk');
    assert.equal(afterFirstFlush.queueDepth, 0, 'nothing is owed when flush() returns');
  });

  it('g. replays the spool after a crash (abandoned shipper), skipping a torn last line and losing nothing else', { timeout: 60_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'crash');
    const dead = await proxyFor(t, { kind: 'refuse' });
    const dir = tempDir(t, 'crash');
    // The first process: Elasticsearch unreachable, never closed. Its chunk files stay, with no shutdown flush.
    const first = createShipper({ client: createElasticClient({ url: dead.url }), indexPrefix: prefix, dir, ...FAST });
    const firstLogger = createLogger({ name: 'koa-sentinel-test', stdout: false, sinks: [first] });
    first.start();
    const n = 1500;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1) ids.push(logSecurity(firstLogger));
    // Security events are journaled before write() returns: all of them are on disk now, whatever happens next.
    assert.equal(spoolLines(dir), n);
    // A crash mid-write leaves half a line at the end of the newest chunk.
    const files = chunkFiles(dir);
    assert.ok(files.length >= 2, 'more than one chunk was written');
    const tornId = randomUUID();
    appendFileSync(files.at(-1)!, `{"@timestamp":"${new Date().toISOString()}","event":{"id":"${tornId}","dataset":"sentinel.secu`);

    const { shipper, dir: same } = shipperFor(t, es.url, prefix, {}, dir);
    assert.equal(same, dir);
    shipper.start();
    assert.ok(shipper.stats().queueDepth >= n, 'the replayed backlog is visible at start');
    assert.equal(await shipper.flush(30_000), true);
    assert.equal(shipper.stats().delivered, n);
    await assertExactlyOnce(admin, prefix, ids);
    assert.equal(await countDocs(admin, `${prefix}-*`, { term: { 'event.id': tornId } }), 0);
    assert.deepEqual(chunkFiles(dir), [], 'every replayed chunk is deleted once delivered');
  });

  it('h. loses no acknowledged login failure when the server is SIGKILLed under load', { timeout: 180_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'sigkill');
    // Slow Elasticsearch: bulk requests hang 3 s, so events pile up unsent (and some reach Elasticsearch after
    // the process that sent them is dead: the replay must then meet 409s, not make duplicates).
    const proxy = await proxyFor(t, { kind: 'latency', ms: 3000 });
    const work = tempDir(t, 'sigkill');
    const spool = join(work, 'spool');
    const env = { ES_INDEX_PREFIX: prefix, SPOOL_DIR: spool, AUTH_USERS_FILE: await usersFile(work), TRUST_PROXY: 'true' };
    const first = await spawnServer({ ...env, ELASTICSEARCH_URL: proxy.url });
    t.after(() => stopServer(first));

    const acknowledged: string[] = [];
    let attempts = 0;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i += 1) {
        const requestId = `sigkill-${w}-${i}-${randomUUID()}`;
        attempts += 1;
        try {
          const response = await fetch(`${first.url}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-forwarded-for': `10.77.${w}.${i % 250}` },
            body: JSON.stringify({ username: `nobody-${w}-${i}`, password: 'wrong password for the sigkill test' }),
          });
          await response.text();
          if (response.status === 401 && response.headers.get('x-request-id') === requestId) acknowledged.push(requestId);
        } catch {
          // the server was killed under this request: no response, no promise made
        }
      }
    };
    // Also when the test fails before the kill: workers left running would hammer a dead port forever.
    t.after(() => {
      stop = true;
    });
    const workers = Array.from({ length: 50 }, (_, w) => worker(w));
    // 200 is enough for a backlog (asserted below) and within reach of a busy 2-CPU machine, where failed logins
    // (scrypt against a dummy hash) run at under 10 per second.
    // A precondition, not a timing: on a machine shared with another suite it may take minutes.
    await waitFor('load to build up', () => acknowledged.length >= 200, 240_000, 20).catch((error: Error) => {
      throw new Error(`${error.message}: ${acknowledged.length} of ${attempts} logins acknowledged\n${first.stderr()}`);
    });
    first.child.kill('SIGKILL');
    const { signal } = await first.exited;
    stop = true;
    await Promise.all(workers);
    assert.equal(signal, 'SIGKILL');
    const leftOnDisk = spoolLines(spool);
    assert.ok(leftOnDisk > 0, 'the killed process left a backlog in the spool');

    const second = await spawnServer({ ...env, ELASTICSEARCH_URL: es.url });
    t.after(() => stopServer(second));
    await waitFor('the replay to drain', async () => (await health(second.url)).queueDepth === 0, 60_000, 200);
    const replay = await health(second.url);

    const index = `${prefix}-events-*`;
    await refresh(admin, index);
    const found = await admin.search({
      index, size: 0,
      query: { bool: { filter: [{ term: { 'event.action': 'authn_login_fail' } }, { terms: { 'http.request.id': acknowledged } }] } },
      aggs: { ids: { terms: { field: 'http.request.id', size: acknowledged.length + 10 } } },
    } as never);
    const buckets = (found.aggregations as { ids: { buckets: Array<{ key: string; doc_count: number }> } }).ids.buckets;
    const counts = new Map(buckets.map((b) => [b.key, b.doc_count]));
    const missing = acknowledged.filter((id) => !counts.has(id));
    const twice = buckets.filter((b) => b.doc_count !== 1);
    assert.deepEqual(missing, [], `${missing.length} acknowledged login failures are missing from Elasticsearch`);
    assert.deepEqual(twice, [], 'each acknowledged login failure is indexed exactly once');
    t.diagnostic(`h: ${attempts} attempts, ${acknowledged.length} acknowledged before SIGKILL, ${leftOnDisk} documents left in the spool, replay: delivered ${replay.delivered}, duplicates ${replay.duplicates}`);
  });

  it('i. keeps memory bounded through a 60 s outage under full load, then drains the backlog', { timeout: 420_000 }, async (t) => {
    const prefix = await freshPrefix(t, 'outage');
    const proxy = await proxyFor(t, { kind: 'refuse' });
    const work = tempDir(t, 'outage');
    const spool = join(work, 'spool');
    // --trace-gc only prints (to stdout, here a file): the heap after each major collection is the memory the
    // process really keeps, which RSS (mostly V8's garbage headroom under load) cannot show.
    const stdoutFile = join(work, 'stdout.log');
    const server = await spawnServer(
      { ES_INDEX_PREFIX: prefix, SPOOL_DIR: spool, AUTH_USERS_FILE: await usersFile(work), TRUST_PROXY: 'true', ELASTICSEARCH_URL: proxy.url },
      { nodeArgs: ['--trace-gc'], stdoutFile },
    );
    t.after(() => stopServer(server));
    const pid = server.child.pid!;

    // One real session, for the authenticated third of the load.
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: SHIPPER_TEST_PASSWORD }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');

    // From here on VmHWM is the peak of this minute, not of start-up (scrypt's 128 MiB, the TypeScript loader).
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const baselineKb = rssKb(pid);
    let peakKb = baselineKb;
    const seriesMb: number[] = [];
    const sampler = setInterval(() => {
      try {
        const kb = rssKb(pid);
        seriesMb.push(Math.round(kb / 1024));
        peakKb = Math.max(peakKb, kb);
      } catch {
        // exited
      }
    }, 1000);
    t.after(() => clearInterval(sampler));

    // Long user agents (the access log keeps up to 512 characters) and trace-style request ids (up to 128) make
    // every document ~1 kB, so even a slow machine owes more than the shipper's 32 MiB memory bound within the
    // minute: the bound is really exercised.
    const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) outage-test ${'x'.repeat(400)}`;
    const requestId = (kind: string): string => `${kind}-${randomBytes(48).toString('hex')}`.slice(0, 120);
    let n = 0;
    const result = await autocannon({
      url: server.url,
      connections: 50,
      // A fixed rate, so the figures do not depend on how fast (or how shared) the machine is: unthrottled, the same
      // test ran at 430-2300 requests/s on the 2-CPU test machine and RSS followed the allocation rate (208-432 MB
      // peaks, shipper memory always ~33 MB). 800/s is sustained there unless the machine is heavily shared, and
      // gives a backlog of ~100 MB in the minute, three times the shipper's memory bound.
      overallRate: 800,
      duration: 60,
      requests: [
        {
          method: 'POST',
          path: '/auth/login',
          headers: { 'content-type': 'application/json', 'user-agent': userAgent },
          // A fresh source and account each time: real failed logins (scrypt and all), not throttled 429s.
          setupRequest: (request) => {
            n += 1;
            return {
              ...request,
              headers: { ...request.headers, 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 'x-request-id': requestId('login') },
              body: JSON.stringify({ username: `spray-${n % 5000}`, password: 'not the password at all' }),
            };
          },
        },
        { method: 'GET', path: '/api/hello', headers: { cookie, 'user-agent': userAgent, 'x-request-id': requestId('hello') } },
        // Without a session: 401 and an authn_token_invalid event, cheap for the server, so the backlog grows fast.
        { method: 'GET', path: '/api/hello', headers: { 'user-agent': userAgent, 'x-request-id': requestId('anonymous') } },
      ],
    });
    clearInterval(sampler);
    // The kernel's high-water mark of the process's RSS since the reset: the true peak, which samples can miss.
    peakKb = Math.max(peakKb, rssKb(pid, 'VmHWM'));
    const during = await health(server.url);
    const spoolBytes = dirBytes(spool);
    const requests = result.requests.total;
    t.diagnostic(`i: ${requests} requests in 60 s (${Math.round(result.requests.average)}/s, non-2xx ${result.non2xx}, errors ${result.errors}), RSS baseline ${Math.round(baselineKb / 1024)} MB, peak ${Math.round(peakKb / 1024)} MB, spool ${Math.round(spoolBytes / 1048576)} MB on disk, shipper memory ${Math.round(during.memoryBytes / 1048576)} MB, queueDepth ${during.queueDepth}`);

    t.diagnostic(`i: RSS every 5 s (MB): ${seriesMb.filter((_, k) => k % 5 === 0).join(' ')}`);
    const liveMb = heapAfterMajorGcs(readFileSync(stdoutFile, 'utf8'));
    t.diagnostic(`i: heap after each major GC (MB): ${liveMb.join(' ')}`);
    assert.ok(requests > 10_000, `the load was real (${requests} requests)`);
    assert.equal(result.errors, 0, 'the server answered every request during the outage');
    assert.equal(during.elasticsearchReachable, false);
    assert.equal(during.dropped, 0);
    // An access record per answered request, plus a security event per 401 (failed login, missing session).
    assert.ok(during.queueDepth >= requests + result.non2xx, `the backlog (${during.queueDepth}) holds every record of the ${requests} answered requests`);
    // The shipper's own bound: maxMemoryBytes (32 MiB default) across sealed chunks, plus the one being filled.
    assert.ok(during.memoryBytes <= 32 * 1024 * 1024 + 4 * 1024 * 1024, `the shipper holds ${during.memoryBytes} bytes of documents in memory`);
    // The spool takes the rest: the whole backlog is on disk (all but the chunk being filled, whose access records
    // may still be buffered for up to maxBatchAgeMs), and the disk holds more than memory does.
    const onDisk = spoolLines(spool);
    assert.ok(onDisk >= during.queueDepth - 1000, `the spool holds ${onDisk} of the ${during.queueDepth} documents owed`);
    assert.ok(spoolBytes > 40 * 1024 * 1024, `the backlog (${spoolBytes} bytes on disk) outgrew the 32 MiB memory bound, so the bound was exercised`);
    assert.ok(spoolBytes > during.memoryBytes, `the spool (${spoolBytes} bytes) is larger than what the shipper keeps in memory`);
    // Memory bounds, measured on the 2-CPU test machine at this load (800 requests/s, ~100 MB owed at the end):
    // - Live heap, i.e. the heap right after each full mark-compact (--trace-gc): it plateaus at 76-81 MB (the
    //   shipper's 32 MiB of documents, the app, the throttle counters of every sprayed source). The same load with
    //   the shipper's maxMemoryBytes raised to 1 GiB climbs past 110 MB and is still climbing at 134 MB when the
    //   minute ends. Bound: 110 MB.
    // - RSS, the whole process as shipped: peaks of 218-373 MB. It is mostly V8's garbage headroom, which follows
    //   the allocation rate (an unbounded shipper measured 327 MB, inside the bounded range), so it is only a
    //   sanity bound against gross growth (a per-request leak, a pipe buffering stdout): 500 MB.
    assert.ok(liveMb.length >= 3, `the minute saw major collections (${liveMb.length}): the live-heap check has data`);
    assert.ok(Math.max(...liveMb) < 110, `the live heap after major GCs peaked at ${Math.max(...liveMb)} MB: under 110 MB`);
    assert.ok(peakKb < 500 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MB stays under 500 MB`);

    await proxy.setMode({ kind: 'pass' });
    const drainStart = Date.now();
    await waitFor('the backlog to drain', async () => (await health(server.url)).queueDepth === 0, 120_000, 500);
    const drainMs = Date.now() - drainStart;
    const drained = await health(server.url);
    // Only the shipper's families: on a shared node, other tools may keep their own state under a prefix.
    const indexed = await countDocs(admin, docsPattern(prefix));
    t.diagnostic(`i: drained ${drained.delivered} documents in ${(drainMs / 1000).toFixed(1)} s (${Math.round(drained.delivered / (drainMs / 1000))}/s; the first retry after the outage waits out a backoff of up to 30 s), ${indexed} indexed, retried ${drained.retried}, duplicates ${drained.duplicates}`);
    assert.equal(drained.deadLettered, 0);
    // Every owed document counts once in `delivered`, whether it came back 201 or 409 (a 409 here would be a
    // retry of an attempt whose answer was lost): Elasticsearch holds exactly what was delivered.
    assert.equal(indexed, drained.delivered, 'what Elasticsearch holds is what the shipper delivered');
    assert.equal(dirBytes(spool) - (existsSync(join(spool, 'deadletter.ndjson')) ? statSync(join(spool, 'deadletter.ndjson')).size : 0), 0, 'the spool is empty');
  });
});
