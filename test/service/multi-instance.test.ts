/**
 * Several instances of the reference app sharing one real Redis (issue 6), as behind a load balancer: each has its
 * own Redis store (its own connections and local cache) and the same key ring and users.
 *
 * Not here: the anomaly job running on several instances at once writes each alert once because alert ids are
 * deterministic and written with `create` (test/anomaly/runner.test.ts, "two runners at once"); it needs no Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/env.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { createLogger } from '../../src/logging/logger.js';
import { createApp } from '../../src/service/app.js';
import { startServer } from '../../src/service/server.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { SYSTEM_CLOCK } from '../../src/session/redis/clock.js';
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../../src/session/redis-store.js';
import type { SessionKitOptions } from '../../src/session/session-kit.js';
import { createFileUserDirectory, createMemoryUserDirectory, updateUserInFile } from '../../src/session/users.js';
import { PASSWORDS, TEST_SCRYPT, TestClient, testUsers, type TestResponse } from '../support/http-server.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

// Long enough that 30 parallel refreshes on a busy 2-core machine all land inside it; the replay waits it out.
const GRACE_MS = 3000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Instance {
  name: string;
  url: string;
  store: RedisStore;
  events: SecurityEvent[];
  records(): Array<Record<string, unknown>>;
  eventsOf(action: string): SecurityEvent[];
  close(): Promise<void>;
}

let clusters = 0;
const running: Instance[] = [];

/** Starts `names.length` app instances on ephemeral ports, one Redis store each, sharing one key prefix. */
async function startCluster(redisUrl: string, names: string[], options: { session?: Partial<SessionKitOptions>; sessionFor?: (name: string) => Partial<SessionKitOptions>; storeFor?: (name: string) => Partial<RedisStoreOptions> } = {}): Promise<Instance[]> {
  clusters += 1;
  const keyPrefix = `mi${clusters}:`;
  const secret = randomBytes(32);
  const users = await testUsers();
  const instances: Instance[] = [];
  for (const name of names) {
    const store = createRedisStore({ url: redisUrl, keyPrefix, ...options.storeFor?.(name) });
    await store.ready();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const events: SecurityEvent[] = [];
    const { app, kit } = createApp({
      logger: createLogger({ name: `instance-${name}`, level: 'info', streams: [{ stream, level: 'info' }] }),
      onEvent: (event) => events.push(event),
      session: {
        // Separate key ring objects from one secret, as separate processes would load it.
        keyRing: createKeyRing([{ kid: 'shared-1', alg: 'HS256', secret }]),
        users: createMemoryUserDirectory(users),
        passwordParams: TEST_SCRYPT,
        refreshGraceMs: GRACE_MS,
        store,
        ...options.session,
        ...options.sessionFor?.(name),
      },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const instance: Instance = {
      name,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      store,
      events,
      records: () => lines.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
      eventsOf: (action) => events.filter((event) => event.event.action === action),
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await kit.close();
      },
    };
    instances.push(instance);
    running.push(instance);
  }
  // Every store listens for revocation notices before the test starts.
  for (const instance of instances) {
    const deadline = Date.now() + 5000;
    while (instance.store.status().invalidation === 'down' && Date.now() < deadline) await sleep(5);
  }
  return instances;
}

/** One browser behind a load balancer: one cookie jar, requests sent to whichever instance the test names. */
class Browser {
  readonly jar: TestClient['jar'] = new Map();
  private readonly clients = new Map<string, TestClient>();

  on(instance: Instance): TestClient {
    let client = this.clients.get(instance.url);
    if (!client) {
      client = new TestClient(instance.url);
      (client as { jar: TestClient['jar'] }).jar = this.jar;
      this.clients.set(instance.url, client);
    }
    return client;
  }

  /** Another browser holding a copy of these cookies as they are now (a stolen or saved copy). */
  copy(): Browser {
    const other = new Browser();
    for (const [name, cookie] of this.jar) other.jar.set(name, { ...cookie });
    return other;
  }
}

function assertError(res: TestResponse, status: number, code: string): void {
  assert.equal(res.status, status, `${status} expected, got ${res.status}: ${res.text}`);
  assert.equal(res.body?.error?.code, code, res.text);
}

/** Polls until `check` holds; returns how long that took, or fails after `withinMs`. */
async function within(withinMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await sleep(10);
  }
}

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((instance) => instance.close()));
});
after(() => redis.destroy());

