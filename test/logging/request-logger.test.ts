import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Router from '@koa/router';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { dailyIndex } from '../../src/elastic/templates.js';
import { ECS_VERSION } from '../../src/events/security-event.js';
import type { EcsDocument } from '../../src/logging/ecs.js';
import { createLogger } from '../../src/logging/logger.js';
import { createApp } from '../../src/service/app.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';
import { describeProblem, validateEcsDocument } from '../support/ecs-schema.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { PASSWORDS, TEST_SCRYPT, TestClient, testUsers } from '../support/http-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'critical'];

/** The ECS logging shape (elastic/ecs-logging spec plus what our template and shipper need). */
function assertEcs(doc: Record<string, unknown>): void {
  assert.equal(typeof doc['@timestamp'], 'string');
  assert.match(doc['@timestamp'] as string, ISO);
  assert.ok(LEVELS.includes((doc.log as { level?: string } | undefined)?.level ?? ''), 'log.level');
  assert.equal(typeof doc.message, 'string');
  assert.deepEqual(doc.ecs, { version: ECS_VERSION });
  assert.equal(typeof (doc.service as { name?: unknown } | undefined)?.name, 'string');
  assert.equal(typeof (doc.host as { hostname?: unknown } | undefined)?.hostname, 'string');
  assert.ok(Number.isInteger((doc.process as { pid?: unknown } | undefined)?.pid), 'process.pid');
  assert.equal(typeof (doc.event as { id?: unknown } | undefined)?.id, 'string');
  for (const field of ['time', 'msg', 'v', 'level', 'name', 'hostname', 'pid']) assert.ok(!(field in doc), `bunyan field ${field}`);
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
}

/** Typed view of an access record. */
interface AccessRecord {
  message: string;
  event: { id: string; kind: string; category: string[]; type: string[]; dataset: string; outcome: string; duration: number };
  http: { request: { id: string; method: string }; response: { status_code: number; body?: { bytes: number } }; version: string };
  url: { path: string };
  source: { ip: string };
  user?: { name: string; id: string };
  user_agent?: { original: string };
}

interface LoggedApp {
  url: string;
  docs: EcsDocument[];
  access(): AccessRecord[];
  byRequestId(id: string): AccessRecord[];
  client(): TestClient;
  close(): Promise<void>;
}

/** Every document any app of this file logged, validated at the end and fed to the real index template. */
const allDocs: EcsDocument[] = [];

/** The reference app with an ECS-capturing logger and two extra routes: one that throws, one that is slow. */
async function startLoggedApp(options: { trustProxy?: boolean } = {}): Promise<LoggedApp> {
  const docs: EcsDocument[] = [];
  const logger = createLogger({ name: 'access-test', level: 'trace', stdout: false, sinks: [{ write: (doc) => { docs.push(doc); allDocs.push(doc); } }] });
  const keyRing = createKeyRing([{ kid: 'k1', alg: 'HS256', secret: randomBytes(32) }]);
  const { app, kit } = createApp({
    logger,
    trustProxy: options.trustProxy,
    session: { keyRing, users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT },
  });
  const extra = new Router();
  extra.get('/boom', () => {
    throw new Error('kaboom: database password is hunter2');
  });
  extra.get('/slow', async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    ctx.body = { slow: true };
  });
  app.use(extra.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const access = (): AccessRecord[] => docs.filter((d) => d.event.dataset === 'sentinel.access') as unknown as AccessRecord[];
  return {
    url,
    docs,
    access,
    byRequestId: (id) => access().filter((r) => r.http.request.id === id),
    client: () => new TestClient(url),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
    },
  };
}

