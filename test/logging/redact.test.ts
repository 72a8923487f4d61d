import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { REDACTED, redact, redactString } from '../../src/logging/redact.js';

/** A real HS256 token, as our key ring would issue it. */
const TOKEN = jwt.sign({ sub: 'u_alice', typ: 'access' }, randomBytes(32), { algorithm: 'HS256', expiresIn: 60 });
/** An unsigned token (alg none): header.payload. with an empty signature part. */
const UNSIGNED = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`;

/** Every string anywhere in `value`, for "no secret survives" checks. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(strings);
}

/** Depth of nested objects/arrays (a scalar is 0). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

describe('redact: secrets by key name', () => {
  it('redacts authorization, cookie, set-cookie, password, token, api keys and CSRF tokens at any depth', () => {
    const input = {
      headers: {
        authorization: 'Bearer abc.def.ghi-opaque',
        'proxy-authorization': 'Basic dXNlcjpwYXNz',
        cookie: '__Host-sentinel_at=opaque-value',
        'set-cookie': ['a=1; HttpOnly', 'b=2; Secure'],
        'x-csrf-token': 'csrf-value',
        'x-api-key': 'key-value',
        accept: 'application/json',
      },
      body: { user: { name: 'alice', password: 'hunter2', credentials: { passwd: 'p', pass: 'q', secret: 's' } } },
      oauth: [{ access_token: 'a', refresh_token: 'r', id_token: 'i', client_secret: 'c', token: 't', jwt: 'j' }],
      deeper: { a: { b: { c: { d: { e: { api_key: 'k1', 'api-key': 'k2', apikey: 'k3', csrf_token: 'c1', csrftoken: 'c2' } } } } } },
    };
    const out = redact(input) as typeof input;
    assert.equal(out.headers.authorization, REDACTED);
    assert.equal(out.headers['proxy-authorization'], REDACTED);
    assert.equal(out.headers.cookie, REDACTED);
    assert.equal(out.headers['set-cookie'], REDACTED, 'an array under a secret key is redacted whole');
    assert.equal(out.headers['x-csrf-token'], REDACTED);
    assert.equal(out.headers['x-api-key'], REDACTED);
    assert.equal(out.headers.accept, 'application/json');
    assert.equal(out.body.user.name, 'alice');
    assert.equal(out.body.user.password, REDACTED);
    assert.deepEqual(out.body.user.credentials, { passwd: REDACTED, pass: REDACTED, secret: REDACTED });
    assert.deepEqual(out.oauth, [{ access_token: REDACTED, refresh_token: REDACTED, id_token: REDACTED, client_secret: REDACTED, token: REDACTED, jwt: REDACTED }]);
    assert.deepEqual(out.deeper.a.b.c.d.e, { api_key: REDACTED, 'api-key': REDACTED, apikey: REDACTED, csrf_token: REDACTED, csrftoken: REDACTED });
  });

  it('matches key names case-insensitively (HTTP header casing varies)', () => {
    const out = redact({ Authorization: 'x', COOKIE: 'y', 'Set-Cookie': 'z', Password: 'p', 'X-CSRF-Token': 'c', ApiKey: 'k' });
    assert.deepEqual(out, { Authorization: REDACTED, COOKIE: REDACTED, 'Set-Cookie': REDACTED, Password: REDACTED, 'X-CSRF-Token': REDACTED, ApiKey: REDACTED });
  });

  it('redacts an object or number under a secret key whole, but leaves absent values visible as absent', () => {
    const out = redact({ password: { hash: 'h', salt: 's' }, token: 12345, cookie: '', authorization: null, secret: undefined }) as Record<string, unknown>;
    assert.equal(out.password, REDACTED);
    assert.equal(out.token, REDACTED);
    assert.equal(out.cookie, '');
    assert.equal(out.authorization, null);
    assert.ok('secret' in out);
    assert.equal(out.secret, undefined);
  });

  it('does not redact keys that merely contain a secret word (they are checked by value shape instead)', () => {
    const out = redact({ password_policy: 'min 12', tokens_issued: 3, cookie_consent: true, user: 'token-holder' });
    assert.deepEqual(out, { password_policy: 'min 12', tokens_issued: 3, cookie_consent: true, user: 'token-holder' });
  });

  // The list accepts api_key/apiKey and csrf_token/csrfToken, so the camelCase spelling of the other token and
  // secret names (what JavaScript clients send in JSON bodies) must be caught too.
  it('redacts camelCase spellings of token and secret keys (accessToken, refreshToken, idToken, clientSecret)', () => {
    const out = redact({ body: { accessToken: 'opaque-a', refreshToken: 'opaque-r', idToken: 'opaque-i', clientSecret: 'opaque-c' } });
    assert.deepEqual(out, { body: { accessToken: REDACTED, refreshToken: REDACTED, idToken: REDACTED, clientSecret: REDACTED } });
  });
});

describe('redact: secrets by value shape', () => {
  it('replaces a JWT inside any string, under any key, at any depth', () => {
    const input = {
      message: `verify failed for ${TOKEN} (expired)`,
      url: { full: `https://app.example/cb?id_token_hint=${TOKEN}&x=1` },
      list: ['plain', `t=${UNSIGNED}`],
      error: { message: `jwt malformed: ${TOKEN}` },
    };
    const out = redact(input) as typeof input;
    assert.equal(out.message, 'verify failed for [REDACTED:jwt] (expired)');
    assert.equal(out.url.full, 'https://app.example/cb?id_token_hint=[REDACTED:jwt]&x=1');
    assert.deepEqual(out.list, ['plain', 't=[REDACTED:jwt]']);
    assert.equal(out.error.message, 'jwt malformed: [REDACTED:jwt]');
    for (const text of strings(out)) assert.ok(!text.includes(TOKEN.split('.')[1]!), text);
  });

  it('replaces several JWTs in one string', () => {
    assert.equal(redactString(`${TOKEN} and ${TOKEN}`), '[REDACTED:jwt] and [REDACTED:jwt]');
  });

  it('replaces Bearer and Basic credentials, keeping the scheme so the log still says what was sent', () => {
    const basic = Buffer.from('alice:correct horse battery staple').toString('base64');
    assert.equal(redactString('header was Bearer 0123456789abcdefOPAQUE_token~+/= then more'), `header was Bearer ${REDACTED} then more`);
    assert.equal(redactString(`Authorization: Basic ${basic}`), `Authorization: Basic ${REDACTED}`);
    assert.equal(redactString('bearer abcdefgh12345678'), `bearer ${REDACTED}`);
    assert.equal(redactString(`Bearer ${TOKEN}`), 'Bearer [REDACTED:jwt]');
    const out = redact({ note: ['upstream said', { detail: `Basic ${basic}` }] });
    assert.deepEqual(out, { note: ['upstream said', { detail: `Basic ${REDACTED}` }] });
  });

  it('leaves ordinary strings and short words after "basic" alone', () => {
    for (const text of ['GET /api/hello 200', 'a basic user', 'Bearer abc', 'eyJ alone is not a token', '']) {
      assert.equal(redactString(text), text);
    }
  });

  it('passes numbers, booleans, null, undefined and Dates through', () => {
    const when = new Date('2026-01-01T00:00:00Z');
    const out = redact({ n: 1, b: false, z: null, u: undefined, when, list: [1, true, null] }) as Record<string, unknown>;
    assert.deepEqual(out, { n: 1, b: false, z: null, u: undefined, when, list: [1, true, null] });
    assert.equal(out.when, when);
    assert.equal(redact(42), 42);
    assert.equal(redact(null), null);
  });
});

