import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { PASSWORDS, parseSetCookie, startTestServer, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';
import { AT, CSRF, RT, SecretWatch } from '../support/secrets.js';

const MINUTE = 60_000;
const ACCESS_TTL = MINUTE;
const IDLE = 10 * MINUTE;

const secrets = new SecretWatch();

/** Asserts that the response expires all three session cookies, each on the Path it was set with. */
function assertClearsCookies(res: TestResponse): void {
  const cookies = Object.fromEntries(res.setCookies.map((line) => {
    const cookie = parseSetCookie(line);
    return [cookie.name, cookie];
  }));
  const paths: Record<string, string> = { [AT]: '/', [RT]: '/auth/refresh', [CSRF]: '/' };
  assert.deepEqual(Object.keys(cookies).sort(), Object.keys(paths).sort());
  for (const [name, path] of Object.entries(paths)) {
    const cookie = cookies[name]!;
    assert.equal(cookie.value, '', `${name} value`);
    assert.equal(cookie.attributes['max-age'], '0', `${name} Max-Age`);
    assert.equal(cookie.attributes.expires, 'Thu, 01 Jan 1970 00:00:00 GMT', `${name} Expires`);
    // A browser deletes a cookie only when name, Path (and Domain) match the ones it was set with.
    assert.equal(cookie.attributes.path, path, `${name} Path`);
    assert.equal(cookie.attributes.domain, undefined, `${name} Domain`);
    assert.equal(cookie.attributes.secure, true, `${name} Secure`);
  }
}

interface Harness {
  server: TestServer;
  fakeNow: number;
  client(): TestClient;
  since(mark: number, action?: string): SecurityEvent[];
  loggedIn(name?: 'alice' | 'admin'): Promise<{ c: TestClient; sessionId: string }>;
  /** Asserts that the saved cookies no longer open the API nor refresh. */
  assertSessionDead(saved: TestClient, label: string): Promise<void>;
}

/** A server of its own for each suite (so the sessions alice leaves behind in one are not counted by the other). */
function useServer(): Harness {
  const h: Harness = {
    server: undefined as unknown as TestServer,
    fakeNow: 1_700_000_000_000,
    client: () => secrets.watch(h.server.client()),
    since: (mark, action) => h.server.events.slice(mark).filter((event) => action === undefined || event.event.action === action),
    async loggedIn(name = 'alice') {
      const c = h.client();
      assert.equal((await c.login(name, PASSWORDS[name])).status, 200);
      const me = await c.request('GET', '/auth/me');
      assert.equal(me.status, 200);
      return { c, sessionId: me.body.session.id as string };
    },
    async assertSessionDead(saved, label) {
      const { server, since } = h;
      let mark = server.events.length;
      const hello = await secrets.cloneOf(server, saved).request('GET', '/api/hello');
      assert.equal(hello.status, 401, `${label}: /api/hello`);
      assert.equal(hello.body.error.code, 'token_invalid', `${label}: /api/hello code`);
      // A genuine token of a revoked session is OWASP's authn_token_reuse (reason revoked).
      const invalid = since(mark, 'authn_token_reuse');
      assert.equal(invalid[0]?.event.reason, 'revoked', `${label}: access reason`);
      assert.equal(invalid[0]?.sentinel?.token_type, 'access');
      mark = server.events.length;
      const refresh = await secrets.cloneOf(server, saved).request('POST', '/auth/refresh');
      assert.equal(refresh.status, 401, `${label}: /auth/refresh`);
      assert.equal(refresh.body.error.code, 'token_invalid', `${label}: /auth/refresh code`);
      assert.equal(since(mark, 'authn_token_reuse')[0]?.event.reason, 'revoked', `${label}: refresh reason`);
      assert.deepEqual(since(mark, 'session_renewed'), [], `${label}: no renewal`);
    },
  };
  before(async () => {
    h.server = await startTestServer({ session: { now: () => h.fakeNow, accessTtlMs: ACCESS_TTL, refreshTtlMs: IDLE } });
  });
  after(() => h.server.close());
  return h;
}

describe('POST /auth/logout', () => {
  const h = useServer();
  const { since } = h;

  it('clears all three cookies, sends Clear-Site-Data and no-store, and revokes the session server-side', async () => {
    const { c, sessionId } = await h.loggedIn();
    const saved = secrets.cloneOf(h.server, c);
    const mark = h.server.events.length;

    const res = await c.request('POST', '/auth/logout');
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assertClearsCookies(res);
    assert.equal(res.headers.get('clear-site-data'), '"cache", "cookies", "storage"');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    // The device cookie is no session cookie; browsers drop it too, through Clear-Site-Data "cookies".
    assert.deepEqual([...c.jar.keys()], ['__Host-sentinel_device'], 'the browser keeps no session cookie');

    const revoked = since(mark, 'authn_token_revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.event.reason, 'logout');
    assert.equal(revoked[0]!.event.outcome, 'success');
    assert.equal(revoked[0]!.user?.name, 'alice');
    assert.equal(revoked[0]!.sentinel?.session_id, sessionId);
    const logout = since(mark, 'session_logout');
    assert.equal(logout.length, 1);
    assert.equal(logout[0]!.event.reason, 'logout');
    assert.equal(logout[0]!.event.outcome, 'success');
    assert.equal(logout[0]!.user?.name, 'alice');
    assert.equal(logout[0]!.user?.id, 'u_alice');
    assert.equal(logout[0]!.sentinel?.session_id, sessionId);
    assert.equal(logout[0]!.http?.response?.status_code, 204);

    // The old cookie values, replayed (a copy kept by an attacker), are refused.
    await h.assertSessionDead(saved, 'after logout');
    secrets.assertNoneLogged(h.server);
  });

  it('leaves other sessions, of the same user and of others, alone', async () => {
    const { c } = await h.loggedIn();
    const { c: other } = await h.loggedIn();
    const { c: admin } = await h.loggedIn('admin');
    assert.equal((await c.request('POST', '/auth/logout')).status, 204);
    assert.equal((await other.request('GET', '/api/hello')).status, 200);
    assert.equal((await other.request('POST', '/auth/refresh')).status, 200);
    assert.equal((await admin.request('GET', '/api/hello')).status, 200);
  });

  it('answers 204 without a session and still clears the cookies', async () => {
    const anonymous = h.client();
    const mark = h.server.events.length;
    const res = await anonymous.request('POST', '/auth/logout');
    assert.equal(res.status, 204);
    assertClearsCookies(res);
    assert.equal(res.headers.get('clear-site-data'), '"cache", "cookies", "storage"');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(since(mark, 'session_logout'), []);
    assert.deepEqual(since(mark, 'authn_token_revoked'), []);

    // A garbage access cookie is no session either.
    const stale = h.client();
    stale.jar.set(AT, { value: 'garbage', path: '/' });
    const garbage = await stale.request('POST', '/auth/logout');
    assert.equal(garbage.status, 204);
    assertClearsCookies(garbage);
  });

  it('refuses a cross-site logout (logout CSRF) and keeps the session', async () => {
    const { c } = await h.loggedIn();
    const mark = h.server.events.length;
    const cross = await c.request('POST', '/auth/logout', { headers: { origin: 'https://evil.example' } });
    assert.equal(cross.status, 403);
    assert.equal(cross.body.error.code, 'csrf_failed');
    assert.deepEqual(cross.setCookies, []);
    const noToken = await c.request('POST', '/auth/logout', { csrf: false });
    assert.equal(noToken.status, 403);
    assert.deepEqual(since(mark, 'malicious_csrf').map((e) => e.event.reason), ['origin_mismatch', 'token_missing']);
    assert.deepEqual(since(mark, 'session_logout'), []);
    assert.equal((await c.request('GET', '/api/hello')).status, 200);
    assert.equal((await c.request('POST', '/auth/logout')).status, 204);
  });

  it('revokes the session server-side even when the access token has already expired', async () => {
    // After a pause longer than accessTtlMs the access token has expired and the refresh cookie (scoped to
    // /auth/refresh) never reaches /auth/logout: logout must still find and revoke the session.
    const { c } = await h.loggedIn();
    const saved = secrets.cloneOf(h.server, c);
    h.fakeNow += ACCESS_TTL + 10_000;
    assert.equal((await c.request('GET', '/api/hello')).body.error.code, 'token_expired');
    const res = await c.request('POST', '/auth/logout');
    assert.equal(res.status, 204);
    assertClearsCookies(res);
    const refresh = await secrets.cloneOf(h.server, saved).request('POST', '/auth/refresh');
    assert.equal(refresh.status, 401, 'the refresh token must not outlive the logout');
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(h.server);
  });
});

describe('POST /auth/logout-all', () => {
  const h = useServer();
  const { since } = h;

  it('revokes every session of the user and only theirs', async () => {
    const sessions = [await h.loggedIn(), await h.loggedIn(), await h.loggedIn()];
    const saved = sessions.map(({ c }) => secrets.cloneOf(h.server, c));
    const { c: admin } = await h.loggedIn('admin');
    const [first] = sessions;
    const mark = h.server.events.length;

    const res = await first!.c.request('POST', '/auth/logout-all');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { revokedSessions: 3 });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('clear-site-data'), '"cache", "cookies", "storage"');
    assertClearsCookies(res);

    const revoked = since(mark, 'authn_token_revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.event.reason, 'logout_all');
    assert.equal(revoked[0]!.user?.name, 'alice');
    assert.equal(revoked[0]!.sentinel?.sessions_revoked, 3);
    const logout = since(mark, 'session_logout');
    assert.equal(logout.length, 1);
    assert.equal(logout[0]!.event.reason, 'logout_all');
    assert.equal(logout[0]!.user?.name, 'alice');
    assert.equal(logout[0]!.sentinel?.session_id, sessions[0]!.sessionId);
    assert.equal(logout[0]!.sentinel?.sessions_revoked, 3);

    for (const [i, copy] of saved.entries()) await h.assertSessionDead(copy, `alice session ${i + 1}`);
    // The clients that did not log out still hold their cookies, and they are refused too.
    for (const { c } of sessions.slice(1)) {
      assert.equal((await c.request('GET', '/api/hello')).status, 401);
      assert.equal((await c.request('POST', '/auth/refresh')).status, 401);
    }
    // Another user is untouched.
    assert.equal((await admin.request('GET', '/api/hello')).status, 200);
    assert.equal((await admin.request('POST', '/auth/refresh')).status, 200);
    assert.equal((await admin.request('GET', '/api/hello')).status, 200);
    secrets.assertNoneLogged(h.server);
  });

  it('needs a session (401) and the CSRF token (403)', async () => {
    const anonymous = await h.client().request('POST', '/auth/logout-all');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'token_invalid');
    const { c } = await h.loggedIn();
    const noToken = await c.request('POST', '/auth/logout-all', { csrf: false });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, 'csrf_failed');
    assert.equal((await c.request('GET', '/api/hello')).status, 200);
  });

  it('does not block a new login in the same second as the logout-all (per-user not-before)', async () => {
    // Whole second, so logout-all and the next login share iat / not-before seconds.
    h.fakeNow = Math.ceil(h.fakeNow / 1000) * 1000 + 1000;
    const { c } = await h.loggedIn();
    const saved = secrets.cloneOf(h.server, c);
    h.fakeNow += 300;
    const res = await c.request('POST', '/auth/logout-all');
    assert.equal(res.status, 200);
    assert.ok(res.body.revokedSessions >= 1);

    h.fakeNow += 300;
    const { c: fresh } = await h.loggedIn();
    assert.equal((await fresh.request('GET', '/api/hello')).status, 200);
    assert.equal((await fresh.request('POST', '/api/notes', { json: { text: 'still here' } })).status, 201);
    assert.equal((await fresh.request('POST', '/auth/refresh')).status, 200);
    assert.equal((await fresh.request('GET', '/api/hello')).status, 200);
    // The session from before the logout-all, issued in that same second, stays dead.
    await h.assertSessionDead(saved, 'same-second session before logout-all');

    // And in a later second, too.
    h.fakeNow += 5_000;
    const { c: later } = await h.loggedIn();
    assert.equal((await later.request('GET', '/api/hello')).status, 200);
    assert.equal((await fresh.request('GET', '/api/hello')).status, 200);
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(h.server);
  });
});
