import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_CATALOGUE, type CatalogueEntry } from '../../src/events/catalogue.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { hashPassword } from '../../src/session/passwords.js';
import { createMemoryUserDirectory, type UserRecord } from '../../src/session/users.js';
import { PASSWORDS, TEST_SCRYPT, parseSetCookie, startTestServer, testUsers, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';
import { AT, CSRF, RT, SecretWatch } from '../support/secrets.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const ACCESS_TTL = MINUTE;
const IDLE = 10 * MINUTE;
const ABSOLUTE = 30 * MINUTE;
const GRACE = 5 * SECOND;

const secrets = new SecretWatch();

function setCookies(res: TestResponse): Record<string, ReturnType<typeof parseSetCookie>> {
  return Object.fromEntries(res.setCookies.map((line) => {
    const cookie = parseSetCookie(line);
    return [cookie.name, cookie];
  }));
}

function assertClearsCookies(res: TestResponse): void {
  const cookies = setCookies(res);
  for (const name of [AT, RT, CSRF]) {
    assert.equal(cookies[name]?.value, '', `${name} is cleared`);
    assert.equal(cookies[name]?.attributes['max-age'], '0', `${name} Max-Age=0`);
  }
}

describe('POST /auth/refresh', () => {
  let server: TestServer;
  let fakeNow = 1_700_000_000_000;
  let carol: UserRecord;

  before(async () => {
    carol = { id: 'u_carol', name: 'carol', roles: ['user'], passwordHash: await hashPassword('carol password 1', TEST_SCRYPT) };
    const users = createMemoryUserDirectory([...(await testUsers()), carol]);
    server = await startTestServer({
      session: { users, now: () => fakeNow, accessTtlMs: ACCESS_TTL, refreshTtlMs: IDLE, absoluteTtlMs: ABSOLUTE, refreshGraceMs: GRACE },
    });
  });
  after(() => server.close());

  const client = (): TestClient => secrets.watch(server.client());
  const since = (mark: number, action?: string): SecurityEvent[] =>
    server.events.slice(mark).filter((event) => action === undefined || event.event.action === action);

  async function loggedIn(name: 'alice' | 'admin' = 'alice'): Promise<{ c: TestClient; sessionId: string }> {
    const c = client();
    const res = await c.login(name, PASSWORDS[name]);
    assert.equal(res.status, 200);
    const me = await c.request('GET', '/auth/me');
    assert.equal(me.status, 200);
    return { c, sessionId: me.body.session.id as string };
  }

  it('rotates the access, refresh and CSRF tokens, and the new ones work', async () => {
    const { c, sessionId } = await loggedIn();
    const before = { access: c.cookie(AT), refresh: c.cookie(RT), csrf: c.cookie(CSRF), token: c.csrfToken };
    const mark = server.events.length;

    const res = await c.request('POST', '/auth/refresh');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(res.body.user, { id: 'u_alice', name: 'alice', roles: ['user'] });
    assert.match(res.body.csrfToken, /^[\w-]+\.[\w-]+$/);
    assert.notEqual(res.body.csrfToken, before.token);
    const cookies = setCookies(res);
    assert.deepEqual(Object.keys(cookies).sort(), [AT, CSRF, RT].sort());
    assert.notEqual(cookies[AT]!.value, before.access);
    assert.notEqual(cookies[RT]!.value, before.refresh);
    assert.notEqual(cookies[CSRF]!.value, before.csrf);
    assert.equal(cookies[CSRF]!.value, res.body.csrfToken);
    assert.equal(c.cookie(AT), cookies[AT]!.value);

    const renewed = since(mark, 'session_renewed');
    assert.equal(renewed.length, 1);
    assert.equal(renewed[0]!.event.outcome, 'success');
    assert.equal(renewed[0]!.user?.name, 'alice');
    assert.equal(renewed[0]!.user?.id, 'u_alice');
    assert.equal(renewed[0]!.sentinel?.session_id, sessionId);
    assert.equal(renewed[0]!.http?.response?.status_code, 200);
    const created = since(mark, 'authn_token_created');
    assert.equal(created.length, 1);
    assert.equal(created[0]!.sentinel?.session_id, sessionId);
    assert.equal(created[0]!.user?.name, 'alice');
    // The refreshed pair has new ids: the access jti in session_renewed is the one just created.
    assert.equal(renewed[0]!.sentinel?.token_id, created[0]!.sentinel?.token_id);
    assert.notEqual(renewed[0]!.sentinel?.refresh_token_id, created[0]!.sentinel?.refresh_token_id);

    // The new access token and the new CSRF token work, in the same session.
    const hello = await c.request('GET', '/api/hello');
    assert.equal(hello.status, 200);
    assert.equal(hello.body.message, 'Hello, alice.');
    const me = await c.request('GET', '/auth/me');
    assert.equal(me.body.session.id, sessionId);
    const note = await c.request('POST', '/api/notes', { json: { text: 'after refresh' }, headers: { 'x-csrf-token': res.body.csrfToken } });
    assert.equal(note.status, 201);
    // And the new refresh token rotates in turn.
    assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
    assert.deepEqual(since(mark, 'authn_token_reuse'), []);
    secrets.assertNoneLogged(server);
  });

  it('scopes the refresh cookie to the refresh path (and the others to /)', async () => {
    const c = client();
    const login = await c.login('alice', PASSWORDS.alice);
    const refresh = await c.request('POST', '/auth/refresh');
    for (const res of [login, refresh]) {
      const cookies = setCookies(res);
      const rt = cookies[RT]!;
      assert.equal(rt.attributes.path, '/auth/refresh');
      assert.equal(rt.attributes.domain, undefined);
      assert.equal(rt.attributes.secure, true);
      assert.equal(rt.attributes.httponly, true);
      assert.equal(rt.attributes.samesite, 'Strict');
      assert.equal(rt.attributes['max-age'], String(IDLE / 1000));
      assert.equal(cookies[AT]!.attributes.path, '/');
      assert.equal(cookies[CSRF]!.attributes.path, '/');
      assert.equal(cookies[CSRF]!.attributes.httponly, undefined, 'the page must be able to read the CSRF cookie');
    }
    // A browser honouring Path sends the refresh cookie to /auth/refresh only.
    assert.ok(c.cookieHeader('/auth/refresh').includes(`${RT}=`));
    for (const path of ['/', '/api/hello', '/auth/me', '/auth/logout']) assert.equal(c.cookieHeader(path).includes(`${RT}=`), false, path);
  });

  it('refuses a refresh without a refresh cookie (401 token_invalid)', async () => {
    const anonymous = client();
    let mark = server.events.length;
    const res = await anonymous.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const [invalid] = since(mark, 'authn_token_invalid');
    assert.equal(invalid?.event.reason, 'missing');
    assert.equal(invalid?.sentinel?.token_type, 'refresh');

    // Logged in, but the refresh cookie is gone: the valid access cookie is no substitute.
    const { c } = await loggedIn();
    c.jar.delete(RT);
    mark = server.events.length;
    const without = await c.request('POST', '/auth/refresh');
    assert.equal(without.status, 401);
    assert.equal(without.body.error.code, 'token_invalid');
    assert.equal(since(mark, 'authn_token_invalid')[0]?.event.reason, 'missing');
    assert.deepEqual(since(mark, 'session_renewed'), []);
  });

  it('refuses a garbage refresh cookie, and an access token in the refresh cookie', async () => {
    const { c } = await loggedIn();
    const access = c.cookie(AT)!;
    const garbage = secrets.cloneOf(server, c);
    garbage.jar.set(RT, { value: 'not-a-token', path: '/auth/refresh' });
    let mark = server.events.length;
    let res = await garbage.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
    assert.equal(since(mark, 'authn_token_invalid')[0]?.event.reason, 'malformed');

    const confused = secrets.cloneOf(server, c);
    confused.jar.set(RT, { value: access, path: '/auth/refresh' });
    mark = server.events.length;
    res = await confused.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
    assert.equal(since(mark, 'authn_token_invalid')[0]?.event.reason, 'wrong_type');
    // Neither attempt harmed the real session.
    assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
  });

  it('detects reuse of a rotated refresh token after the grace window and revokes the whole family', async () => {
    const { c, sessionId } = await loggedIn();
    const stolen = secrets.cloneOf(server, c);
    assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
    const currentAccess = c.cookie(AT)!;
    fakeNow += GRACE + 1;

    const mark = server.events.length;
    const replay = await stolen.request('POST', '/auth/refresh');
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error.code, 'token_invalid');
    assertClearsCookies(replay);
    const reuse = since(mark, 'authn_token_reuse');
    assert.equal(reuse.length, 1);
    assert.equal(reuse[0]!.event.outcome, 'failure');
    assert.equal(reuse[0]!.log.level, 'error');
    assert.ok(reuse[0]!.event.category.includes('intrusion_detection'));
    assert.equal(reuse[0]!.user?.name, 'alice');
    assert.equal(reuse[0]!.sentinel?.session_id, sessionId);
    const revoked = since(mark, 'authn_token_revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.event.reason, 'reuse');
    assert.equal(revoked[0]!.sentinel?.session_id, sessionId);

    // The legitimate holder's latest refresh token is dead...
    let next = server.events.length;
    const latest = await c.request('POST', '/auth/refresh');
    assert.equal(latest.status, 401);
    assert.equal(latest.body.error.code, 'token_invalid');
    // A token of a revoked family: reuse of a dead credential, logged as such (OWASP authn_token_reuse).
    assert.equal(since(next, 'authn_token_reuse')[0]?.event.reason, 'revoked');
    assert.deepEqual(since(next, 'session_renewed'), []);
    // ...and so is the session's current access token (that 401 cleared the jar, so replay the saved value).
    next = server.events.length;
    const accessReplay = client();
    accessReplay.jar.set(AT, { value: currentAccess, path: '/' });
    const hello = await accessReplay.request('GET', '/api/hello');
    assert.equal(hello.status, 401);
    assert.equal(hello.body.error.code, 'token_invalid');
    assert.equal(since(next, 'authn_token_reuse')[0]?.event.reason, 'revoked');
    secrets.assertNoneLogged(server);
  });

  it('with refreshGraceMs: 0, any replay of a rotated token is reuse', async () => {
    const strict = await startTestServer({ session: { now: () => fakeNow, refreshGraceMs: 0 } });
    try {
      const c = secrets.watch(strict.client());
      assert.equal((await c.login('alice', PASSWORDS.alice)).status, 200);
      const stolen = secrets.cloneOf(strict, c);
      assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
      const access = c.cookie(AT)!;
      fakeNow += 1;
      const replay = await stolen.request('POST', '/auth/refresh');
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error.code, 'token_invalid');
      assert.equal(strict.eventsOf('authn_token_reuse').length, 1);
      assert.equal(strict.eventsOf('refresh_conflict').length, 0);
      assert.equal((await c.request('POST', '/auth/refresh')).status, 401);
      const replayAccess = secrets.watch(strict.client());
      replayAccess.jar.set(AT, { value: access, path: '/' });
      assert.equal((await replayAccess.request('GET', '/api/hello')).status, 401);
    } finally {
      await strict.close();
    }
  });

  it('answers concurrent refreshes with one 200 and one 409 refresh_conflict, without revoking', async () => {
    const { c, sessionId } = await loggedIn();
    const tab = secrets.cloneOf(server, c);
    const mark = server.events.length;
    const [first, second] = await Promise.all([c.request('POST', '/auth/refresh'), tab.request('POST', '/auth/refresh')]);
    assert.deepEqual([first.status, second.status].sort(), [200, 409]);
    const [winner, loser, loserRes] = first.status === 200 ? [c, tab, second] : [tab, c, first];
    assert.equal(loserRes.body.error.code, 'refresh_conflict');
    assert.deepEqual(loserRes.setCookies, [], 'a conflict never yields tokens nor clears cookies');

    const conflict = since(mark, 'refresh_conflict');
    assert.equal(conflict.length, 1);
    assert.equal(conflict[0]!.user?.name, 'alice');
    assert.equal(conflict[0]!.sentinel?.session_id, sessionId);
    assert.equal(conflict[0]!.http?.response?.status_code, 409);
    assert.deepEqual(since(mark, 'authn_token_reuse'), []);
    assert.deepEqual(since(mark, 'authn_token_revoked'), []);
    assert.equal(since(mark, 'session_renewed').length, 1);

    // The winner's tokens keep working, and the session is alive for the loser too.
    assert.equal((await winner.request('GET', '/api/hello')).status, 200);
    assert.equal((await loser.request('GET', '/api/hello')).status, 200);
    // The loser retries with the cookies the winner received (one browser jar): that works.
    const retry = secrets.cloneOf(server, winner);
    assert.equal((await retry.request('POST', '/auth/refresh')).status, 200);
  });

  it('treats the same replay after the grace window as reuse and revokes the family', async () => {
    const { c, sessionId } = await loggedIn();
    const tab = secrets.cloneOf(server, c);
    const [first, second] = await Promise.all([c.request('POST', '/auth/refresh'), tab.request('POST', '/auth/refresh')]);
    assert.deepEqual([first.status, second.status].sort(), [200, 409]);
    const [winner, loser] = first.status === 200 ? [c, tab] : [tab, c];
    const winnerAccess = winner.cookie(AT)!;

    // Within the window the stale token still only conflicts.
    fakeNow += GRACE;
    let mark = server.events.length;
    assert.equal((await secrets.cloneOf(server, loser).request('POST', '/auth/refresh')).status, 409);
    assert.deepEqual(since(mark, 'authn_token_reuse'), []);

    fakeNow += 1;
    mark = server.events.length;
    const late = await loser.request('POST', '/auth/refresh');
    assert.equal(late.status, 401);
    assert.equal(late.body.error.code, 'token_invalid');
    assert.equal(since(mark, 'authn_token_reuse').length, 1);
    assert.equal(since(mark, 'authn_token_reuse')[0]!.sentinel?.session_id, sessionId);
    assert.equal(since(mark, 'authn_token_revoked')[0]?.event.reason, 'reuse');

    assert.equal((await winner.request('POST', '/auth/refresh')).status, 401);
    const replay = client();
    replay.jar.set(AT, { value: winnerAccess, path: '/' });
    const hello = await replay.request('GET', '/api/hello');
    assert.equal(hello.status, 401);
    assert.equal(hello.body.error.code, 'token_invalid');
    secrets.assertNoneLogged(server);
  });

  it('enforces the idle timeout on the server (refreshTtlMs)', async () => {
    const { c, sessionId } = await loggedIn();
    fakeNow += IDLE - 1;
    const inTime = await c.request('POST', '/auth/refresh');
    assert.equal(inTime.status, 200, 'a refresh just before the idle timeout works and restarts the idle clock');

    fakeNow += IDLE;
    const mark = server.events.length;
    const res = await c.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_expired');
    assertClearsCookies(res);
    const expired = since(mark, 'session_expired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.event.reason, 'idle');
    assert.equal(expired[0]!.user?.name, 'alice');
    assert.equal(expired[0]!.sentinel?.session_id, sessionId);
    assert.deepEqual(since(mark, 'session_renewed'), []);
  });

  it('reports a refresh long after the idle timeout as session_expired (idle) too', async () => {
    const { c, sessionId } = await loggedIn();
    fakeNow += IDLE + 60 * MINUTE;
    const mark = server.events.length;
    const res = await c.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_expired');
    assertClearsCookies(res);
    const expired = since(mark, 'session_expired');
    assert.equal(expired.length, 1, `events: ${since(mark).map((e) => `${e.event.action}/${e.event.reason}`).join(', ')}`);
    assert.equal(expired[0]!.event.reason, 'idle');
    assert.equal(expired[0]!.sentinel?.session_id, sessionId);
  });

  it('enforces the absolute timeout on the server (absoluteTtlMs), however often the session is refreshed', async () => {
    const { c, sessionId } = await loggedIn();
    const start = fakeNow;
    const step = IDLE - MINUTE;
    let last: TestResponse | undefined;
    while (fakeNow + step < start + ABSOLUTE) {
      fakeNow += step;
      last = await c.request('POST', '/auth/refresh');
      assert.equal(last.status, 200, `refresh at +${(fakeNow - start) / MINUTE} min`);
      assert.equal(last.body.sessionExpiresAt, new Date(start + ABSOLUTE).toISOString());
    }
    // The last refresh token is capped at the absolute expiry.
    assert.ok(last);
    assert.equal(setCookies(last)[RT]!.attributes['max-age'], String((start + ABSOLUTE - fakeNow) / 1000));

    fakeNow = start + ABSOLUTE;
    const mark = server.events.length;
    const res = await c.request('POST', '/auth/refresh');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_expired');
    assertClearsCookies(res);
    const expired = since(mark, 'session_expired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.event.reason, 'absolute');
    assert.equal(expired[0]!.sentinel?.session_id, sessionId);
  });

  it("refuses a disabled user's refresh and revokes the session; role changes apply at the next refresh", async () => {
    const c = client();
    assert.equal((await c.login('carol', 'carol password 1')).status, 200);
    const sessionId = (await c.request('GET', '/auth/me')).body.session.id as string;

    carol.roles = ['user', 'admin'];
    try {
      assert.equal((await c.request('GET', '/api/admin/stats')).status, 403, 'the old access token still has the old roles');
      assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
      assert.deepEqual((await c.request('GET', '/auth/me')).body.user.roles, ['user', 'admin']);
      assert.equal((await c.request('GET', '/api/admin/stats')).status, 200);
    } finally {
      carol.roles = ['user'];
    }

    const access = c.cookie(AT)!;
    carol.disabled = true;
    try {
      const mark = server.events.length;
      const res = await c.request('POST', '/auth/refresh');
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'token_invalid');
      assertClearsCookies(res);
      assert.deepEqual(since(mark, 'session_renewed'), []);
      assert.deepEqual(since(mark, 'authn_token_created'), []);
      const revoked = since(mark, 'authn_token_revoked');
      assert.equal(revoked.length, 1);
      assert.equal(revoked[0]!.event.reason, 'user_disabled');
      assert.equal(revoked[0]!.user?.name, 'carol');
      assert.equal(revoked[0]!.sentinel?.session_id, sessionId);
      assert.equal(since(mark, 'authn_token_invalid')[0]?.event.reason, 'user_disabled');

      // The access token of that session is revoked with it.
      const replay = client();
      replay.jar.set(AT, { value: access, path: '/' });
      assert.equal((await replay.request('GET', '/api/hello')).status, 401);
      // Login is refused as well.
      assert.equal((await client().login('carol', 'carol password 1')).status, 401);
    } finally {
      carol.disabled = false;
    }
    // Re-enabling does not bring the revoked session back; a new login works.
    const replay = client();
    replay.jar.set(AT, { value: access, path: '/' });
    assert.equal((await replay.request('GET', '/api/hello')).status, 401);
    assert.equal((await client().login('carol', 'carol password 1')).status, 200);
  });

  it('emits only event reasons that the catalogue documents, over refusals it provokes itself', async () => {
    const mark = server.events.length;
    assert.equal((await client().request('POST', '/auth/refresh')).status, 401, 'no refresh cookie');
    const { c } = await loggedIn();
    const garbage = secrets.cloneOf(server, c);
    garbage.jar.set(RT, { value: 'not-a-token', path: '/auth/refresh' });
    assert.equal((await garbage.request('POST', '/auth/refresh')).status, 401, 'a garbage cookie');
    const stolen = secrets.cloneOf(server, c);
    assert.equal((await c.request('POST', '/auth/refresh')).status, 200);
    fakeNow += GRACE + 1;
    assert.equal((await stolen.request('POST', '/auth/refresh')).status, 401, 'a rotated token replayed');
    assert.equal((await c.request('POST', '/auth/refresh')).status, 401, 'a token of the revoked family');
    const other = client();
    assert.equal((await other.login('carol', 'carol password 1')).status, 200);
    carol.disabled = true;
    try {
      assert.equal((await other.request('POST', '/auth/refresh')).status, 401, 'a disabled user');
    } finally {
      carol.disabled = false;
    }

    const seen = new Set<string>();
    const undocumented = new Set<string>();
    for (const event of since(mark)) {
      if (event.event.reason === undefined) continue;
      const key = `${event.event.action}/${event.event.reason}`;
      seen.add(key);
      const entry: CatalogueEntry = EVENT_CATALOGUE[event.event.action];
      if (!entry.reasons?.includes(event.event.reason)) undocumented.add(key);
    }
    for (const expected of ['authn_token_invalid/missing', 'authn_token_invalid/malformed', 'authn_token_reuse/rotated', 'authn_token_revoked/reuse', 'authn_token_reuse/revoked', 'authn_token_revoked/user_disabled', 'authn_token_invalid/user_disabled']) {
      assert.ok(seen.has(expected), `${expected} was emitted (seen: ${[...seen].join(', ')})`);
    }
    assert.deepEqual([...undocumented], []);
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(server);
  });
});