/** A GET with node:http, which (unlike fetch) sends no User-Agent unless told. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function only(records: AccessRecord[]): AccessRecord {
  assert.equal(records.length, 1, `expected one access record, got ${records.length}`);
  return records[0]!;
}

describe('request logger: one ECS access record per request', () => {
  let app: LoggedApp;
  before(async () => {
    app = await startLoggedApp();
  });
  after(() => app.close());

  it('records id, method, path without query, status, duration, bytes, user, source IP and user agent', async () => {
    const client = app.client();
    const login = await client.login('alice', PASSWORDS.alice);
    assert.equal(login.status, 200);
    const accessCookie = client.cookie('__Host-sentinel_at')!;
    const res = await client.request('GET', '/api/hello?token=SECRET-IN-QUERY&x=1', {
      headers: { 'x-request-id': 'req-abc_1.2:3', 'user-agent': 'sentinel-test/1.0 (+https://example.test)' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'req-abc_1.2:3');
    const record = only(app.byRequestId('req-abc_1.2:3'));
    assertEcs(record as unknown as Record<string, unknown>);
    assert.equal(record.http.request.method, 'GET');
    assert.equal(record.http.version, '1.1');
    assert.equal(record.url.path, '/api/hello');
    assert.equal(record.http.response.status_code, 200);
    assert.equal(record.http.response.body?.bytes, Buffer.byteLength(res.text));
    assert.ok(Number.isInteger(record.event.duration) && record.event.duration > 0, `duration ${record.event.duration}`);
    assert.ok(record.event.duration < 10e9, 'duration is in nanoseconds of this request, not a timestamp');
    assert.deepEqual(record.user, { name: 'alice', id: 'u_alice' });
    assert.equal(record.source.ip, '127.0.0.1');
    assert.deepEqual(record.user_agent, { original: 'sentinel-test/1.0 (+https://example.test)' });
    assert.equal(record.message, 'GET /api/hello 200');
    assert.equal(record.event.kind, 'event');
    assert.deepEqual(record.event.category, ['web']);
    assert.deepEqual(record.event.type, ['access']);
    assert.equal(record.event.outcome, 'success');
    assert.match(record.event.id, UUID);
    assert.equal((record as unknown as { log: { level: string } }).log.level, 'info');
    const text = JSON.stringify(record);
    assert.ok(!text.includes('SECRET-IN-QUERY'), 'the query string never reaches the log');
    assert.ok(!text.includes('?'), text);
    assert.ok(!text.includes(accessCookie), 'the session cookie never reaches the log');
  });

  it('measures event.duration in nanoseconds', async () => {
    const res = await fetch(`${app.url}/slow`, { headers: { 'x-request-id': 'slow-1' } });
    assert.equal(res.status, 200);
    const { duration } = only(app.byRequestId('slow-1')).event;
    assert.ok(Number.isInteger(duration));
    assert.ok(duration >= 25_000_000, `a 30 ms handler took ${duration} ns`);
    assert.ok(duration < 5_000_000_000, `${duration} ns`);
  });

  it('generates a request id when none or an unusable one is given, and echoes it back', async () => {
    const seen = new Set<string>();
    for (const given of [undefined, 'has spaces in it', 'x'.repeat(129), 'quote"and<angle>', '']) {
      const headers: Record<string, string> = given === undefined ? {} : { 'x-request-id': given };
      const res = await fetch(`${app.url}/api/nothing-here`, { headers });
      const echoed = res.headers.get('x-request-id')!;
      assert.match(echoed, UUID, `given ${String(given)}`);
      assert.ok(!seen.has(echoed));
      seen.add(echoed);
      const record = only(app.byRequestId(echoed));
      assert.equal(record.http.response.status_code, 404);
    }
    const longest = 'a'.repeat(128);
    const res = await fetch(`${app.url}/api/nothing-here`, { headers: { 'x-request-id': longest } });
    assert.equal(res.headers.get('x-request-id'), longest);
    only(app.byRequestId(longest));
  });

  it('logs error responses with the status and body size the client saw', async () => {
    const alice = app.client();
    await alice.login('alice', PASSWORDS.alice);
    const cases: Array<{ id: string; run: () => Promise<{ status: number; text: string }>; status: number }> = [
      { id: 'e401', status: 401, run: () => app.client().request('GET', '/api/hello', { headers: { 'x-request-id': 'e401' } }) },
      { id: 'e403', status: 403, run: () => alice.request('GET', '/api/admin/stats', { headers: { 'x-request-id': 'e403' } }) },
      { id: 'e404', status: 404, run: () => app.client().request('GET', '/no/such/route', { headers: { 'x-request-id': 'e404' } }) },
      { id: 'e405', status: 405, run: () => app.client().request('PUT', '/api/hello', { csrf: false, headers: { 'x-request-id': 'e405' } }) },
      {
        id: 'e400', status: 400,
        run: () => app.client().request('POST', '/auth/login', { body: '{"username": "alice", ', headers: { 'content-type': 'application/json', 'x-request-id': 'e400' } }),
      },
      {
        id: 'e415', status: 415,
        run: () => app.client().request('POST', '/auth/login', { body: 'username=alice', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'e415' } }),
      },
      { id: 'e401login', status: 401, run: () => app.client().request('POST', '/auth/login', { json: { username: 'alice', password: 'wrong' }, headers: { 'x-request-id': 'e401login' } }) },
      { id: 'e500', status: 500, run: () => app.client().request('GET', '/boom', { headers: { 'x-request-id': 'e500' } }) },
    ];
    for (const { id, run, status } of cases) {
      const res = await run();
      assert.equal(res.status, status, id);
      const record = only(app.byRequestId(id));
      assert.equal(record.http.response.status_code, res.status, id);
      assert.equal(record.event.outcome, 'failure', id);
      assert.equal(record.http.response.body?.bytes, Buffer.byteLength(res.text), id);
      assert.ok(Number.isInteger(record.event.duration) && record.event.duration > 0, id);
    }
    const e403 = only(app.byRequestId('e403'));
    assert.equal(e403.user?.name, 'alice', 'a refused signed-in user is still named');
    assert.equal(only(app.byRequestId('e401')).user, undefined);
    // The 500 is logged once as access and once as an error with the cause; the client got neither.
    const failure = app.docs.find((d) => d.message === 'request failed' && (d.http as { request: { id: string } }).request.id === 'e500');
    assert.ok(failure, 'the 500 cause is logged');
    assert.equal((failure.error as { message: string }).message, 'kaboom: database password is hunter2');
  });

  it('names no user on anonymous requests', async () => {
    const res = await fetch(`${app.url}/api/anonymous`, { headers: { 'x-request-id': 'anon-1' } });
    assert.equal(res.status, 404);
    assert.equal(only(app.byRequestId('anon-1')).user, undefined);
  });

  it('keeps the user agent (truncated to 512 characters) and omits it when absent', async () => {
    const long = `agent/${'z'.repeat(1000)}`;
    await fetch(`${app.url}/api/ua`, { headers: { 'x-request-id': 'ua-long', 'user-agent': long } });
    assert.equal(only(app.byRequestId('ua-long')).user_agent?.original, long.slice(0, 512));
    const res = await rawGet(`${app.url}/api/ua`, { 'x-request-id': 'ua-none' });
    assert.equal(res.status, 404);
    assert.equal(only(app.byRequestId('ua-none')).user_agent, undefined);
  });

  it('does not log /healthz, with or without a query string', async () => {
    const before = app.access().length;
    for (const path of ['/healthz', '/healthz', '/healthz?probe=1']) {
      const res = await fetch(`${app.url}${path}`);
      assert.equal(res.status, 200);
    }
    await fetch(`${app.url}/api/after-health`, { headers: { 'x-request-id': 'after-health' } });
    const added = app.access().slice(before);
    assert.deepEqual(added.map((r) => r.url.path), ['/api/after-health']);
    assert.ok(!app.access().some((r) => r.url.path === '/healthz'));
  });

  it('writes exactly one access record per request', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    await Promise.all(ids.map((id, i) => fetch(`${app.url}${i % 2 ? '/healthz-not' : '/slow'}`, { headers: { 'x-request-id': id } })));
    for (const id of ids) only(app.byRequestId(id));
  });
});

describe('request logger: source.ip and TRUST_PROXY', () => {
  let direct: LoggedApp;
  let proxied: LoggedApp;
  before(async () => {
    direct = await startLoggedApp({ trustProxy: false });
    proxied = await startLoggedApp({ trustProxy: true });
  });
  after(async () => {
    await direct.close();
    await proxied.close();
  });

  it('ignores X-Forwarded-For when the proxy is not trusted', async () => {
    await fetch(`${direct.url}/api/ip`, { headers: { 'x-request-id': 'ip-direct', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(only(direct.byRequestId('ip-direct')).source.ip, '127.0.0.1');
  });

  it('uses the address the trusted proxy saw (one hop), never an entry the client wrote before it', async () => {
    await fetch(`${proxied.url}/api/ip`, { headers: { 'x-request-id': 'ip-1', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(only(proxied.byRequestId('ip-1')).source.ip, '203.0.113.9');
    // The proxy appended 10.0.0.2 (the peer it saw); 198.51.100.20 is what the client sent, spoofable.
    await fetch(`${proxied.url}/api/ip`, { headers: { 'x-request-id': 'ip-2', 'x-forwarded-for': '198.51.100.20, 10.0.0.2' } });
    assert.equal(only(proxied.byRequestId('ip-2')).source.ip, '10.0.0.2');
    await fetch(`${proxied.url}/api/ip`, { headers: { 'x-request-id': 'ip-3' } });
    assert.equal(only(proxied.byRequestId('ip-3')).source.ip, '127.0.0.1');
  });
});

describe('request logger: the whole document is redacted, message included', () => {
  it('never writes a token from the path, in url.path or in message, to stdout or to the sink', async () => {
    const lines: string[] = [];
    const docs: EcsDocument[] = [];
    const logger = createLogger({ name: 'redact-test', level: 'info', stdout: { write: (text: string) => lines.push(text) }, sinks: [{ write: (doc) => docs.push(doc) }] });
    const keyRing = createKeyRing([{ kid: 'k1', alg: 'HS256', secret: randomBytes(32) }]);
    const { app, kit } = createApp({ logger, session: { keyRing, users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT } });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${randomBytes(32).toString('base64url')}`;
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await fetch(`${url}/api/${jwt}`, { headers: { 'x-request-id': 'jwt-in-path' } });
      const record = docs.find((d) => (d.http as { request?: { id?: string } } | undefined)?.request?.id === 'jwt-in-path');
      assert.ok(record, 'the access record');
      assert.equal(record.message, 'GET /api/[REDACTED:jwt] 404');
      assert.equal((record.url as { path: string }).path, '/api/[REDACTED:jwt]');
      const line = lines.find((text) => text.includes('jwt-in-path'));
      assert.ok(line, 'the stdout line');
      assert.ok(!line.includes(jwt.split('.')[2]!), line);
      assert.equal((JSON.parse(line) as { message: string }).message, 'GET /api/[REDACTED:jwt] 404');
      for (const doc of docs) assert.ok(!JSON.stringify(doc).includes(jwt.split('.')[2]!), 'no document holds the token');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
    }
  });
});

describe('request logger: every record is valid ECS', () => {
  it('every document logged by this file has the ECS shape and passes the ECS schema (8.11 and 9.4)', () => {
    assert.ok(allDocs.length > 30, `${allDocs.length} documents`);
    for (const doc of allDocs) assertEcs(doc);
    const problems = allDocs.flatMap((doc) => validateEcsDocument(doc).map((problem) => describeProblem(problem, String(doc.message))));
    assert.deepEqual([...new Set(problems)], []);
  });

  it('every access record and security event is accepted by the real, strict index templates', async () => {
    const { url } = await sharedElasticsearch();
    const client = createElasticClient({ url });
    const prefix = uniquePrefix('reqlog');
    try {
      await setupElasticsearch(client, prefix, url);
      const shipped = allDocs.filter((d) => d.event.dataset === 'sentinel.access' || d.event.dataset === 'sentinel.security');
      assert.ok(shipped.some((d) => d.event.dataset === 'sentinel.access'));
      assert.ok(shipped.some((d) => d.event.dataset === 'sentinel.security'));
      const operations = shipped.flatMap((doc) => [
        { create: { _index: dailyIndex(prefix, doc.event.dataset === 'sentinel.access' ? 'access' : 'events', doc['@timestamp']), _id: doc.event.id } },
        doc,
      ]);
      const response = await client.bulk({ operations, refresh: true });
      const refused = response.items.map((item) => Object.values(item)[0]!).filter((result) => result.status !== 201);
      assert.deepEqual(refused.map((r) => `${r.status} ${r.error?.type}: ${r.error?.reason}`), []);
    } finally {
      await dropPrefix(client, prefix);
      await client.close();
    }
  });
});