describe('redact: safety', () => {
  it('never modifies its input', () => {
    const input = {
      headers: { authorization: `Bearer ${TOKEN}`, cookie: 'a=b' },
      body: { password: 'hunter2', nested: [{ token: 'x', text: `jwt ${TOKEN}` }] },
      when: new Date(0),
    };
    const before = structuredClone(input);
    const out = redact(input);
    assert.deepEqual(input, before);
    assert.notEqual(out, input);
    assert.notEqual((out as typeof input).body, input.body);
  });

  it('terminates on a cycle with a bounded result', () => {
    const node: Record<string, unknown> = { name: 'loop', authorization: 'Bearer 0123456789abcdef' };
    node.self = node;
    node.list = [node];
    const out = redact(node) as Record<string, unknown>;
    assert.equal(out.name, 'loop');
    assert.equal(out.authorization, REDACTED);
    assert.ok(depthOf(out) <= 13, `depth ${depthOf(out)}`);
    assert.ok(JSON.stringify(out).includes('[TRUNCATED]'));
    assert.doesNotThrow(() => JSON.stringify(out), 'the result has no cycle left');
  });

  it('truncates very deep objects instead of overflowing the stack', () => {
    let deep: Record<string, unknown> = { leaf: `Bearer ${'x'.repeat(20)}` };
    for (let i = 0; i < 100_000; i += 1) deep = { child: deep };
    const out = redact(deep);
    assert.ok(depthOf(out) <= 13, `depth ${depthOf(out)}`);
    assert.ok(JSON.stringify(out).includes('[TRUNCATED]'));
  });

  it('keeps secrets out even just below the depth bound', () => {
    let value: Record<string, unknown> = { password: 'deep-secret', text: `Bearer ${'s'.repeat(16)}` };
    for (let i = 0; i < 10; i += 1) value = { level: value };
    const text = JSON.stringify(redact(value));
    assert.ok(!text.includes('deep-secret'), text);
    assert.ok(!text.includes('s'.repeat(16)), text);
  });
});

describe('redact: credentials in other spellings', () => {
  it('redacts an Elasticsearch ApiKey authorization value inside any string', () => {
    const key = randomBytes(30).toString('base64');
    const out = redactString(`request failed with Authorization: ApiKey ${key} (401)`);
    assert.ok(!out.includes(key), out);
    assert.match(out, /ApiKey \[REDACTED\]/);
  });

  it('redacts a JWT whose dots were percent-encoded (a token copied out of a URL)', () => {
    const token = jwt.sign({ sub: 'alice' }, randomBytes(32), { algorithm: 'HS256' });
    const encoded = token.replaceAll('.', '%2E');
    const out = redactString(`GET /callback?token=${encoded}`);
    assert.ok(!out.includes(encoded.split('%2E')[2]!), out);
    assert.match(out, /\[REDACTED:jwt\]/);
  });
});
