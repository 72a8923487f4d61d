import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ThrottlePolicy, ThrottleScope } from '../../src/session/login-throttle.js';
import { PASSWORDS, startTestServer, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const TOO_MANY = '{"error":{"code":"too_many_requests","message":"Too many attempts; try again later."}}';
const LOGIN_FAILED = '{"error":{"code":"login_failed","message":"Invalid username or password."}}';

/** account+source: 3 free failures, then 1 s, 2 s, 4 s ...; the other scopes far away unless a test says otherwise. */
const POLICIES: Record<ThrottleScope, ThrottlePolicy> = {
  device: { freeAttempts: 3, baseDelayMs: SECOND, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
  account_source: { freeAttempts: 3, baseDelayMs: SECOND, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
  account: { freeAttempts: 50, baseDelayMs: SECOND, maxDelayMs: MINUTE, windowMs: 15 * MINUTE },
  source: { freeAttempts: 50, baseDelayMs: SECOND, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
};

describe('brute force over HTTP', () => {
  let server: TestServer;
  let clock: number;
  afterEach(() => server.close());

  /** A server behind a trusted proxy, with an injected clock: waits are clock moves, never sleeps. */
  async function start(throttle: Partial<Record<ThrottleScope, Partial<ThrottlePolicy>>> = POLICIES): Promise<void> {
    clock = Date.now();
    server = await startTestServer({ trustProxy: true, session: { throttle, now: () => clock } });
  }

  const from = (client: TestClient, ip: string, username: string, password: string): Promise<TestResponse> =>
    client.request('POST', '/auth/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });

  function assertTooMany(res: TestResponse, retryAfterSeconds: number): void {
    assert.equal(res.status, 429, res.text);
    assert.equal(res.text, TOO_MANY);
    const retryAfter = res.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, 'Retry-After is delta-seconds (RFC 9110 §10.2.3)');
    assert.equal(Number(retryAfter), retryAfterSeconds);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }

  it('delays repeated wrong passwords for one account from one address, with Retry-After and events', async () => {
    await start();
    const client = server.client();
    const ip = '203.0.113.7';
    for (let i = 1; i <= POLICIES.account_source.freeAttempts + 1; i += 1) {
      const res = await from(client, ip, 'alice', `wrong guess ${i}`);
      assert.equal(res.status, 401, `attempt ${i}`);
      assert.equal(res.text, LOGIN_FAILED);
    }
    const [lock, ...moreLocks] = server.eventsOf('authn_login_lock');
    assert.ok(lock, 'the failure that starts the delay is logged as a lock');
    assert.equal(moreLocks.length, 0);
    assert.equal(lock.event.reason, 'account_source');
    assert.equal(lock.source?.ip, ip);
    assert.equal(lock.user?.name, 'alice');
    assert.deepEqual(lock.sentinel?.throttle, { scope: 'account_source', failures: 4, retry_after_ms: 1_000 });
    assert.equal(server.eventsOf('authn_login_fail').length, 4);

    assertTooMany(await from(client, ip, 'alice', 'wrong guess 5'), 1);
    const [limited] = server.eventsOf('excess_rate_limit_exceeded');
    assert.ok(limited);
    assert.equal(limited.event.reason, 'account_source');
    assert.equal(limited.source?.ip, ip);
    assert.equal(limited.user?.name, 'alice');
    assert.equal(limited.http?.response?.status_code, 429);
    assert.equal(server.eventsOf('authn_login_fail').length, 4, 'a refused attempt is not checked, so not a failure');
    assert.ok(!server.rawLog().includes('wrong guess'), 'no password in the log');
  });

  it('refuses even the right password while throttled (no oracle), and lets it in once the delay has passed', async () => {
    await start();
    const client = server.client();
    const ip = '203.0.113.8';
    for (let i = 0; i < 4; i += 1) await from(client, ip, 'alice', 'nope');

    const wrong = await from(client, ip, 'alice', 'still wrong');
    const right = await from(client, ip, 'alice', PASSWORDS.alice);
    assertTooMany(wrong, 1);
    assertTooMany(right, 1);
    assert.equal(right.setCookies.length, 0, 'no session while throttled');
    assert.equal(server.eventsOf('authn_login_success').length, 0);

    // Hammering while throttled does not extend the delay: refused attempts are not counted.
    for (let i = 0; i < 10; i += 1) assertTooMany(await from(client, ip, 'alice', PASSWORDS.alice), 1);

    clock += 999;
    assertTooMany(await from(client, ip, 'alice', PASSWORDS.alice), 1);
    clock += 1;
    const ok = await from(client, ip, 'alice', PASSWORDS.alice);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.user.name, 'alice');

    const [after] = server.eventsOf('authn_login_successafterfail');
    assert.ok(after, 'a success after failures is its own event');
    assert.equal(after.source?.ip, ip);
    assert.equal(after.user?.name, 'alice');
    assert.equal(after.sentinel?.prior_failures, 4);
    assert.equal(server.eventsOf('authn_login_success').length, 0);

    // The success cleared the counter: the next failures are free again.
    for (let i = 0; i < 3; i += 1) assert.equal((await from(client, ip, 'alice', 'nope')).status, 401);
  });

  it('rounds Retry-After up to whole seconds as the delay doubles (never tells a client to come back early)', async () => {
    await start();
    const client = server.client();
    const ip = '203.0.113.9';
    for (let i = 0; i < 4; i += 1) await from(client, ip, 'alice', 'nope');
    clock += 1_000;
    assert.equal((await from(client, ip, 'alice', 'nope')).status, 401);
    assertTooMany(await from(client, ip, 'alice', 'nope'), 2);
    clock += 500;
    assertTooMany(await from(client, ip, 'alice', 'nope'), 2);
    clock += 1_499;
    assertTooMany(await from(client, ip, 'alice', 'nope'), 1);
    clock += 1;
    assert.equal((await from(client, ip, 'alice', 'nope')).status, 401);
    assertTooMany(await from(client, ip, 'alice', 'nope'), 4);
  });

  it('does not let the account+source lock spill over to the same account from another address', async () => {
    await start();
    const attacker = server.client();
    for (let i = 0; i < 4; i += 1) await from(attacker, '198.51.100.66', 'alice', 'guess');
    assertTooMany(await from(attacker, '198.51.100.66', 'alice', 'guess'), 1);

    const victim = server.client();
    const wrong = await from(victim, '192.0.2.10', 'alice', 'typo');
    assert.equal(wrong.status, 401, 'another address still gets a normal answer');
    const ok = await from(victim, '192.0.2.10', 'alice', PASSWORDS.alice);
    assert.equal(ok.status, 200, ok.text);
    const [success] = server.eventsOf('authn_login_successafterfail');
    assert.ok(success);
    assert.equal(success.source?.ip, '192.0.2.10');
    assert.equal(success.sentinel?.prior_failures, 1, 'only this address\'s own failure counts');
    // The attacker is still throttled.
    assertTooMany(await from(attacker, '198.51.100.66', 'alice', PASSWORDS.alice), 1);
  });

  it('stops password spraying: many usernames from one address hit the per-source limit', async () => {
    await start({ ...POLICIES, source: { freeAttempts: 6, baseDelayMs: 5 * SECOND, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE } });
    const client = server.client();
    const ip = '198.51.100.23';
    const names = ['alice', 'admin', 'bob', 'root', 'test', 'oracle', 'guest'];
    for (const name of names) {
      const res = await from(client, ip, name, 'Summer2024!');
      assert.equal(res.status, 401, name);
    }
    const [lock] = server.eventsOf('authn_login_lock');
    assert.ok(lock);
    assert.equal(lock.event.reason, 'source');
    assert.equal(lock.source?.ip, ip);

    assertTooMany(await from(client, ip, 'zoë', 'Summer2024!'), 5);
    assertTooMany(await from(client, ip, 'alice', PASSWORDS.alice), 5);
    const limited = server.eventsOf('excess_rate_limit_exceeded');
    assert.equal(limited.length, 2);
    assert.ok(limited.every((event) => event.event.reason === 'source' && event.source?.ip === ip));

    // Malformed names are counted against the source too, and refused the same way.
    const malformed = await client.request('POST', '/auth/login', { json: { username: 42, password: 'x' }, headers: { 'x-forwarded-for': ip } });
    assertTooMany(malformed, 5);

    // Others are not affected.
    const other = await from(server.client(), '192.0.2.44', 'alice', PASSWORDS.alice);
    assert.equal(other.status, 200);
  });

  it('slows a distributed guess at one account but never makes the real user wait more than 60 s', async () => {
    // The default account policy (10 free, 60 s cap).
    await start({ account_source: POLICIES.account_source, source: POLICIES.source });
    const attacker = server.client();
    // A patient attacker: a fresh address for every guess, and waits out every delay it is given.
    let failures = 0;
    for (let i = 1; failures < 25; i += 1) {
      const res = await from(attacker, `198.51.${100 + (i >> 8)}.${i & 255}`, 'alice', `guess ${i}`);
      if (res.status === 401) failures += 1;
      else if (res.status === 429) clock += Number(res.headers.get('retry-after')) * SECOND;
      else assert.fail(`unexpected ${res.status}`);
    }
    const lock = server.eventsOf('authn_login_lock').find((event) => event.event.reason === 'account');
    assert.ok(lock, 'the account scope locked');

    const victim = server.client();
    const refused = await from(victim, '192.0.2.10', 'alice', PASSWORDS.alice);
    assert.equal(refused.status, 429);
    // 25 failures would mean 2^14 s without the cap; the victim, right after the latest guess, waits 60 s at most.
    assert.equal(refused.headers.get('retry-after'), '60');
    clock += 59 * SECOND;
    assert.equal((await from(victim, '192.0.2.10', 'alice', PASSWORDS.alice)).status, 429);

    clock += 1 * SECOND;
    const ok = await from(victim, '192.0.2.10', 'alice', PASSWORDS.alice);
    assert.equal(ok.status, 200, ok.text);
  });

  it('takes the source address from X-Forwarded-For only because the proxy is trusted', async () => {
    await start();
    await from(server.client(), '203.0.113.99', 'nobody', 'x');
    const [fail] = server.eventsOf('authn_login_fail');
    assert.equal(fail?.source?.ip, '203.0.113.99');
    assert.equal(fail?.event.reason, 'unknown_user');
  });

  it('ignores X-Forwarded-For without a trusted proxy, so a spoofed header cannot dodge the per-source lock', async () => {
    clock = Date.now();
    server = await startTestServer({ session: { throttle: POLICIES, now: () => clock } });
    const client = server.client();
    for (let i = 0; i < 4; i += 1) assert.equal((await from(client, `198.51.100.${i + 1}`, 'alice', 'guess')).status, 401);
    assertTooMany(await from(client, '198.51.100.200', 'alice', 'guess'), 1);
    const [lock] = server.eventsOf('authn_login_lock');
    assert.match(lock?.source?.ip ?? '', /127\.0\.0\.1$/);
  });
});
