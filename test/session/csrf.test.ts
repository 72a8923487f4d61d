import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/events/security-event.js';
import type { SessionKitOptions } from '../../src/session/session-kit.js';
import { PASSWORDS, startTestServer, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';
import { AT, RT, SecretWatch } from '../support/secrets.js';

const EVIL = 'https://evil.example';
const CSRF_BODY = { error: { code: 'csrf_failed', message: 'The request failed the cross-site request forgery check.' } };

const secrets = new SecretWatch();

interface Harness {
  server: TestServer;
  client(): TestClient;
  since(mark: number, action?: string): SecurityEvent[];
  loggedIn(name?: 'alice' | 'admin'): Promise<TestClient>;
  /** Sends the request and asserts 403 csrf_failed with exactly one malicious_csrf event of `reason`. */
  refused(c: TestClient, reason: string, method: string, path: string, options?: Parameters<TestClient['request']>[2]): Promise<SecurityEvent>;
}

function useServer(session: Partial<SessionKitOptions> = {}): Harness {
  const h: Harness = {
    server: undefined as unknown as TestServer,
    client: () => secrets.watch(h.server.client()),
    since: (mark, action) => h.server.events.slice(mark).filter((event) => action === undefined || event.event.action === action),
    async loggedIn(name = 'alice') {
      const c = h.client();
      assert.equal((await c.login(name, PASSWORDS[name])).status, 200);
      assert.ok(c.csrfToken);
      return c;
    },
    async refused(c, reason, method, path, options) {
      const mark = h.server.events.length;
      const res = await c.request(method, path, options);
      assert.equal(res.status, 403, `${reason}: status`);
      assert.deepEqual(res.body, CSRF_BODY, `${reason}: body`);
      assert.deepEqual(res.setCookies, [], `${reason}: no cookie set or cleared`);
      const events = h.since(mark, 'malicious_csrf');
      assert.equal(events.length, 1, `${reason}: one malicious_csrf event`);
      const [event] = events as [SecurityEvent];
      assert.equal(event.event.reason, reason);
      assert.equal(event.event.outcome, 'failure');
      assert.ok(event.event.category.includes('intrusion_detection'));
      assert.equal(event.http?.response?.status_code, 403);
      assert.equal(event.http?.request?.method, method);
      assert.equal(event.url?.path, path);
      // Nothing behind the check ran: no note, no login.
      assert.deepEqual(h.since(mark).filter((e) => e.event.action !== 'malicious_csrf'), [], `${reason}: no other event`);
      return event;
    },
  };
  before(async () => {
    h.server = await startTestServer({ session });
  });
  after(() => h.server.close());
  return h;
}

const note = (text = 'hello'): { json: { text: string } } => ({ json: { text } });

describe('CSRF on cookie sessions', () => {
  const h = useServer();

  it('accepts an unsafe request with the session token and the same Origin', async () => {
    const c = await h.loggedIn();
    const mark = h.server.events.length;
    const res = await c.request('POST', '/api/notes', note('valid'));
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { note: { text: 'valid', author: 'alice' } });
    assert.deepEqual(h.since(mark, 'malicious_csrf'), []);
  });

  it('refuses a request without X-CSRF-Token (token_missing)', async () => {
    const c = await h.loggedIn();
    const event = await h.refused(c, 'token_missing', 'POST', '/api/notes', { ...note(), csrf: false, headers: { origin: h.server.origin } });
    assert.equal(event.user?.name, 'alice');
    assert.ok(event.sentinel?.session_id);
    // Without Origin either (a non-browser client using the cookie): still refused.
    await h.refused(c, 'token_missing', 'POST', '/api/notes', { ...note(), csrf: false });
    // For every unsafe method.
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      await h.refused(c, 'token_missing', method, '/api/notes', { ...note(), csrf: false, headers: { origin: h.server.origin } });
    }
  });

  it('refuses a wrong token (token_mismatch)', async () => {
    const c = await h.loggedIn();
    const valid = c.csrfToken!;
    const [nonce, mac] = valid.split('.') as [string, string];
    const forged = [
      'garbage',
      `${nonce}.${'A'.repeat(43)}`,
      // Two characters that are certainly not the ones there (a fixed 'AA' matched them 1 time in 4096).
      `${nonce.slice(0, -2)}${nonce.endsWith('AA') ? 'BB' : 'AA'}.${mac}`,
      valid.split('').reverse().join(''),
      // The naive double submit: any value echoing a cookie the attacker could plant.
      c.cookie(AT)!,
    ];
    for (const token of forged) await h.refused(c, 'token_mismatch', 'POST', '/api/notes', { ...note(), headers: { 'x-csrf-token': token } });
  });

  it("refuses the token of another session, even the same user's", async () => {
    const c = await h.loggedIn();
    const sameUser = await h.loggedIn();
    const otherUser = await h.loggedIn('admin');
    await h.refused(c, 'token_mismatch', 'POST', '/api/notes', { ...note(), headers: { 'x-csrf-token': sameUser.csrfToken! } });
    await h.refused(c, 'token_mismatch', 'POST', '/api/notes', { ...note(), headers: { 'x-csrf-token': otherUser.csrfToken! } });
    // Each token still works in its own session.
    assert.equal((await sameUser.request('POST', '/api/notes', note())).status, 201);
    assert.equal((await otherUser.request('POST', '/api/notes', note())).status, 201);
  });

  it('refuses a cross-site Origin even with a valid token (origin_mismatch)', async () => {
    const c = await h.loggedIn();
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: EVIL } });
    // Same host name on another port is another origin.
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'http://127.0.0.1:1' } });
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'not a url' } });
  });

  it('refuses Sec-Fetch-Site: cross-site even with a valid token and Origin (cross_site)', async () => {
    const c = await h.loggedIn();
    await h.refused(c, 'cross_site', 'POST', '/api/notes', { ...note(), headers: { 'sec-fetch-site': 'cross-site' } });
    await h.refused(c, 'cross_site', 'POST', '/api/notes', { ...note(), csrf: false, headers: { 'sec-fetch-site': 'cross-site', 'x-csrf-token': c.csrfToken! } });
  });

  it('refuses Origin: null (sandboxed frames, data: URLs)', async () => {
    const c = await h.loggedIn();
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'null' } });
  });

  it('checks the Referer when there is no Origin', async () => {
    const c = await h.loggedIn();
    const token = c.csrfToken!;
    await h.refused(c, 'referer_mismatch', 'POST', '/api/notes', { ...note(), csrf: false, headers: { 'x-csrf-token': token, referer: `${EVIL}/page` } });
    // A same-origin Referer with the token passes.
    const ok = await c.request('POST', '/api/notes', { ...note('via referer'), csrf: false, headers: { 'x-csrf-token': token, referer: `${h.server.origin}/app` } });
    assert.equal(ok.status, 201);
    // A same-site request that hides its Origin is refused.
    await h.refused(c, 'no_origin', 'POST', '/api/notes', { ...note(), csrf: false, headers: { 'x-csrf-token': token, 'sec-fetch-site': 'same-site' } });
  });

  it('never checks GET (nor HEAD), which must not change state', async () => {
    const c = await h.loggedIn();
    const mark = h.server.events.length;
    const hostile = { origin: EVIL, 'sec-fetch-site': 'cross-site', referer: `${EVIL}/x` };
    const hello = await c.request('GET', '/api/hello', { headers: hostile });
    assert.equal(hello.status, 200);
    const me = await c.request('GET', '/auth/me', { headers: { ...hostile, 'x-csrf-token': 'garbage' } });
    assert.equal(me.status, 200);
    assert.equal((await c.request('HEAD', '/api/hello', { headers: hostile })).status, 200);
    assert.deepEqual(h.since(mark, 'malicious_csrf'), []);
  });

  it('GET /auth/me returns a fresh CSRF token for the session, which works', async () => {
    const c = await h.loggedIn();
    const fromLogin = c.csrfToken!;
    const me = await c.request('GET', '/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.headers.get('cache-control'), 'no-store');
    assert.match(me.body.csrfToken, /^[\w-]+\.[\w-]+$/);
    assert.notEqual(me.body.csrfToken, fromLogin);
    const res = await c.request('POST', '/api/notes', { ...note('from me'), headers: { 'x-csrf-token': me.body.csrfToken } });
    assert.equal(res.status, 201);
    // Another session cannot use it.
    const other = await h.loggedIn();
    await h.refused(other, 'token_mismatch', 'POST', '/api/notes', { ...note(), headers: { 'x-csrf-token': me.body.csrfToken } });
  });

  describe('login CSRF', () => {
    const login = { json: { username: 'alice', password: PASSWORDS.alice } };

    it('refuses a login from another Origin (origin_mismatch) or cross-site (cross_site)', async () => {
      const c = h.client();
      const event = await h.refused(c, 'origin_mismatch', 'POST', '/auth/login', { ...login, headers: { origin: EVIL } });
      assert.equal(event.user, undefined);
      await h.refused(c, 'cross_site', 'POST', '/auth/login', { ...login, headers: { 'sec-fetch-site': 'cross-site' } });
      await h.refused(c, 'origin_mismatch', 'POST', '/auth/login', { ...login, headers: { origin: 'null' } });
      await h.refused(c, 'referer_mismatch', 'POST', '/auth/login', { ...login, csrf: false, headers: { referer: `${EVIL}/login` } });
      assert.equal(c.jar.size, 0, 'no session was started');
    });

    it('answers 415 to the bodies a cross-site form can send (text/plain, urlencoded, multipart)', async () => {
      const c = h.client();
      const forms: Array<[string, string]> = [
        ['text/plain', JSON.stringify(login.json)],
        ['application/x-www-form-urlencoded', `username=alice&password=${encodeURIComponent(PASSWORDS.alice)}`],
        ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--x--\r\n`],
      ];
      for (const [type, body] of forms) {
        for (const origin of [h.server.origin, EVIL]) {
          const mark = h.server.events.length;
          const res = await c.request('POST', '/auth/login', { body, headers: { 'content-type': type, origin } });
          assert.equal(res.status, 415, `${type} from ${origin}`);
          assert.equal(res.body.error.code, 'unsupported_media_type');
          assert.deepEqual(res.setCookies, []);
          const events = h.since(mark);
          assert.deepEqual(events.map((e) => e.event.action), ['input_validation_fail']);
          assert.equal(events[0]!.event.reason, 'unsupported_media_type');
        }
      }
      assert.equal(c.jar.size, 0);
    });

    it('accepts a same-origin JSON login', async () => {
      const c = h.client();
      assert.equal((await c.request('POST', '/auth/login', login)).status, 200);
      // A non-browser client sends neither Origin nor Sec-Fetch-Site: allowed.
      assert.equal((await h.client().request('POST', '/auth/login', { ...login, csrf: false })).status, 200);
    });
  });

  it('with bearer off (the default), ignores the Authorization header', async () => {
    const c = await h.loggedIn();
    const access = c.cookie(AT)!;
    const mark = h.server.events.length;
    const headerOnly = await h.client().request('GET', '/api/hello', { headers: { authorization: `Bearer ${access}` } });
    assert.equal(headerOnly.status, 401);
    assert.equal(headerOnly.body.error.code, 'token_invalid');
    assert.equal(h.since(mark, 'authn_token_invalid')[0]?.event.reason, 'missing');
    // A bad header does not spoil a good cookie...
    assert.equal((await c.request('GET', '/api/hello', { headers: { authorization: 'Bearer not.a.token' } })).status, 200);
    // ...and a header cannot lift the CSRF requirement of the cookie session.
    await h.refused(c, 'token_missing', 'POST', '/api/notes', { ...note(), csrf: false, headers: { origin: h.server.origin, authorization: `Bearer ${access}` } });
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(h.server);
  });
});

describe('CSRF with allowedOrigins', () => {
  const FRONT = 'https://front.example';
  const h = useServer({ allowedOrigins: [FRONT] });

  it('lets a configured origin through, and no other: not even the listen address', async () => {
    const c = h.client();
    const login = await c.request('POST', '/auth/login', { json: { username: 'alice', password: PASSWORDS.alice }, headers: { origin: FRONT } });
    assert.equal(login.status, 200);
    const res = await c.request('POST', '/api/notes', { ...note('from front'), headers: { origin: FRONT, 'sec-fetch-site': 'same-site' } });
    assert.equal(res.status, 201);
    // The configured origin still needs the session's token.
    await h.refused(c, 'token_missing', 'POST', '/api/notes', { ...note(), csrf: false, headers: { origin: FRONT } });
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'https://other.example' } });
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: `${FRONT}.evil.example` } });
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'http://front.example' } });
    // Configured origins replace the development fallback: the listen address is refused.
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: h.server.origin } });
  });

  it('never takes the allowed origin from Host or X-Forwarded-Host, which the client writes', async () => {
    const c = h.client();
    assert.equal((await c.request('POST', '/auth/login', { json: { username: 'alice', password: PASSWORDS.alice }, headers: { origin: FRONT } })).status, 200);
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'https://evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    const status = await rawPost(h.server.url, '/auth/login', { host: 'evil.example', origin: 'http://evil.example' });
    assert.equal(status, 403, 'Origin equal to a forged Host is still cross-site');
  });
});

describe('CSRF without configured origins (development): the listen address', () => {
  const h = useServer();

  it('accepts the listen address and localhost on its port, whatever Host says, and nothing else', async () => {
    const port = new URL(h.server.url).port;
    const c = await h.loggedIn();
    assert.equal((await c.request('POST', '/api/notes', { ...note(), headers: { origin: `http://localhost:${port}` } })).status, 201);
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: `https://127.0.0.1:${port}` } });
    await h.refused(c, 'origin_mismatch', 'POST', '/api/notes', { ...note(), headers: { origin: 'http://evil.example', 'x-forwarded-host': 'evil.example' } });
    // A forged Host naming the attacker's origin: before, "Origin equals Host" let this through.
    assert.equal(await rawPost(h.server.url, '/auth/login', { host: 'evil.example', origin: 'http://evil.example' }), 403);
    assert.equal(await rawPost(h.server.url, '/auth/login', { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }), 403);
  });
});

