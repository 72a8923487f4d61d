import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { createMemoryStore, type SessionStore } from '../../src/session/store.js';
import { PASSWORDS, startTestServer, type TestClient, type TestResponse, type TestServer } from '../support/http-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Anything that looks like a stack frame or a path on the server. */
const LEAK = /\bat \S+ \(|\bat (file:|node:|\/)|\/work\/|node_modules|\.[cm]?[jt]s:\d+|Error:/;
const JSON_TYPE = { 'content-type': 'application/json' };

/** Every error response: `{ error: { code, message } }` and nothing else, no stack, and the security headers. */
function assertError(res: TestResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body ?? {}), ['error'], res.text);
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message'], res.text);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
  assert.doesNotMatch(res.text, LEAK);
  assertSecurityHeaders(res);
}

function assertSecurityHeaders(res: TestResponse): void {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.match(res.headers.get('x-request-id') ?? '', /\S/);
}

describe('input handling over HTTP', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    // Generous throttle: this file sends many failed logins from one address on purpose.
    const open = { freeAttempts: 10_000, baseDelayMs: 1, maxDelayMs: 1, windowMs: 1 };
    server = await startTestServer({ session: { throttle: { account_source: open, account: open, source: open } } });
    client = server.client();
  });
  after(() => server.close());

  /** A login request with a raw body and a request id to find its events by. */
  const post = (path: string, body: string | Buffer, headers: Record<string, string>, requestId?: string): Promise<TestResponse> =>
    client.request('POST', path, { body, headers: { ...headers, ...(requestId ? { 'x-request-id': requestId } : {}) } });
  const eventsFor = (requestId: string): SecurityEvent[] => server.events.filter((event) => event.http?.request?.id === requestId);

  function assertInputEvent(requestId: string, reason: string, status: number): void {
    const events = eventsFor(requestId).filter((event) => event.event.action === 'input_validation_fail');
    assert.equal(events.length, 1, `one input_validation_fail for ${requestId}`);
    const [event] = events;
    assert.equal(event!.event.reason, reason);
    assert.equal(event!.http?.response?.status_code, status);
    assert.equal(event!.url?.path, '/auth/login');
    assert.match(event!.source?.ip ?? '', /127\.0\.0\.1/);
  }

  describe('body parsing', () => {
    it('refuses a body that is not JSON but claims to be: 400 invalid_json, input_validation_fail', async () => {
      for (const [i, body] of ['{bad', '{"username": "alice",', 'username=alice&password=x', '\u0000\u0001'].entries()) {
        const id = `bad-json-${i}`;
        assertError(await post('/auth/login', body, JSON_TYPE, id), 400, 'invalid_json');
        assertInputEvent(id, 'invalid_json', 400);
        assert.equal(eventsFor(id).filter((event) => event.event.action === 'authn_login_fail').length, 0);
      }
    });

    it('refuses other media types: 415 unsupported_media_type, input_validation_fail', async () => {
      const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml'];
      for (const [i, type] of types.entries()) {
        const id = `media-${i}`;
        assertError(await post('/auth/login', '{"username":"alice","password":"x"}', { 'content-type': type }, id), 415, 'unsupported_media_type');
        assertInputEvent(id, 'unsupported_media_type', 415);
      }
    });

    it('refuses a body larger than 16 kB: 413 payload_too_large, input_validation_fail', async () => {
      const body = JSON.stringify({ username: 'alice', password: 'x'.repeat(17 * 1024) });
      assertError(await post('/auth/login', body, JSON_TYPE, 'too-large'), 413, 'payload_too_large');
      assertInputEvent('too-large', 'payload_too_large', 413);
      assert.ok(!server.rawLog().includes('x'.repeat(1024)), 'the body is not logged');
    });

    it('answers a JSON array body to login with 401 login_failed', async () => {
      for (const body of ['[]', '["alice","x"]', '[{"username":"alice","password":"x"}]']) {
        assertError(await post('/auth/login', body, JSON_TYPE), 401, 'login_failed');
      }
    });

    it('answers a JSON number or string body to login with 401 login_failed, like any other malformed login', async () => {
      // `42` and `"alice"` are JSON texts (RFC 8259 §2); the login route treats every non-object body as a
      // malformed login (one status, one message for every login failure, ASVS 6.3.8).
      for (const body of ['42', '"alice"', '-1.5e3']) {
        const res = await post('/auth/login', body, JSON_TYPE);
        assert.notEqual(res.status, 500, res.text);
        assertError(res, 401, 'login_failed');
      }
    });

    it('answers a body whose Content-Encoding does not match its bytes with 400 invalid_request, an unknown encoding with 415, never 500', async () => {
      const answers: string[] = [];
      for (const encoding of ['gzip', 'deflate', 'br', 'x-unknown']) {
        const res = await post('/auth/login', '{"username":"alice","password":"x"}', { ...JSON_TYPE, 'content-encoding': encoding });
        answers.push(`${encoding}: ${res.status} ${res.body?.error?.code}`);
      }
      // A known encoding whose bytes do not decode is a bad request; an encoding we do not know, an unsupported body.
      assert.deepEqual(answers, ['gzip: 400 invalid_request', 'deflate: 400 invalid_request', 'br: 400 invalid_request', 'x-unknown: 415 unsupported_media_type']);
    });

    it('does not let __proto__ or constructor.prototype in a body pollute anything (400 or 401, never 500)', async () => {
      const bodies = [
        '{"__proto__":{"username":"alice","password":"x","polluted":true}}',
        '{"username":"alice","password":"x","__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"polluted":true}},"username":"alice","password":"x"}',
        '{"username":{"__proto__":{"toString":"x"}},"password":{"constructor":{"name":"x"}}}',
      ];
      for (const body of bodies) {
        const res = await post('/auth/login', body, JSON_TYPE);
        assert.ok(res.status === 400 || res.status === 401, `${body}: ${res.status} ${res.text}`);
        assertError(res, res.status, res.status === 400 ? 'invalid_json' : 'login_failed');
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
      const ok = await client.login('alice', PASSWORDS.alice);
      assert.equal(ok.status, 200, 'the server still works');
    });

    it('handles deeply nested JSON within the size limit without a 500', async () => {
      const body = `${'['.repeat(8_000)}${']'.repeat(8_000)}`;
      assertError(await post('/auth/login', body, JSON_TYPE), 401, 'login_failed');
    });
  });

  describe('usernames', () => {
    it('refuses control and format characters in usernames with the generic 401, and no log line can be forged', async () => {
      const forged = '{"name":"koa-sentinel-test","level":30,"msg":"forged","event":{"action":"authn_login_success"},"user":{"name":"admin"}}';
      const names = [
        'alice\u0000', 'ali\nce', `x\n${forged}`, `x\r\n${forged}`, '\u001b[31malice\u001b[0m', 'alice\u202e', 'ad\u2028min', 'al\u0085ice', 'tab\tbed',
      ];
      for (const [i, username] of names.entries()) {
        const id = `ctl-${i}`;
        const res = await client.request('POST', '/auth/login', { json: { username, password: 'whatever' }, headers: { 'x-request-id': id } });
        assertError(res, 401, 'login_failed');
        const [fail] = eventsFor(id).filter((event) => event.event.action === 'authn_login_fail');
        assert.equal(fail?.event.reason, 'malformed', JSON.stringify(username));
        assert.equal(fail?.user?.name, undefined, 'an unusable name is logged by shape, not by value');
        assert.deepEqual(fail?.sentinel?.input, { username: `string(${username.length})`, password: 'string(8)' });
      }

      // A valid name that tries to break out of its JSON string is logged, and encoded: it round-trips exactly.
      const breakout = 'x","msg":"forged","user":{"name":"admin"},"y":"\\';
      const res = await client.request('POST', '/auth/login', { json: { username: breakout, password: 'whatever' }, headers: { 'x-request-id': 'breakout' } });
      assertError(res, 401, 'login_failed');
      const logged = server.records.filter((record) => (record.http as { request?: { id?: string } } | undefined)?.request?.id === 'breakout');
      const failures = logged.filter((record) => (record.event as { action?: string } | undefined)?.action === 'authn_login_fail');
      assert.equal(failures.length, 1);
      assert.equal((failures[0]!.user as { name?: string }).name, breakout);
      assert.ok(logged.every((record) => (record.msg ?? record.message) !== 'forged'));

      const raw = server.rawLog();
      assert.ok(raw.endsWith('\n'));
      const lines = raw.slice(0, -1).split('\n');
      for (const line of lines) {
        const record = JSON.parse(line) as unknown;
        assert.equal(typeof record, 'object');
        assert.ok(record !== null && !Array.isArray(record), line);
      }
      assert.equal(lines.length, server.records.length, 'one JSON object per line');
      assert.equal(server.records.filter((record) => (record.msg ?? record.message) === 'forged').length, 0, 'no forged record');
      const rawControl = [...raw].filter((char) => char !== '\n' && (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f));
      assert.deepEqual(rawControl, [], 'no raw control characters reach the log (JSON escapes them)');
    });

    it('logs in with a unicode username, composed or decomposed (NFC)', async () => {
      const composed = await server.client().login('zoë', PASSWORDS['zoë']);
      assert.equal(composed.status, 200, composed.text);
      assert.equal(composed.body.user.name, 'zoë');
      const decomposed = await server.client().login('zoe\u0308', PASSWORDS['zoë']);
      assert.equal(decomposed.status, 200, decomposed.text);
      assert.equal(decomposed.body.user.name, 'zoë');
      assert.equal(decomposed.body.user.id, 'u_zoe');
    });

    it('answers a 10 kB username (and a 2 kB password) with the generic 401', async () => {
      assertError(await client.login('a'.repeat(10 * 1024), 'whatever'), 401, 'login_failed');
      assertError(await client.login('alice', 'p'.repeat(2 * 1024)), 401, 'login_failed');
      assert.ok(!server.rawLog().includes('a'.repeat(200)), 'the long name is not logged');
    });
  });

  describe('routes and errors', () => {
    it('answers an unknown route with a JSON 404', async () => {
      for (const path of ['/nope', '/auth/nope', '/api/../../etc/passwd', '/%2e%2e/nope' /* the URL parser resolves it to /nope; plain /%2e%2e would be the page at / */, '/api/hello/extra']) {
        assertError(await client.request('GET', path), 404, 'not_found');
      }
    });

    it('answers a wrong method on a route with a JSON 405', async () => {
      const cases: Array<[string, string]> = [['GET', '/auth/login'], ['PUT', '/auth/login'], ['DELETE', '/auth/refresh'], ['POST', '/healthz'], ['DELETE', '/api/hello']];
      for (const [method, path] of cases) {
        // A fresh client: no session cookie, so no CSRF token is needed to reach the router.
        assertError(await server.client().request(method, path), 405, 'method_not_allowed');
      }
    });

    it('answers GET /healthz with 200 and the security headers', async () => {
      const res = await client.request('GET', '/healthz');
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'ok');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assertSecurityHeaders(res);
    });

    it('answers a broken store with a generic 503 that carries no detail, and logs the cause on the server', async () => {
      const broken = brokenStore(new Error('connect ECONNREFUSED /var/run/redis/secret-host.sock'));
      const local = await startTestServer({ session: { store: broken } });
      try {
        const res = await local.client().login('alice', PASSWORDS.alice);
        assertError(res, 503, 'store_unavailable');
        assert.equal(res.body.error.message, 'The session service is temporarily unavailable.');
        assert.ok(!res.text.includes('ECONNREFUSED'));
        const failed = local.records.find((record) => (record.msg ?? record.message) === 'request failed');
        assert.ok(failed, 'a 5xx is logged');
        assert.match(JSON.stringify(failed.err), /ECONNREFUSED/, `the log keeps the cause for the operator: ${JSON.stringify(failed.err)}`);
      } finally {
        await local.close();
      }
    });
  });

  describe('X-Request-Id', () => {
    it('echoes a valid request id and puts it on the events', async () => {
      const id = 'req-42.abc:DEF_9';
      const res = await client.request('POST', '/auth/login', { json: { username: 'nobody', password: 'x' }, headers: { 'x-request-id': id } });
      assert.equal(res.headers.get('x-request-id'), id);
      assert.equal(eventsFor(id).length, 1);
    });

    it('replaces an unsafe or oversized request id with a fresh UUID', async () => {
      const unsafe = ['a b', 'a"b', '{"x":1}', '<script>', '../../etc/passwd', 'a'.repeat(129), 'a'.repeat(300), 'é'];
      const seen = new Set<string>();
      for (const id of unsafe) {
        const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': id } });
        await res.text();
        const echoed = res.headers.get('x-request-id') ?? '';
        assert.match(echoed, UUID, JSON.stringify(id));
        seen.add(echoed);
      }
      assert.equal(seen.size, unsafe.length, 'a fresh id every time');
      const kept = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'a'.repeat(128) } });
      assert.equal(kept.headers.get('x-request-id'), 'a'.repeat(128));
    });

    it('never lets a request id with a line break reach the app or the log', async () => {
      const before = server.rawLog().length;
      const response = await rawRequest(server.url, 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: a\nb\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      assert.match(response, /^HTTP\/1\.1 400 /);
      assert.doesNotMatch(response, /x-request-id: a/i);
      const logged = server.rawLog().slice(before);
      assert.ok(!logged.includes('"a\\nb"') && !logged.includes('a\nb'));
    });
  });
});

/** Sends bytes as they are (fetch and http.request refuse to), and returns the whole response text. */
function rawRequest(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let response = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      response += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(response));
  });
}

/** A store whose every call fails, as a Redis that went away would. */
function brokenStore(error: Error): SessionStore {
  const memory = createMemoryStore();
  const fail = async (): Promise<never> => {
    throw error;
  };
  return {
    createFamily: fail,
    rotateFamily: fail,
    revokeFamily: fail,
    revokeUser: fail,
    revokeAll: fail,
    listFamilies: fail,
    touchFamily: fail,
    isSessionActive: fail,
    takeAttempt: fail,
    returnAttempt: fail,
    getFailures: fail,
    clearFailures: fail,
    close: () => memory.close(),
  };
}
