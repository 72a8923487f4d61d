import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import type { SessionStore } from '../../src/session/store.js';
import { PASSWORDS, startTestServer, type TestClient, type TestServer } from '../support/http-server.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { AT, CSRF, RT } from '../support/secrets.js';

/**
 * Dead refresh and access tokens over HTTP, with the memory store and with Redis: a rotated token replayed long
 * after (past the idle timeout) is reuse, not expiry; an expired session's token used again is
 * session_use_after_expire; a revoked session's token is authn_token_reuse; a refresh retires the CSRF token.
 */

const MINUTE = 60_000;
const IDLE = 10 * MINUTE;
const ABSOLUTE = 60 * MINUTE;

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(() => redis.destroy());

const stores: Array<[string, () => Promise<SessionStore | undefined>]> = [
  ['memory store', async () => undefined],
  ['Redis store', async () => {
    const store = createRedisStore({ url: redis.url, keyPrefix: `reuse-${Date.now()}:` });
    await store.ready();
    return store;
  }],
];

for (const [label, storeFor] of stores) {
  describe(`dead tokens (${label})`, () => {
    let server: TestServer;
    let clock = 1_700_000_000_000;

    before(async () => {
      server = await startTestServer({ session: { store: await storeFor(), now: () => clock, accessTtlMs: MINUTE, refreshTtlMs: IDLE, absoluteTtlMs: ABSOLUTE } });
    });
    after(() => server.close());

    const actions = (mark: number): string[] => server.events.slice(mark).map((e) => `${e.event.action}:${e.event.reason ?? ''}`);
    const one = (mark: number, action: string): SecurityEvent => {
      const found = server.events.slice(mark).filter((e) => e.event.action === action);
      assert.equal(found.length, 1, `${action} in ${actions(mark).join(', ')}`);
      return found[0]!;
    };
    async function loggedIn(): Promise<TestClient> {
      const c = server.client();
      assert.equal((await c.login('alice', PASSWORDS.alice)).status, 200);
      return c;
    }
    /** A second browser holding copies of `c`'s cookies (a thief's, or the same browser before a 401 cleared them). */
    function copyOf(c: TestClient): TestClient {
      const copy = server.client();
      for (const [name, cookie] of c.jar) copy.jar.set(name, { ...cookie });
      copy.csrfToken = c.csrfToken;
      return copy;
    }

    it('logs a rotated refresh token replayed after the idle timeout as reuse, and revokes the family', async () => {
      const owner = await loggedIn();
      const stolen = copyOf(owner);
      // The owner keeps the session alive; the stolen token expired long ago (its exp was login + IDLE).
      for (let i = 0; i < 3; i += 1) {
        clock += IDLE - MINUTE;
        assert.equal((await owner.request('POST', '/auth/refresh')).status, 200);
      }
      const mark = server.events.length;
      const replay = await stolen.request('POST', '/auth/refresh');
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error.code, 'token_invalid');
      assert.deepEqual(actions(mark), ['authn_token_reuse:rotated', 'authn_token_revoked:reuse']);
      const reuse = one(mark, 'authn_token_reuse');
      assert.equal(reuse.log.level, 'error');
      assert.equal(reuse.user?.name, 'alice');
      assert.equal(reuse.sentinel?.token_expired, true);
      // The whole family is gone: the owner's current tokens too.
      const next = server.events.length;
      assert.equal((await owner.request('GET', '/api/hello')).status, 401);
      assert.deepEqual(actions(next), ['authn_token_reuse:revoked']);
      assert.equal(one(next, 'authn_token_reuse').sentinel?.token_type, 'access');
    });

    it('ends an idle session once (session_expired) and calls each later use session_use_after_expire', async () => {
      const c = await loggedIn();
      // Each 401 clears the jar it answers, so every later use starts from a copy of this one.
      const saved = copyOf(c);
      clock += IDLE + MINUTE;
      const mark = server.events.length;
      const first = await c.request('POST', '/auth/refresh');
      assert.equal(first.status, 401);
      assert.equal(first.body.error.code, "token_expired", actions(mark).join());
      assert.deepEqual(actions(mark), ['session_expired:idle']);
      for (let i = 0; i < 2; i += 1) {
        const later = server.events.length;
        clock += MINUTE;
        const res = await copyOf(saved).request('POST', '/auth/refresh');
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'token_expired', actions(later).join());
        assert.deepEqual(actions(later), ['session_use_after_expire:idle']);
        assert.equal(one(later, 'session_use_after_expire').user?.name, 'alice');
      }
    });

    it('calls the tokens of a logged-out session authn_token_reuse (revoked), refresh and access alike', async () => {
      const c = await loggedIn();
      const kept = copyOf(c);
      assert.equal((await c.request('POST', '/auth/logout')).status, 204);
      let mark = server.events.length;
      assert.equal((await kept.request('GET', '/api/hello')).status, 401);
      assert.deepEqual(actions(mark), ['authn_token_reuse:revoked']);
      mark = server.events.length;
      assert.equal((await kept.request('POST', '/auth/refresh')).status, 401);
      assert.deepEqual(actions(mark), ['authn_token_reuse:revoked']);
      assert.equal(one(mark, 'authn_token_reuse').sentinel?.token_type, 'refresh');
    });

    it('retires the CSRF token at a refresh: the old one is refused, the new one works', async () => {
      const c = await loggedIn();
      const old = c.csrfToken!;
      assert.equal(c.cookie(CSRF), old);
      clock += MINUTE;
      const refreshed = await c.request('POST', '/auth/refresh');
      assert.equal(refreshed.status, 200);
      assert.notEqual(c.csrfToken, old);
      assert.ok(c.cookie(AT) && c.cookie(RT));
      const mark = server.events.length;
      const stale = await c.request('POST', '/api/notes', { json: { text: 'x' }, headers: { 'x-csrf-token': old } });
      assert.equal(stale.status, 403);
      assert.deepEqual(actions(mark), ['malicious_csrf:token_mismatch']);
      assert.equal((await c.request('POST', '/api/notes', { json: { text: 'x' } })).status, 201);
      // GET /auth/me hands out a token for the current generation, which works as well.
      const me = await c.request('GET', '/auth/me');
      assert.equal((await c.request('POST', '/api/notes', { json: { text: 'y' }, headers: { 'x-csrf-token': me.body.csrfToken } })).status, 201);
    });
  });
}