/** A POST with headers fetch will not send (Host): the status only. */
function rawPost(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(path, base);
  const body = JSON.stringify({ username: 'alice', password: 'wrong password' });
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Bearer mode', () => {
  const h = useServer({ bearer: true });

  async function accessToken(c: TestClient): Promise<string> {
    const access = c.cookie(AT);
    assert.ok(access);
    return access;
  }

  it('accepts Authorization: Bearer without cookies and without a CSRF token', async () => {
    const token = await accessToken(await h.loggedIn());
    const api = h.client();
    const hello = await api.request('GET', '/api/hello', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(hello.status, 200);
    assert.equal(hello.body.message, 'Hello, alice.');
    const mark = h.server.events.length;
    const res: TestResponse = await api.request('POST', '/api/notes', { ...note('from a script'), csrf: false, noCookies: true, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { note: { text: 'from a script', author: 'alice' } });
    assert.deepEqual(h.since(mark, 'malicious_csrf'), []);
  });

  it('lets the header win over the cookie: a bad header with a good cookie is 401', async () => {
    const c = await h.loggedIn();
    for (const authorization of ['Bearer not.a.token', 'Bearer ', 'Basic YWxpY2U6eA==', `Bearer ${c.cookie(AT)!}x`]) {
      const mark = h.server.events.length;
      const res = await c.request('GET', '/api/hello', { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.body.error.code, 'token_invalid');
      assert.equal(h.since(mark, 'authn_token_invalid').length, 1);
    }
    const mark = h.server.events.length;
    const post = await c.request('POST', '/api/notes', { ...note(), headers: { authorization: 'Bearer not.a.token' } });
    assert.equal(post.status, 401);
    assert.equal(h.since(mark, 'authn_token_invalid')[0]?.event.reason, 'malformed');
    // A refresh token is not an access token, in a header either.
    const refresh = c.jar.get(RT)!.value;
    const wrong = await h.client().request('GET', '/api/hello', { headers: { authorization: `Bearer ${refresh}` } });
    assert.equal(wrong.status, 401);
    // The cookie alone still works.
    assert.equal((await c.request('GET', '/api/hello')).status, 200);
  });

  it("uses the header's identity when both come, and needs no CSRF token then", async () => {
    const alice = await h.loggedIn();
    const admin = await h.loggedIn('admin');
    const token = await accessToken(admin);
    const me = await alice.request('GET', '/auth/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.name, 'admin');
    const res = await alice.request('POST', '/api/notes', { ...note('as admin'), csrf: false, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 201);
    assert.equal(res.body.note.author, 'admin');
  });

  it('refuses a bearer token of a revoked session', async () => {
    const c = await h.loggedIn();
    const token = await accessToken(c);
    assert.equal((await c.request('POST', '/auth/logout')).status, 204);
    const mark = h.server.events.length;
    const res = await h.client().request('GET', '/api/hello', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    // A genuine token of a revoked session: OWASP's authn_token_reuse, not a mere invalid token.
    assert.equal(h.since(mark, 'authn_token_reuse')[0]?.event.reason, 'revoked');
    assert.deepEqual(h.since(mark, 'authn_token_invalid'), []);
  });

  it('still requires the CSRF token of cookie sessions', async () => {
    const c = await h.loggedIn();
    await h.refused(c, 'token_missing', 'POST', '/api/notes', { ...note(), csrf: false, headers: { origin: h.server.origin } });
    assert.equal((await c.request('POST', '/api/notes', note())).status, 201);
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(h.server);
  });
});