describe('several instances sharing one Redis', () => {
  it('a session started on A works on B and C; logout on B is refused on A and C within one second', async (t) => {
    const [a, b, c] = await startCluster(redis.url, ['A', 'B', 'C']);
    const browser = new Browser();
    assert.equal((await browser.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    for (const instance of [a!, b!, c!]) {
      const res = await browser.on(instance).request('GET', '/api/hello');
      assert.equal(res.status, 200, `${instance.name}: ${res.text}`);
    }
    // A and C now hold the session in their local caches; a copy of the cookies outlives the logout.
    const stolen = browser.copy();
    const logout = await browser.on(b!).request('POST', '/auth/logout');
    assert.equal(logout.status, 204, logout.text);
    const latencies: string[] = [];
    for (const instance of [a!, c!]) {
      const ms = await within(1000, `${instance.name} refuses the logged-out session`, async () => (await stolen.on(instance).request('GET', '/api/hello')).status === 401);
      latencies.push(`${instance.name} ${ms.toFixed(1)} ms`);
    }
    assertError(await stolen.on(c!).request('GET', '/api/hello'), 401, 'token_invalid');
    t.diagnostic(`logout on B refused after: ${latencies.join(', ')}`);
  });

  it('without revocation notices, an instance trusts a session another ended for the cache TTL (250 ms on its clock) and no longer', async (t) => {
    // A listens to nothing, and its store reads an injected monotonic clock: only its cache TTL limits how long it
    // trusts a session B has ended, and the test moves A's time instead of sleeping against it.
    let elapsed = 0;
    const base = performance.now();
    const clock = { ...SYSTEM_CLOCK, monotonic: () => base + elapsed };
    const [a, b] = await startCluster(redis.url, ['A', 'B'], { storeFor: (name) => (name === 'A' ? { invalidation: false, clock } : {}) });
    const browser = new Browser();
    assert.equal((await browser.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    // This lookup fills A's cache at time 0 of A's clock.
    assert.equal((await browser.on(a!).request('GET', '/api/hello')).status, 200);
    const stolen = browser.copy();
    assert.equal((await browser.on(b!).request('POST', '/auth/logout')).status, 204);
    // Before half the TTL a hit is answered from the cache with no background lookup: A still trusts the session.
    elapsed = 124;
    assert.equal((await stolen.on(a!).request('GET', '/api/hello')).status, 200, 'A trusts its cached answer within the TTL');
    elapsed = 250;
    assertError(await stolen.on(a!).request('GET', '/api/hello'), 401, 'token_invalid');
    t.diagnostic('without pub/sub, A accepted the ended session at 124 ms of its clock and refused it at 250 ms');
  });

  it('a refresh token raced on three instances has exactly one winner; replayed later it revokes the family everywhere', async () => {
    const [a, b, c] = await startCluster(redis.url, ['A', 'B', 'C']);
    const instances = [a!, b!, c!];
    const browser = new Browser();
    assert.equal((await browser.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    const original = browser.copy();
    // 30 tabs (or an attacker and the user) present the same refresh token at once, spread over the instances.
    const racers = Array.from({ length: 30 }, () => browser.copy());
    const results = await Promise.all(racers.map((racer, i) => racer.on(instances[i % 3]!).request('POST', '/auth/refresh')));
    const statuses = results.map((res) => res.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    assert.equal(statuses.filter((s) => s === 409).length, 29, statuses.join());
    for (const res of results) if (res.status === 409) assertError(res, 409, 'refresh_conflict');
    const winner = racers[statuses.indexOf(200)]!;
    for (const instance of instances) assert.equal((await winner.on(instance).request('GET', '/api/hello')).status, 200, instance.name);
    // Outside the grace window the old token is reuse (RFC 9700 §4.14.2): the family dies on every instance.
    await sleep(GRACE_MS + 100);
    const replay = await original.on(c!).request('POST', '/auth/refresh');
    assertError(replay, 401, 'token_invalid');
    const rotatedReuse = (instance: typeof c) => instance!.eventsOf('authn_token_reuse').filter((e) => e.event.reason === 'rotated');
    assert.equal(rotatedReuse(c).length, 1);
    for (const instance of instances) {
      await within(1000, `${instance.name} refuses the winner's access token`, async () => (await winner.on(instance).request('GET', '/api/hello')).status === 401);
    }
    assertError(await winner.on(b!).request('POST', '/auth/refresh'), 401, 'token_invalid');
    // Reuse was detected once in all: no other instance raised it again.
    // (The dead tokens presented afterwards are reuse with reason revoked, one per request.)
    assert.equal(instances.reduce((n, instance) => n + rotatedReuse(instance).length, 0), 1);
  });

  it('throttles a brute force spread over instances as one: failures on A and B add up to a 429 on C', async () => {
    // A long delay, so a slow machine cannot let the delay pass between the attempts.
    const [a, b, c] = await startCluster(redis.url, ['A', 'B', 'C'], { session: { throttle: { account_source: { baseDelayMs: 60_000 } } } });
    for (const instance of [a!, b!, a!, b!, a!, b!]) {
      assertError(await new TestClient(instance.url).login('zoë', 'wrong password'), 401, 'login_failed');
    }
    const res = await new TestClient(c!.url).login('zoë', PASSWORDS['zoë']);
    assertError(res, 429, 'too_many_requests');
    assert.ok(Number(res.headers.get('retry-after')) > 1);
    assert.equal(c!.eventsOf('excess_rate_limit_exceeded').at(-1)?.event.reason, 'account_source');
    // The sixth failure, on B, is the one that started the delay.
    assert.equal(b!.eventsOf('authn_login_lock').length, 1);
    assert.equal(a!.eventsOf('authn_login_lock').length, 0);
  });
});

describe('credential changes across instances sharing Redis and one users file', () => {
  /** Three instances, each with its own file directory over one users file, as three processes would have. */
  async function startWithUsersFile(): Promise<{ instances: Instance[]; file: string; cleanup(): void }> {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-mi-users-'));
    const file = join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ users: await testUsers() }), { mode: 0o600 });
    const directories = new Map<string, ReturnType<typeof createFileUserDirectory>>();
    const instances = await startCluster(redis.url, ['A', 'B', 'C'], {
      sessionFor: (name) => {
        const directory = createFileUserDirectory(file);
        directories.set(name, directory);
        return { users: directory };
      },
    });
    return { instances, file, cleanup: () => {
      for (const directory of directories.values()) directory.close();
      rmSync(dir, { recursive: true, force: true });
    } };
  }

  /** Warms every instance's cache with the session, then measures how long after `change` each refuses it. */
  async function refusalLatency(instances: Instance[], victim: Browser, change: () => Promise<void>, withinMs: number): Promise<string[]> {
    for (const instance of instances) assert.equal((await victim.on(instance).request('GET', '/api/hello')).status, 200, `${instance.name} before`);
    await change();
    const latencies: string[] = [];
    for (const instance of instances) {
      const ms = await within(withinMs, `${instance.name} refuses the session`, async () => (await victim.on(instance).request('GET', '/api/hello')).status === 401);
      latencies.push(`${instance.name} ${ms.toFixed(1)} ms`);
    }
    return latencies;
  }

  it('password change on A, admin revocation on C: the old sessions are refused by every instance on their next request', async (t) => {
    const { instances, cleanup } = await startWithUsersFile();
    const [a, b, c] = instances as [Instance, Instance, Instance];
    try {
      const laptop = new Browser();
      assert.equal((await laptop.on(a).login('alice', PASSWORDS.alice)).status, 200);
      const phone = new Browser();
      assert.equal((await phone.on(b).login('alice', PASSWORDS.alice)).status, 200);
      const newPassword = 'lantern orbit pebble 58';
      const password = await refusalLatency(instances, phone, async () => {
        const changed = await laptop.on(a).request('POST', '/auth/password', { json: { currentPassword: PASSWORDS.alice, newPassword } });
        assert.equal(changed.status, 200, changed.text);
      }, 1000);
      t.diagnostic(`password change on A: the other session refused after ${password.join(', ')}`);
      // The new session of the device that changed it works everywhere at once, before any instance's timed reload.
      for (const instance of instances) assert.equal((await laptop.on(instance).request('GET', '/api/hello')).status, 200, `${instance.name}: the new session`);

      const admin = new Browser();
      assert.equal((await admin.on(c).login('admin', PASSWORDS.admin)).status, 200);
      const revoked = await refusalLatency(instances, laptop, async () => {
        assert.equal((await admin.on(c).request('DELETE', '/admin/users/alice/sessions')).status, 200);
      }, 1000);
      t.diagnostic(`admin revocation on C: refused after ${revoked.join(', ')}`);
      assert.equal((await laptop.on(b).request('POST', '/auth/refresh')).status, 401);
    } finally {
      cleanup();
    }
  });

  it('disable and role change in the users file (no Redis call, as the CLI without REDIS_URL): refused everywhere within one second', async (t) => {
    const { instances, file, cleanup } = await startWithUsersFile();
    try {
      const alice = new Browser();
      assert.equal((await alice.on(instances[0]!).login('alice', PASSWORDS.alice)).status, 200);
      const admin = new Browser();
      assert.equal((await admin.on(instances[1]!).login('admin', PASSWORDS.admin)).status, 200);
      const disabled = await refusalLatency(instances, alice, async () => {
        updateUserInFile(file, 'alice', (user) => ({ ...user, disabled: true }));
      }, 1100);
      t.diagnostic(`alice disabled in the users file: refused after ${disabled.join(', ')}`);
      const demoted = await refusalLatency(instances, admin, async () => {
        updateUserInFile(file, 'admin', (user) => ({ ...user, roles: ['user'] }));
      }, 1100);
      t.diagnostic(`admin's roles changed in the users file: refused after ${demoted.join(', ')}`);
    } finally {
      cleanup();
    }
  });
});

describe('Redis stopped and started again under traffic', () => {
  let own: RedisProcess;
  before(async () => {
    own = await startRedis();
  });
  after(() => own.destroy());

  it('answers 503 store_unavailable on every session path while Redis is down (never 200 unchecked, never 500), and recovers by itself', async (t) => {
    const [a, b] = await startCluster(own.url, ['A', 'B']);
    const browser = new Browser();
    assert.equal((await browser.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    const log: Array<{ sent: number; at: number; status: number; code?: string; instance: string }> = [];
    let traffic = true;
    const load = (async () => {
      for (let i = 0; traffic; i += 1) {
        const instance = i % 2 ? a! : b!;
        const sent = performance.now();
        const res = await browser.on(instance).request('GET', '/api/hello');
        log.push({ sent, at: performance.now(), status: res.status, code: res.body?.error?.code, instance: instance.name });
        await sleep(5);
      }
    })();
    await sleep(300);
    const beforeStop = log.length;
    await own.stop({ save: true });
    const stoppedAt = performance.now();
    await sleep(1000);

    // Every session path, on both instances, while Redis is down.
    const other = new Browser();
    assertError(await other.on(a!).login('alice', PASSWORDS.alice), 503, 'store_unavailable');
    assertError(await browser.copy().on(b!).request('POST', '/auth/refresh'), 503, 'store_unavailable');
    assertError(await browser.copy().on(a!).request('POST', '/auth/logout'), 503, 'store_unavailable');
    assertError(await browser.copy().on(b!).request('POST', '/auth/logout-all'), 503, 'store_unavailable');
    assertError(await browser.on(b!).request('GET', '/auth/me'), 503, 'store_unavailable');
    // Public routes still answer.
    assert.equal((await new TestClient(a!.url).request('GET', '/healthz')).status, 200);
    const failed = a!.records().find((record) => record.msg === 'request failed' || record.message === 'request failed');
    assert.ok(failed, 'the operator sees why in the log');
    assert.match(JSON.stringify(failed), /store_unreachable|Redis session store/);

    const restartedAt = performance.now();
    await own.start();
    const recovery = await within(5000, 'both instances serve the session again', async () => {
      const [ra, rb] = await Promise.all([browser.on(a!).request('GET', '/api/hello'), browser.on(b!).request('GET', '/api/hello')]);
      return ra.status === 200 && rb.status === 200;
    });
    traffic = false;
    await load;

    const during = log.filter((entry) => entry.at > stoppedAt && entry.at < restartedAt);
    assert.ok(log.length - beforeStop > 20, 'traffic ran through the outage');
    assert.ok(during.length > 20, `${during.length} requests during the outage`);
    const statuses = new Set(log.map((entry) => entry.status));
    assert.deepEqual([...statuses].filter((s) => s !== 200 && s !== 503), [], 'only 200 and 503, never 500 or 401');
    // The cache may vouch for a session for at most its TTL (250 ms) after its last check; nothing later.
    const lateOk = during.filter((entry) => entry.sent > stoppedAt + 250 && entry.status === 200);
    assert.deepEqual(lateOk, [], 'no 200 without a store check during the outage');
    for (const entry of during.filter((e) => e.status === 503)) assert.equal(entry.code, 'store_unavailable');
    // Sessions survive a restart of a Redis that persists its data; the rest of the API too.
    assert.equal((await browser.on(a!).request('POST', '/auth/refresh')).status, 200);
    assert.equal((await new Browser().on(b!).login('admin', PASSWORDS.admin)).status, 200);
    t.diagnostic(`outage: ${during.length} requests, ${during.filter((e) => e.status === 503).length} answered 503; recovered ${recovery.toFixed(0)} ms after redis-server was back`);
  });

  it('after a Redis that lost its data comes back, old sessions are refused (401) and new logins work', async () => {
    const [a, b] = await startCluster(own.url, ['A', 'B']);
    const browser = new Browser();
    assert.equal((await browser.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    assert.equal((await browser.on(b!).request('GET', '/api/hello')).status, 200);
    await own.kill();
    assertError(await browser.on(b!).request('GET', '/api/hello'), 503, 'store_unavailable');
    await own.start();
    await within(5000, 'B answers from the new Redis', async () => (await browser.on(b!).request('GET', '/api/hello')).status !== 503);
    assertError(await browser.on(b!).request('GET', '/api/hello'), 401, 'token_invalid');
    assertError(await browser.copy().on(a!).request('POST', '/auth/refresh'), 401, 'token_invalid');
    const again = new Browser();
    assert.equal((await again.on(a!).login('alice', PASSWORDS.alice)).status, 200);
    assert.equal((await again.on(b!).request('GET', '/api/hello')).status, 200);
  });
});

describe('the reference server with REDIS_URL', () => {
  it('uses the Redis store, logs where without the password, reports it in /healthz and closes it on shutdown', async () => {
    const password = 'pw-never-logged-7f3a';
    const locked = await startRedis({ password });
    const lines: string[] = [];
    const logger = createLogger({
      name: 'koa-sentinel',
      level: 'info',
      streams: [{ stream: new Writable({ write: (chunk, _e, cb) => { lines.push(chunk.toString()); cb(); } }), level: 'info' }],
    });
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', REDIS_URL: locked.url });
    const server = await startServer(config, { logger });
    const raw = new Redis(locked.url);
    try {
      const text = lines.join('');
      assert.ok(!text.includes(password), 'the password never reaches the log');
      assert.match(text, new RegExp(`Session store: Redis at redis://\\*\\*\\*@127\\.0\\.0\\.1:${locked.port}`));
      assert.match(text, /is connected/);
      // The public answer is the status only; the details are for admins (the same report as sentinel.health()).
      assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
      const healthy = server.sentinel.health() as { status: string; sessionStore: { store: string; connected: boolean; invalidation: string } };
      assert.deepEqual([healthy.status, healthy.sessionStore.store, healthy.sessionStore.connected, healthy.sessionStore.invalidation], ['ok', 'redis', true, 'live']);
      // The development user logs in through Redis (the password in the URL was accepted).
      const login = await new TestClient(server.url).login('demo', 'demo-password');
      assert.equal(login.status, 200, login.text);
      assert.ok((await raw.keys('sentinel:fam:*')).length === 1);
      const names = async (): Promise<number> => (await raw.client('LIST') as string).split('\n').filter((line) => / name=koa-sentinel/.test(line)).length;
      assert.equal(await names(), 2, 'the store connection and its invalidation listener');
      // Redis down: /healthz still answers, degraded, and says which part.
      await locked.stop({ save: true });
      const health = async (): Promise<{ status: string; sessionStore: { connected: boolean } }> => (await fetch(`${server.url}/healthz`)).json() as never;
      await within(2000, 'degraded', async () => (await health()).status === 'degraded');
      assert.deepEqual(await health(), { status: 'degraded' }, 'the public answer says degraded and no more');
      const down = server.sentinel.health() as unknown as { sessionStore: { connected: boolean } };
      assert.equal(down.sessionStore.connected, false);
      assert.ok(!('lastError' in down.sessionStore), 'no error text (addresses) in the health details either');
      assert.match(lines.join(''), /is unreachable; session checks answer 503 store_unavailable/);
      await locked.start();
      await within(5000, 'ok again', async () => (await health()).status === 'ok');
      await within(2000, 'both connections back', async () => (await names()) === 2);
      await server.close(1000);
      await within(2000, 'connections closed', async () => (await names()) === 0);
    } finally {
      await server.close(1000);
      raw.disconnect();
      await locked.destroy();
    }
  });
});
