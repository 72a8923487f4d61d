import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { deriveSecret } from '../../src/session/csrf-tokens.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { SessionStore } from '../../src/session/store.js';
import { PASSWORDS, parseSetCookie, startTestServer, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

/**
 * The lockout attack of issue 10 over HTTP, on a fake clock, with the default policies: 100 rotating addresses
 * keep alice's account at its longest delay while alice logs in from a device she used before, every 10 s.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const DEVICE = '__Host-sentinel_device';
const ATTACK_MS = 5 * MINUTE;

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(() => redis.destroy());

let prefixes = 0;
const STORES: Array<[string, () => SessionStore | undefined]> = [
  ['memory store', () => undefined],
  ['Redis store', () => createRedisStore({ url: redis.url, keyPrefix: `device${(prefixes += 1)}:` })],
];

for (const [storeName, makeStore] of STORES) {
  describe(`device cookies against a lockout attack (${storeName})`, () => {
    let server: TestServer;
    let clock: number;
    afterEach(() => server.close());

    async function start(): Promise<void> {
      clock = Date.UTC(2031, 0, 1);
      const store = makeStore();
      if (store && 'ready' in store) await (store as RedisStore).ready();
      server = await startTestServer({ trustProxy: true, session: { store, now: () => clock } });
    }
    const login = (client: TestClient, ip: string, username: string, password: string): Promise<TestResponse> =>
      client.request('POST', '/auth/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });
    /** A browser that has logged in as alice once, before the attack: it holds her device cookie. */
    async function knownDevice(): Promise<TestClient> {
      const client = server.client();
      const first = await login(client, '192.0.2.10', 'alice', PASSWORDS.alice);
      assert.equal(first.status, 200, first.text);
      return client;
    }

    it('sets the device cookie: __Host-, HttpOnly, Secure, SameSite=Strict, Path=/, its own expiry', async () => {
      await start();
      const res = await login(server.client(), '192.0.2.10', 'alice', PASSWORDS.alice);
      const line = res.setCookies.find((cookie) => cookie.startsWith(`${DEVICE}=`));
      assert.ok(line, res.setCookies.join('\n'));
      const { value, attributes } = parseSetCookie(line);
      assert.match(value, /^[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(attributes, { path: '/', 'max-age': String(90 * 24 * 60 * 60), secure: true, httponly: true, samesite: 'Strict' });
      const failed = await login(server.client(), '192.0.2.10', 'alice', 'wrong');
      assert.ok(!failed.setCookies.some((cookie) => cookie.startsWith(DEVICE)), 'no device cookie for a failure');
    });

    it('100 rotating addresses for 5 minutes: alice logs in from her known device every 10 s, each time at once', async () => {
      await start();
      const device = await knownDevice();
      const attacker = server.client();
      const began = clock;
      let guesses = 0;
      let refusedGuesses = 0;
      const userLogins: Array<{ status: number; retryAfter: string | null }> = [];
      for (let tick = 0; clock - began < ATTACK_MS; tick += 1) {
        // Every second: two guesses, each from the next of the 100 addresses, whatever the answer.
        for (let k = 0; k < 2; k += 1) {
          const res = await login(attacker, `198.51.100.${(tick * 2 + k) % 100}`, 'alice', `guess ${tick}-${k}`);
          if (res.status === 401) guesses += 1;
          else if (res.status === 429) refusedGuesses += 1;
          else assert.fail(`guess answered ${res.status}`);
        }
        if (tick % 10 === 0) {
          const res = await login(device, '192.0.2.10', 'alice', PASSWORDS.alice);
          userLogins.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
        }
        clock += SECOND;
      }
      const succeeded = userLogins.filter((l) => l.status === 200).length;
      console.log(`# ${storeName}: user logins ${succeeded}/${userLogins.length} succeeded at once (no Retry-After), attacker guesses judged ${guesses}, refused ${refusedGuesses}`);
      assert.equal(userLogins.length, 30);
      assert.deepEqual(userLogins.filter((l) => l.status !== 200), [], 'every login from the known device succeeded at once');
      assert.ok(refusedGuesses > 500, `the attack was throttled (${refusedGuesses} refused)`);
      assert.ok(server.eventsOf('authn_login_fail_max').some((e) => e.event.reason === 'account'), 'the account reached its longest delay');
      const [first, ...during] = server.eventsOf('authn_login_success');
      assert.equal(first?.sentinel?.known_device, false, 'the login before the attack was from a new device');
      assert.ok(during.length === 30 && during.every((e) => e.sentinel?.known_device === true));
    });

    it('a brand-new device during the attack is throttled as before: 429 with Retry-After up to 60 s', async () => {
      await start();
      const attacker = server.client();
      // A patient attacker: a new address for each guess, and it waits out every delay it is given.
      for (let i = 0, failures = 0; failures < 17; i += 1) {
        const res = await login(attacker, `198.51.100.${i}`, 'alice', `guess ${i}`);
        if (res.status === 401) failures += 1;
        else clock += Number(res.headers.get('retry-after')) * SECOND;
      }
      const [max] = server.eventsOf('authn_login_fail_max');
      assert.equal(max?.event.reason, 'account');
      assert.deepEqual(max?.sentinel?.throttle, { scope: 'account', failures: 17, retry_after_ms: MINUTE });
      assert.equal(max?.event.category?.[0], 'authentication');

      const fresh = await login(server.client(), '192.0.2.77', 'alice', PASSWORDS.alice);
      assert.equal(fresh.status, 429);
      assert.equal(fresh.headers.get('retry-after'), '60');
      clock += MINUTE;
      assert.equal((await login(server.client(), '192.0.2.77', 'alice', PASSWORDS.alice)).status, 200, 'after the wait, if the attacker has not guessed first');
    });

    it('ignores a forged device cookie, one for another user, and an expired one: throttled as a new device', async () => {
      await start();
      const aliceDevice = (await knownDevice()).cookie(DEVICE)!;
      const zoe = server.client();
      assert.equal((await login(zoe, '192.0.2.11', 'zoë', PASSWORDS['zoë'])).status, 200);
      const zoeDevice = zoe.cookie(DEVICE)!;
      for (let i = 0; i < 12; i += 1) await login(server.client(), `198.51.100.${i}`, 'alice', `guess ${i}`);

      const [id, exp] = aliceDevice.split('.');
      const secret = deriveSecret(server.keyRing.active.signKey, 'device');
      const sign = (userId: string, deviceId: string, expSec: string): string =>
        createHmac('sha256', secret).update(`device\u0000${userId}\u0000${deviceId}\u0000${expSec}`).digest('base64url');
      const cases: Record<string, string> = {
        'forged MAC': `${id}.${exp}.${'A'.repeat(43)}`,
        'stretched expiry': `${id}.${Number(exp) + 86_400}.${aliceDevice.split('.')[2]}`,
        "zoë's device": zoeDevice,
        'expired': `${id}.${Math.floor(clock / 1000)}.${sign('u_alice', id!, String(Math.floor(clock / 1000)))}`,
        'sent twice': `${aliceDevice}; ${DEVICE}=${aliceDevice}`,
      };
      for (const [name, cookie] of Object.entries(cases)) {
        const res = await server.client().request('POST', '/auth/login', { json: { username: 'alice', password: PASSWORDS.alice }, headers: { 'x-forwarded-for': '192.0.2.10', cookie: `${DEVICE}=${cookie}` } });
        assert.equal(res.status, 429, name);
      }
      // The well-formed control: a valid cookie signed the same way is recognised.
      const valid = `${id}.${exp}.${sign('u_alice', id!, exp!)}`;
      const ok = await server.client().request('POST', '/auth/login', { json: { username: 'alice', password: PASSWORDS.alice }, headers: { 'x-forwarded-for': '192.0.2.10', cookie: `${DEVICE}=${valid}` } });
      assert.equal(ok.status, 200, ok.text);
    });

    it('locks a device cookie that keeps failing, and only that device', async () => {
      await start();
      const device = await knownDevice();
      const other = await knownDevice();
      const answers: number[] = [];
      for (let i = 0; i < 7; i += 1) answers.push((await login(device, '192.0.2.10', 'alice', `typo ${i}`)).status);
      assert.deepEqual(answers, [401, 401, 401, 401, 401, 401, 429]);
      const [lock] = server.eventsOf('authn_login_lock');
      assert.equal(lock?.event.reason, 'device');
      assert.equal((await login(device, '192.0.2.10', 'alice', PASSWORDS.alice)).status, 429, 'locked, even with the right password');
      assert.equal((await login(other, '192.0.2.10', 'alice', PASSWORDS.alice)).status, 200, 'her other device is not');
    });
  });
}
