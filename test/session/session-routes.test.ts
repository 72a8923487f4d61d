/**
 * Sessions people can see and end, and credential changes that end them, over HTTP against the memory store and
 * a real Redis: GET/DELETE /auth/sessions, POST /auth/password, the admin routes, a new login ending the session
 * it came with (ASVS 7.2.4) and the per-user cap (ASVS 7.1.2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { SessionStore } from '../../src/session/store.js';
import { createFileUserDirectory, createMemoryUserDirectory, newSessionStamp, updateUserInFile, type UserRecord } from '../../src/session/users.js';
import { PASSWORDS, TestClient, startTestServer, testUsers, type TestServer } from '../support/http-server.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const MINUTE = 60_000;
const NEW_PASSWORD = 'lantern orbit pebble 58';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let redis: RedisProcess;
let prefixes = 0;
before(async () => {
  redis = await startRedis();
});
after(() => redis.destroy());

interface Harness {
  server: TestServer;
  clock: { now: number };
  users: UserRecord[];
  /** A logged-in client with this User-Agent. */
  login(name: keyof typeof PASSWORDS, userAgent?: string): Promise<TestClient>;
  /** A client holding a copy of another's cookies (an attacker's or a second tab's copy). */
  copy(client: TestClient): TestClient;
  /** Waits for the background "last used" write to reach the store. */
  settle(): Promise<void>;
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`sessions and credentials over HTTP (${kind} store)`, () => {
    let h: Harness;
    let store: RedisStore | undefined;

    async function start(session: Record<string, unknown> = {}): Promise<Harness> {
      const clock = { now: 1_700_000_000_000 };
      if (kind === 'redis') {
        prefixes += 1;
        store = createRedisStore({ url: redis.url, keyPrefix: `sr${prefixes}:` });
        await store.ready();
      }
      const users = (await testUsers()).map((user) => ({ ...user }));
      const server = await startTestServer({
        session: { now: () => clock.now, users: createMemoryUserDirectory(users), ...(store ? { store: store as SessionStore } : {}), ...session },
      });
      const harness: Harness = {
        server,
        clock,
        users,
        async login(name, userAgent = FIREFOX) {
          const client = harness.server.client();
          const response = await client.request('POST', '/auth/login', { json: { username: name, password: PASSWORDS[name] }, headers: { 'user-agent': userAgent } });
          assert.equal(response.status, 200, `login ${name}`);
          return client;
        },
        copy(client) {
          const copy = harness.server.client();
          for (const [name, cookie] of client.jar) copy.jar.set(name, { ...cookie });
          copy.csrfToken = client.csrfToken;
          return copy;
        },
        settle: () => sleep(kind === 'redis' ? 50 : 5),
      };
      return harness;
    }

    afterEach(async () => {
      await h?.server.close();
      await store?.close();
      store = undefined;
    });

    async function assertRefused(client: TestClient, label: string): Promise<void> {
      const me = await client.request('GET', '/auth/me');
      assert.equal(me.status, 401, `${label}: access token refused`);
      const refreshed = await client.request('POST', '/auth/refresh');
      assert.equal(refreshed.status, 401, `${label}: refresh token refused`);
    }

    it('lists the live sessions with device, address, times and the current one, never the raw id', async () => {
      h = await start();
      const laptop = await h.login('alice', FIREFOX);
      const phone = await h.login('alice', SAFARI);
      await h.login('admin');
      await h.settle();
      const listed = await laptop.request('GET', '/auth/sessions');
      assert.equal(listed.status, 200);
      assert.equal(listed.headers.get('cache-control'), 'no-store');
      const sessions = listed.body.sessions as Array<Record<string, unknown>>;
      assert.equal(sessions.length, 2, 'only alice\'s sessions');
      const me = (await laptop.request('GET', '/auth/me')).body.session.id;
      const current = sessions.find((session) => session.current === true)!;
      assert.equal(current.id, me, 'the keyed session reference, as /auth/me shows it');
      assert.equal(current.device, 'Firefox 128.0 on Ubuntu'.replace(' 128.0', ' 128'));
      assert.equal(current.sourceIp, '127.0.0.1');
      assert.equal(current.createdAt, new Date(h.clock.now).toISOString());
      const other = sessions.find((session) => session.current === false)!;
      assert.equal(other.device, 'Mobile Safari 17 on iOS 17.5');
      assert.equal((await phone.request('GET', '/auth/sessions')).body.sessions.find((s: { current: boolean }) => s.current).id, other.id);
      // No family id anywhere: references are 22 base64url characters, ids are UUIDs.
      assert.doesNotMatch(listed.text, /[0-9a-f]{8}-[0-9a-f]{4}-/);
      assert.equal((await h.server.client().request('GET', '/auth/sessions')).status, 401);
    });

    it('keeps "last used" coarse: at most one store write per session per minute', async () => {
      h = await start();
      const laptop = await h.login('alice');
      const created = h.clock.now;
      h.clock.now += 30_000;
      assert.equal((await laptop.request('GET', '/api/hello')).status, 200);
      await h.settle();
      const lastUsed = async (): Promise<string> => (await laptop.request('GET', '/auth/sessions')).body.sessions[0].lastUsedAt;
      assert.equal(await lastUsed(), new Date(created).toISOString(), 'not written within the minute');
      h.clock.now += 31_000;
      assert.equal((await laptop.request('GET', '/api/hello', { headers: { 'user-agent': SAFARI } })).status, 200);
      await h.settle();
      const sessions = (await laptop.request('GET', '/auth/sessions')).body.sessions;
      assert.equal(sessions[0].lastUsedAt, new Date(created + 61_000).toISOString());
      assert.equal(sessions[0].device, 'Mobile Safari 17 on iOS 17.5');
    });

    it('ends one session with DELETE /auth/sessions/:id: a password after 5 minutes, none just after login', async () => {
      h = await start();
      const laptop = await h.login('alice');
      const phone = await h.login('alice', SAFARI);
      const phoneRef = (await phone.request('GET', '/auth/me')).body.session.id;
      const stolen = h.copy(phone);

      assert.deepEqual((await laptop.request('DELETE', '/auth/sessions/nope', { json: {} })).body, { endedSessions: 0, current: false }, 'idempotent');
      h.clock.now += 6 * MINUTE;
      const asked = await laptop.request('DELETE', `/auth/sessions/${phoneRef}`, { json: {} });
      assert.equal(asked.status, 403);
      assert.equal(asked.body.error.code, 'reauthentication_required');
      const wrong = await laptop.request('DELETE', `/auth/sessions/${phoneRef}`, { json: { password: 'not it at all' } });
      assert.equal(wrong.status, 403);
      assert.equal((await phone.request('GET', '/api/hello')).status, 200, 'nothing ended yet');

      const ended = await laptop.request('DELETE', `/auth/sessions/${phoneRef}`, { json: { password: PASSWORDS.alice } });
      assert.equal(ended.status, 200);
      assert.deepEqual(ended.body, { endedSessions: 1, current: false });
      await assertRefused(stolen, 'the ended session');
      assert.equal((await laptop.request('GET', '/api/hello')).status, 200, 'the requester keeps theirs');
      assert.equal((await laptop.request('GET', '/auth/sessions')).body.sessions.length, 1);

      // Within 5 minutes of its login a session may end others without the password.
      const tablet = await h.login('alice');
      const tabletRef = (await tablet.request('GET', '/auth/me')).body.session.id;
      const fresh = await h.login('alice');
      assert.equal((await fresh.request('DELETE', `/auth/sessions/${tabletRef}`)).status, 200);
      await assertRefused(tablet, 'ended by a fresh login');
      assert.ok(h.server.eventsOf('authn_token_revoked').some((event) => event.event.reason === 'user_ended'));
    });

    it('ends every other session with DELETE /auth/sessions; wrong passwords end the asking session', async () => {
      h = await start({ maxReauthFailures: 3 });
      const laptop = await h.login('alice');
      const phone = await h.login('alice');
      const tablet = await h.login('alice');
      const bobless = await h.login('admin');
      const ended = await tablet.request('DELETE', '/auth/sessions', { json: { password: PASSWORDS.alice } });
      assert.equal(ended.status, 200);
      assert.equal(ended.body.endedSessions, 2);
      await assertRefused(h.copy(laptop), 'laptop');
      await assertRefused(h.copy(phone), 'phone');
      assert.equal((await tablet.request('GET', '/api/hello')).status, 200);
      assert.equal((await bobless.request('GET', '/api/hello')).status, 200, 'other users untouched');

      // A stolen session cannot be used to guess the password: three wrong ones end it.
      for (let i = 0; i < 3; i += 1) assert.equal((await tablet.request('DELETE', '/auth/sessions', { json: { password: `guess ${i}` } })).status, 403);
      await assertRefused(tablet, 'after 3 wrong passwords');
      assert.ok(h.server.eventsOf('authn_token_revoked').some((event) => event.event.reason === 'reauth_failures'));
    });

    it('changes the password with POST /auth/password: policy, current password, other sessions ended', async () => {
      h = await start();
      const laptop = await h.login('alice');
      const phone = await h.login('alice');
      const stolenPhone = h.copy(phone);
      const oldLaptop = h.copy(laptop);
      const change = (json: unknown) => laptop.request('POST', '/auth/password', { json });

      for (const [newPassword, reason] of [['password', 'guessable'], ['short1!', 'too_short'], ['alice2024!', 'guessable'], ['x'.repeat(129), 'too_long']] as const) {
        const refused = await change({ currentPassword: PASSWORDS.alice, newPassword });
        assert.equal(refused.status, 400, newPassword);
        assert.equal(refused.body.error.code, 'password_rejected');
        assert.ok(h.server.eventsOf('authn_password_change_fail').some((event) => event.event.reason === reason), reason);
      }
      assert.equal((await change({ currentPassword: PASSWORDS.alice, newPassword: PASSWORDS.alice })).status, 400, 'the same password');
      assert.equal((await change({ currentPassword: 'wrong password 1', newPassword: NEW_PASSWORD })).body.error.code, 'reauthentication_required');
      assert.equal((await change({ newPassword: 42 })).body.error.code, 'invalid_request');

      const changed = await change({ currentPassword: PASSWORDS.alice, newPassword: NEW_PASSWORD });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.endedSessions, 1);
      assert.equal(typeof changed.body.csrfToken, 'string');
      await assertRefused(stolenPhone, 'the other session');
      await assertRefused(oldLaptop, 'this device\'s old tokens');
      assert.equal((await laptop.request('GET', '/api/hello')).status, 200, 'this device has a new session');
      assert.equal((await laptop.request('GET', '/auth/sessions')).body.sessions.length, 1);
      assert.equal((await h.server.client().login('alice', PASSWORDS.alice)).status, 401, 'the old password is gone');
      assert.equal((await h.server.client().login('alice', NEW_PASSWORD)).status, 200);
      assert.equal(h.server.eventsOf('authn_password_change').at(-1)?.event.reason, 'ended_sessions');
      assert.ok(!h.server.rawLog().includes(NEW_PASSWORD), 'the password is never logged');
    });

    it('keeps the other sessions when asked (keepOtherSessions: true)', async () => {
      h = await start();
      const laptop = await h.login('alice');
      const phone = await h.login('alice');
      const kept = await laptop.request('POST', '/auth/password', { json: { currentPassword: PASSWORDS.alice, newPassword: NEW_PASSWORD, keepOtherSessions: true } });
      assert.equal(kept.status, 200);
      assert.deepEqual(kept.body, { endedSessions: 0 });
      assert.equal((await phone.request('GET', '/api/hello')).status, 200);
      assert.equal((await phone.request('POST', '/auth/refresh')).status, 200, 'and it still refreshes');
      assert.equal((await laptop.request('GET', '/api/hello')).status, 200);
    });

    it('refuses a session on its next request once the users file disables the user, changes roles or the stamp', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sentinel-users-'));
      const file = join(dir, 'users.json');
      writeFileSync(file, JSON.stringify({ users: await testUsers() }), { mode: 0o600 });
      // The directory reads the test's clock, once the server exists.
      let clock = { now: 1_700_000_000_000 };
      const directory = createFileUserDirectory(file, { now: () => clock.now });
      try {
        h = await start({ users: directory });
        clock = h.clock;
        const alice = await h.login('alice');
        const admin = await h.login('admin');
        const zoe = await h.login('zoë');
        assert.equal((await alice.request('GET', '/api/hello')).status, 200);
        updateUserInFile(file, 'alice', (user) => ({ ...user, disabled: true }));
        updateUserInFile(file, 'admin', (user) => ({ ...user, roles: ['user'] }));
        updateUserInFile(file, 'zoë', (user) => ({ ...user, sessionStamp: newSessionStamp() }));
        // Past the directory's recheck interval (the file-system notice usually comes sooner).
        h.clock.now += 1001;
        for (const [client, reason] of [[alice, 'user_disabled'], [admin, 'credentials_changed'], [zoe, 'credentials_changed']] as const) {
          const mark = h.server.events.length;
          assert.equal((await client.request('GET', '/api/hello')).status, 401, reason);
          assert.equal(h.server.events.slice(mark).find((event) => event.event.action === 'authn_token_invalid')?.event.reason, reason);
          assert.equal((await client.request('POST', '/auth/refresh')).status, 401, `${reason}: refresh`);
        }
        const again = await h.login('admin');
        assert.deepEqual((await again.request('GET', '/auth/me')).body.user.roles, ['user'], 'a new login has the new roles');
      } finally {
        directory.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('ends the session a login request came with (ASVS 7.2.4)', async () => {
      h = await start();
      const client = await h.login('alice');
      const before = h.copy(client);
      const again = await client.request('POST', '/auth/login', { json: { username: 'alice', password: PASSWORDS.alice } });
      assert.equal(again.status, 200);
      await assertRefused(before, 'the session before the new login');
      assert.equal((await client.request('GET', '/api/hello')).status, 200);
      assert.equal((await client.request('GET', '/auth/sessions')).body.sessions.length, 1);
      assert.ok(h.server.eventsOf('authn_token_revoked').some((event) => event.event.reason === 'relogin'));
    });

    it('caps the sessions of one user (maxSessionsPerUser): the oldest ends', async () => {
      h = await start({ maxSessionsPerUser: 2 });
      const first = await h.login('alice');
      h.clock.now += 1000;
      const second = await h.login('alice');
      h.clock.now += 1000;
      const third = await h.login('alice');
      await assertRefused(first, 'the oldest');
      assert.equal((await second.request('GET', '/api/hello')).status, 200);
      assert.equal((await third.request('GET', '/api/hello')).status, 200);
      assert.equal(h.server.eventsOf('authn_token_revoked').filter((event) => event.event.reason === 'session_cap').length, 1);
    });

    it('lets admins end one user\'s sessions, or everyone\'s, logged as authz_admin', async () => {
      h = await start();
      const alice = await h.login('alice');
      const zoe = await h.login('zoë');
      const admin = await h.login('admin');
      const forbidden = await alice.request('DELETE', '/admin/users/zo%C3%AB/sessions');
      assert.equal(forbidden.status, 403);
      assert.deepEqual((await admin.request('DELETE', '/admin/users/nobody/sessions')).body, { endedSessions: 0 }, 'no user enumeration');

      const ended = await admin.request('DELETE', '/admin/users/alice/sessions');
      assert.equal(ended.status, 200);
      assert.equal(ended.body.endedSessions, 1);
      await assertRefused(alice, 'alice after the admin ended her sessions');
      assert.equal((await zoe.request('GET', '/api/hello')).status, 200);
      assert.equal(h.server.eventsOf('authz_admin').at(-1)?.event.reason, 'revoke_user_sessions');

      const all = await admin.request('POST', '/admin/sessions/revoke-all');
      assert.equal(all.status, 200);
      assert.equal(typeof all.body.revokedBefore, 'string');
      assert.equal(h.server.eventsOf('authz_admin').at(-1)?.event.reason, 'revoke_all_sessions');
      await assertRefused(zoe, 'zoë after the global cut-off');
      await assertRefused(admin, 'the admin too');
      h.clock.now += 1;
      const later = await h.login('alice');
      assert.equal((await later.request('GET', '/api/hello')).status, 200, 'logins after the cut-off work');
    });
  });
}
