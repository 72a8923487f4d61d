import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { createLoginHistory, decodeCursor, encodeCursor, type LoginHistoryEntry, type LoginHistoryPage, type LoginHistoryQuery } from '../../src/elastic/login-history.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { dailyIndex } from '../../src/elastic/templates.js';
import { buildSecurityEvent, type SecurityEvent } from '../../src/events/security-event.js';
import type { EcsDocument } from '../../src/logging/ecs.js';
import { createLogger } from '../../src/logging/logger.js';
import { createApp } from '../../src/service/app.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';
import { dropPrefix, freePort, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { PASSWORDS, TEST_SCRYPT, TestClient, testUsers } from '../support/http-server.js';

const HOUR = 3_600_000;

interface HistoryApp {
  url: string;
  events: SecurityEvent[];
  docs: EcsDocument[];
  client(): TestClient;
  close(): Promise<void>;
}

/** The reference app, as the harness builds it, plus the loginHistory option the harness does not pass. */
async function startHistoryApp(loginHistory: ((query: LoginHistoryQuery) => Promise<LoginHistoryPage>) | undefined): Promise<HistoryApp> {
  const events: SecurityEvent[] = [];
  const docs: EcsDocument[] = [];
  const logger = createLogger({ name: 'history-test', level: 'trace', stdout: false, sinks: [{ write: (doc) => docs.push(doc) }] });
  const { app, kit } = createApp({
    logger,
    loginHistory,
    onEvent: (event) => events.push(event),
    session: { keyRing: createKeyRing([{ kid: 'k1', alg: 'HS256', secret: randomBytes(32) }]), users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    events,
    docs,
    client: () => new TestClient(url),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
    },
  };
}

async function signedIn(app: HistoryApp, name: 'alice' | 'admin'): Promise<TestClient> {
  const client = app.client();
  const res = await client.login(name, PASSWORDS[name]);
  assert.equal(res.status, 200);
  return client;
}

/** What the endpoint should return for one indexed event. */
function entryOf(event: SecurityEvent): LoginHistoryEntry {
  return {
    time: event['@timestamp'],
    outcome: event.event.outcome === 'success' ? 'success' : 'failure',
    action: event.event.action,
    sourceIp: event.source?.ip ?? null,
    userAgent: event.user_agent?.original ?? null,
  };
}

/** Newest first; ties on the timestamp broken by event.id, descending (the endpoint's sort). */
function newestFirst(a: SecurityEvent, b: SecurityEvent): number {
  if (a['@timestamp'] !== b['@timestamp']) return a['@timestamp'] < b['@timestamp'] ? 1 : -1;
  return a.event.id < b.event.id ? 1 : -1;
}

async function indexEvents(client: Client, prefix: string, events: SecurityEvent[]): Promise<void> {
  const operations = events.flatMap((event) => [{ create: { _index: dailyIndex(prefix, 'events', event['@timestamp']), _id: event.event.id } }, event]);
  const response = await client.bulk({ operations, refresh: true });
  assert.equal(response.errors, false, JSON.stringify(response.items.filter((i) => Object.values(i)[0]!.error)));
}


/** Walks every page with `size`, returning the pages. Stops at nextCursor null (or fails after `limit` pages). */
async function walk(client: TestClient, path: string, size: number, limit = 50): Promise<LoginHistoryPage[]> {
  const pages: LoginHistoryPage[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ size: String(size), ...(cursor ? { cursor } : {}) });
    const res = await client.request('GET', `${path}?${query}`);
    assert.equal(res.status, 200, res.text);
    const page = res.body as LoginHistoryPage;
    assert.ok(page.logins.length <= size);
    pages.push(page);
    cursor = page.nextCursor;
    assert.ok(pages.length <= limit, 'pagination does not end');
  } while (cursor !== null);
  return pages;
}

describe('login history over HTTP, from the real Elasticsearch', () => {
  let es: Client;
  let prefix: string;
  let app: HistoryApp;
  /** alice's login events, as indexed. */
  let aliceLogins: SecurityEvent[];
  let adminLogins: SecurityEvent[];
  const base = Date.now() - 3 * 24 * HOUR;

  before(async () => {
    const { url } = await sharedElasticsearch();
    es = createElasticClient({ url });
    prefix = uniquePrefix('history');
    await setupElasticsearch(es, prefix, url);
    const at = (hours: number): Date => new Date(base + hours * HOUR);
    const login = (action: 'authn_login_success' | 'authn_login_fail' | 'authn_login_successafterfail', user: string, hours: number, ip: string, ua?: string): SecurityEvent =>
      buildSecurityEvent(action, {
        user: { name: user, id: `u_${user}` }, source: { ip }, userAgent: ua, timestamp: at(hours),
        reason: action === 'authn_login_fail' ? 'bad_password' : undefined,
        http: { method: 'POST', statusCode: action === 'authn_login_fail' ? 401 : 200 }, urlPath: '/auth/login',
      });
    // Spread over three daily indices; two share a timestamp, so the event.id tie-break is exercised.
    aliceLogins = [
      login('authn_login_success', 'alice', 0, '198.51.100.1', 'Firefox/120'),
      login('authn_login_fail', 'alice', 20, '203.0.113.50', 'curl/8.0'),
      login('authn_login_fail', 'alice', 20.5, '203.0.113.50', 'curl/8.0'),
      login('authn_login_successafterfail', 'alice', 21, '198.51.100.1', 'Firefox/120'),
      login('authn_login_success', 'alice', 30, '2001:db8::7', 'Safari/17'),
      login('authn_login_success', 'alice', 30, '2001:db8::8', 'Safari/17'),
      login('authn_login_fail', 'alice', 50, '192.0.2.4'),
    ];
    adminLogins = [
      login('authn_login_success', 'admin', 1, '10.0.0.1', 'AdminTool/1'),
      login('authn_login_fail', 'admin', 22, '10.0.0.2', 'AdminTool/1'),
    ];
    const noise = [
      login('authn_login_success', 'alicia', 2, '10.1.1.1'),
      login('authn_login_success', 'Alice', 3, '10.1.1.2'),
      login('authn_login_fail', 'bob', 4, '10.1.1.3'),
      buildSecurityEvent('session_logout', { user: { name: 'alice' }, source: { ip: '198.51.100.1' }, timestamp: at(31) }),
      buildSecurityEvent('authn_token_created', { user: { name: 'alice' }, source: { ip: '198.51.100.1' }, timestamp: at(32) }),
      buildSecurityEvent('authz_fail', { user: { name: 'alice' }, source: { ip: '198.51.100.1' }, timestamp: at(33) }),
      buildSecurityEvent('authn_login_lock', { user: { name: 'alice' }, source: { ip: '203.0.113.50' }, timestamp: at(20.6), reason: 'account' }),
    ];
    await indexEvents(es, prefix, [...aliceLogins, ...adminLogins, ...noise]);
    app = await startHistoryApp(createLoginHistory({ client: es, indexPrefix: prefix }));
  });

  after(async () => {
    await app?.close();
    await dropPrefix(es, prefix);
    await es.close();
  });

  it('GET /auth/login-history: only the signed-in user\'s logins, newest first, with time, outcome, IP and user agent', async () => {
    const alice = await signedIn(app, 'alice');
    const res = await alice.request('GET', '/auth/login-history');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const expected = [...aliceLogins].sort(newestFirst).map(entryOf);
    assert.deepEqual(res.body, { logins: expected, nextCursor: null });
    // Spot checks on the expected list itself, so a mistake in the helpers cannot hide one in the endpoint.
    assert.equal(expected[0]!.time, new Date(base + 50 * HOUR).toISOString());
    assert.deepEqual(expected[0], { time: expected[0]!.time, outcome: 'failure', action: 'authn_login_fail', sourceIp: '192.0.2.4', userAgent: null });
    assert.deepEqual(expected.map((e) => e.outcome), ['failure', 'success', 'success', 'success', 'failure', 'failure', 'success']);
    assert.equal(expected.at(-1)!.userAgent, 'Firefox/120');
    // The login the test just made went to onEvent, not to Elasticsearch: history is what Elasticsearch holds.
    assert.ok(app.events.some((e) => e.event.action === 'authn_login_success'));
  });

  it('pages with ?size=2 and nextCursor: every login exactly once, in order, ending with nextCursor null', async () => {
    const alice = await signedIn(app, 'alice');
    const pages = await walk(alice, '/auth/login-history', 2);
    const expected = [...aliceLogins].sort(newestFirst).map(entryOf);
    assert.deepEqual(pages.map((p) => p.logins.length), [2, 2, 2, 1]);
    assert.deepEqual(pages.flatMap((p) => p.logins), expected);
    assert.equal(pages.at(-1)!.nextCursor, null);
    for (const page of pages.slice(0, -1)) assert.equal(typeof page.nextCursor, 'string');
  });

  it('pages of other sizes cover the same list; an exactly full last page is followed by an empty one', async () => {
    const alice = await signedIn(app, 'alice');
    const expected = [...aliceLogins].sort(newestFirst).map(entryOf);
    for (const size of [1, 3, 7, 100]) {
      const pages = await walk(alice, '/auth/login-history', size);
      assert.deepEqual(pages.flatMap((p) => p.logins), expected, `size ${size}`);
    }
    const exact = await walk(alice, '/auth/login-history', 7);
    assert.deepEqual(exact.map((p) => p.logins.length), [7, 0]);
  });

  it('a cursor keeps its place when newer logins arrive between pages', async () => {
    const alice = await signedIn(app, 'alice');
    const first = await alice.request('GET', '/auth/login-history?size=3');
    assert.equal(first.status, 200);
    const newer = buildSecurityEvent('authn_login_success', { user: { name: 'alice', id: 'u_alice' }, source: { ip: '198.51.100.99' }, timestamp: new Date() });
    await indexEvents(es, prefix, [newer]);
    try {
      const rest: LoginHistoryEntry[] = [];
      let cursor: string | null = first.body.nextCursor;
      while (cursor) {
        const res = await alice.request('GET', `/auth/login-history?size=3&cursor=${encodeURIComponent(cursor)}`);
        rest.push(...res.body.logins);
        cursor = res.body.nextCursor;
      }
      assert.deepEqual([...first.body.logins, ...rest], [...aliceLogins].sort(newestFirst).map(entryOf));
      const fresh = await alice.request('GET', '/auth/login-history?size=1');
      assert.deepEqual(fresh.body.logins, [entryOf(newer)]);
    } finally {
      // By id (the minimal distribution has no _delete_by_query).
      await es.delete({ index: dailyIndex(prefix, 'events', newer['@timestamp']), id: newer.event.id, refresh: true });
    }
  });

  it('answers 400 invalid_request for a bad cursor or size', async () => {
    const alice = await signedIn(app, 'alice');
    const badCursors = [
      'garbage',
      'e30', // {}
      encodeCursor([1, 2]),
      encodeCursor(['x', 'y']),
      encodeCursor([1]),
      encodeCursor([1, 'a'.repeat(65)]),
      Buffer.from('[1,"a"').toString('base64url'),
    ];
    for (const cursor of badCursors) {
      const res = await alice.request('GET', `/auth/login-history?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(res.status, 400, `cursor ${cursor}`);
      assert.equal(res.body.error.code, 'invalid_request');
    }
    for (const size of ['0', '-1', '101', '1.5', 'abc', '', '1e3']) {
      const res = await alice.request('GET', `/auth/login-history?size=${encodeURIComponent(size)}`);
      assert.equal(res.status, 400, `size ${size}`);
      assert.equal(res.body.error.code, 'invalid_request');
    }
    // The cursor codec round-trips what the endpoint hands out.
    assert.deepEqual(decodeCursor(encodeCursor([1700000000000, 'abc'])), [1700000000000, 'abc']);
  });

  it('requires a session', async () => {
    const res = await app.client().request('GET', '/auth/login-history');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
  });

  it('GET /admin/users/:name/login-history: an admin reads anyone\'s history, logged as authz_admin', async () => {
    const admin = await signedIn(app, 'admin');
    const before = app.events.length;
    const res = await admin.request('GET', '/admin/users/alice/login-history');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(res.body, { logins: [...aliceLogins].sort(newestFirst).map(entryOf), nextCursor: null });
    const audit = app.events.slice(before).filter((e) => e.event.action === 'authz_admin');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.user?.name, 'admin');
    assert.equal(audit[0]!.event.outcome, 'success');
    assert.equal(audit[0]!.user?.target?.name, 'alice');
    assert.equal(audit[0]!.url?.path, '/admin/users/alice/login-history');
    // The admin's own history is their own, and paging works on this route too.
    const own = await walk(admin, '/admin/users/admin/login-history', 1);
    assert.deepEqual(own.flatMap((p) => p.logins), [...adminLogins].sort(newestFirst).map(entryOf));
    const nobody = await admin.request('GET', '/admin/users/nobody-at-all/login-history');
    assert.deepEqual(nobody.body, { logins: [], nextCursor: null });
    const bad = await admin.request('GET', '/admin/users/alice/login-history?size=0');
    assert.equal(bad.status, 400);
  });

  it('refuses a normal user the admin route with 403 and an authz_fail event', async () => {
    const alice = await signedIn(app, 'alice');
    const before = app.events.length;
    const res = await alice.request('GET', '/admin/users/admin/login-history');
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden');
    const added = app.events.slice(before).map((e) => e.event.action);
    assert.ok(added.includes('authz_fail'), added.join());
    assert.ok(!added.includes('authz_admin'), added.join());
    const anonymous = await app.client().request('GET', '/admin/users/admin/login-history');
    assert.equal(anonymous.status, 401);
  });
});

/** A TCP server that accepts connections and never says a word: a hung Elasticsearch. */
async function startBlackHole(): Promise<{ url: string; accepted(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('login history when Elasticsearch cannot answer', () => {
  /** GET `path` signed in; asserts the 503 and that it came within `withinMs`. */
  const expect503 = async (app: HistoryApp, path: string, withinMs: number): Promise<number> => {
    const client = await signedIn(app, path.startsWith('/admin') ? 'admin' : 'alice');
    const started = Date.now();
    const res = await client.request('GET', path);
    const elapsed = Date.now() - started;
    assert.equal(res.status, 503, res.text);
    assert.deepEqual(res.body, { error: { code: 'dependency_unavailable', message: 'A backing service is temporarily unavailable.' } });
    assert.ok(elapsed < withinMs, `answered after ${elapsed} ms, not within ${withinMs} ms`);
    return elapsed;
  };

  // A refused connection fails at once: well before the 2 s request timeout the black-hole case waits for.
  it('answers 503 dependency_unavailable at once (under 1 s, half its 2 s timeout) when nothing listens on the port', async () => {
    const port = await freePort();
    const client = createElasticClient({ url: `http://127.0.0.1:${port}` });
    const app = await startHistoryApp(createLoginHistory({ client, indexPrefix: 'sentinel' }));
    try {
      await expect503(app, '/auth/login-history', 1000);
      await expect503(app, '/admin/users/alice/login-history', 1000);
      const failure = app.docs.find((d) => d.message === 'request failed');
      assert.ok(failure, 'the 503 cause is logged');
    } finally {
      await app.close();
      await client.close();
    }
  });

  it('answers 503 within 3 s when Elasticsearch accepts the connection and never answers', async () => {
    const hole = await startBlackHole();
    const client = createElasticClient({ url: hole.url });
    const app = await startHistoryApp(createLoginHistory({ client, indexPrefix: 'sentinel' }));
    try {
      const elapsed = await expect503(app, '/auth/login-history', 3000);
      assert.ok(hole.accepted() > 0, 'the request reached the silent server');
      assert.ok(elapsed >= 1000, `gave up after ${elapsed} ms: it should wait for its 2 s timeout, not fail for another reason`);
      // Several at once: each one bounded, none waits behind another.
      const alice = await signedIn(app, 'alice');
      const started = Date.now();
      const all = await Promise.all(Array.from({ length: 5 }, () => alice.request('GET', '/auth/login-history')));
      assert.deepEqual(all.map((r) => r.status), [503, 503, 503, 503, 503]);
      assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms for 5 concurrent requests`);
    } finally {
      await app.close();
      await client.close();
      await hole.close();
    }
  });

  it('honours a shorter timeoutMs', async () => {
    const hole = await startBlackHole();
    const client = createElasticClient({ url: hole.url });
    const history = createLoginHistory({ client, indexPrefix: 'sentinel', timeoutMs: 300 });
    try {
      const started = Date.now();
      await assert.rejects(history({ userName: 'alice' }), (error: { code?: string; status?: number }) => error.code === 'dependency_unavailable' && error.status === 503);
      assert.ok(Date.now() - started < 1500, `${Date.now() - started} ms`);
    } finally {
      await client.close();
      await hole.close();
    }
  });

  it('answers 503 on both routes at once (under 1 s) when no login history is configured', async () => {
    const app = await startHistoryApp(undefined);
    try {
      await expect503(app, '/auth/login-history', 1000);
      await expect503(app, '/admin/users/alice/login-history', 1000);
    } finally {
      await app.close();
    }
  });
});
