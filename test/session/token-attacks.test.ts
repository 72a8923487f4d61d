/**
 * Every token case of the security requirements ("Tokens" section, ASVS 9.1.1-9.2.3, the OWASP JWT cheat sheet and
 * RFC 8725), played against the running server over HTTP. Each forged token travels in the access cookie to a
 * protected route; each test asserts the response the client sees (401, a generic body), the security event that
 * security staff see (`authn_token_invalid` and its `event.reason`), and that no token ever reaches a log line.
 *
 * Timestamps are forged against a fixed server clock, so nothing here sleeps or depends on the second ticking.
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { generateKey } from '../../src/session/key-ring.js';
import { createMemoryStore } from '../../src/session/store.js';
import type { TokenClaims } from '../../src/session/tokens.js';
import { PASSWORDS, startTestServer, TestClient, type TestServer, type TestServerOptions } from '../support/http-server.js';

const ACCESS_COOKIE = '__Host-sentinel_at';
const REFRESH_COOKIE = '__Secure-sentinel_rt';
const ISSUER = 'koa-sentinel';
const AUDIENCE = 'koa-sentinel-api';
/** The servers' fixed clock: the current second, so forged iat/exp are realistic for any library that peeks. */
const T0_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = T0_MS / 1000;

type Alg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// Forging

function encode(part: unknown): string {
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
}

function decodePart(token: string, index: 0 | 1): Json {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Json;
}

/** Signs `header.payload` by hand, so a test controls every byte: the header says what it likes, the key decides. */
/** The order of P-256 (SEC 2 §2.4.2): (r, s) and (r, n - s) are both valid ECDSA signatures of one message. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** An ES256 JWS signature (r || s) with s in its low (s <= n/2) or high half; the other spelling of the same signature. */
function withS(signature: Buffer, half: 'low' | 'high'): Buffer {
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  const isLow = s <= P256_N / 2n;
  if (isLow === (half === 'low')) return signature;
  return Buffer.concat([signature.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')]);
}

function sign(alg: Alg, header: unknown, payload: unknown, key: KeyObject | Buffer | string): string {
  const input = `${encode(header)}.${encode(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  switch (alg) {
    case 'HS256':
      signature = createHmac('sha256', key).update(input).digest();
      break;
    case 'RS256':
      signature = cryptoSign('sha256', data, key as KeyObject);
      break;
    case 'ES256':
      // The low-s form, as the server signs and requires (a random signature has a high s half the time).
      signature = withS(cryptoSign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }), 'low');
      break;
    case 'EdDSA':
      signature = cryptoSign(null, data, key as KeyObject);
      break;
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** A live session to forge against: its real tokens and the claims a forged token must copy to pass the store. */
interface Session {
  client: TestClient;
  access: string;
  refresh: string;
  claims: TokenClaims;
}

async function login(server: TestServer, user: keyof typeof PASSWORDS = 'alice'): Promise<Session> {
  const client = server.client();
  const res = await client.login(user, PASSWORDS[user]);
  assert.equal(res.status, 200, `login of ${user}`);
  const access = client.cookie(ACCESS_COOKIE);
  const refresh = client.cookie(REFRESH_COOKIE);
  assert.ok(access && refresh, 'login sets both token cookies');
  return { client, access, refresh, claims: decodePart(access, 1) as unknown as TokenClaims };
}

/** Claims of a correct access token for `session`; `overrides` replace them, and `undefined` removes one. */
function accessClaims(session: Session, overrides: Json = {}): Json {
  // cfp: the session's credential fingerprint, copied from the token the server issued (forging it is not the point).
  const { sub, sid, name, roles, cfp } = session.claims;
  return {
    iss: ISSUER, aud: AUDIENCE, sub, iat: NOW, exp: NOW + 600, jti: randomUUID(), token_use: 'access', sid, name, roles, cfp,
    ...overrides,
  };
}

function accessHeader(kid: string, alg: string = 'HS256', overrides: Json = {}): Json {
  return { alg, typ: 'at+jwt', kid, ...overrides };
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the server, and watching what it records

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  setCookies: string[];
}

/**
 * Wraps a test server: sends cookies, remembers every token value it sent, and checks after each exchange that
 * neither an event nor a log line holds one (ASVS 16.2.5: never log tokens).
 */
class Probe {
  private readonly sent = new Set<string>();

  constructor(readonly server: TestServer) {}

  /** Marks a value as secret: it, and each of its long dot-separated parts, must never be logged. */
  remember(value: string): void {
    for (const piece of [value, ...value.split('.')]) if (piece.length >= 16) this.sent.add(piece);
  }

  at(token: string): string {
    this.remember(token);
    return `${ACCESS_COOKIE}=${token}`;
  }

  rt(token: string): string {
    this.remember(token);
    return `${REFRESH_COOKIE}=${token}`;
  }

  async send(method: string, path: string, cookie: string | undefined, headers: Record<string, string> = {}): Promise<Reply> {
    const all: Record<string, string> = { ...headers };
    if (cookie !== undefined) all.cookie = cookie;
    if (method !== 'GET') all.origin = this.server.url;
    const response = await fetch(`${this.server.url}${path}`, { method, headers: all });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined, setCookies: response.headers.getSetCookie() };
  }

  /** GETs `path` with `cookie` and asserts a generic 401 and exactly one authn_token_invalid event with `reason`. */
  async rejects(cookie: string | undefined, reason: string, code: 'token_invalid' | 'token_expired' = 'token_invalid', path = '/api/hello'): Promise<SecurityEvent> {
    const from = this.server.events.length;
    const res = await this.send('GET', path, cookie);
    return this.assertRejected(res, from, reason, code, path, 'access');
  }

  assertRejected(res: Reply, from: number, reason: string, code: 'token_invalid' | 'token_expired', path: string, tokenType: 'access' | 'refresh'): SecurityEvent {
    assert.equal(res.status, 401, `expected 401 for ${reason}`);
    // The client learns "invalid" or "expired" and nothing of the reason (errors.ts).
    assert.deepEqual(res.body, { error: { code, message: ERROR_CODES[code].message } });
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="koa-sentinel"');
    const events = this.server.events.slice(from);
    // A genuine token of a revoked session is a dead credential coming back: OWASP's authn_token_reuse, an alarm.
    const reuse = reason === 'revoked';
    assert.deepEqual(events.map((e) => [e.event.action, e.event.reason]), [[reuse ? 'authn_token_reuse' : 'authn_token_invalid', reason]]);
    const event = events[0]!;
    assert.equal(event.event.outcome, 'failure');
    assert.deepEqual(event.event.category, reuse ? ['authentication', 'intrusion_detection'] : ['authentication']);
    assert.equal(event.http?.response?.status_code, 401);
    assert.equal(event.url?.path, path);
    assert.equal(event.sentinel?.token_type, tokenType);
    // A refused access token names no user; a revoked refresh family names its owner (the store knows it).
    if (!(reuse && tokenType === 'refresh')) assert.equal(event.user, undefined, 'a refused token names no user');
    const record = this.server.records.find((r) => (r.event as { id?: string } | undefined)?.id === event.event.id);
    assert.ok(record, 'the event is logged');
    assert.equal((record.event as { reason?: string }).reason, reason);
    assert.equal(record.level, reuse ? 50 : 40, reuse ? 'logged at error' : 'logged at warn');
    this.assertNothingLogged();
    return event;
  }

  /** GETs `path` with `cookie` and asserts success and no token event. */
  async accepts(cookie: string, expectedName = 'alice', path = '/api/hello'): Promise<void> {
    const from = this.server.events.length;
    const res = await this.send('GET', path, cookie);
    assert.equal(res.status, 200, `expected 200, got ${res.status} ${JSON.stringify(res.body)}`);
    if (path === '/api/hello') assert.deepEqual(res.body, { message: `Hello, ${expectedName}.` });
    assert.deepEqual(this.server.events.slice(from).map((e) => e.event.action), []);
    this.assertNothingLogged();
  }

  assertNothingLogged(): void {
    const haystack = `${JSON.stringify(this.server.events)}\n${this.server.rawLog()}`;
    for (const secret of this.sent) {
      assert.ok(!haystack.includes(secret), `token material was logged: ${secret.slice(0, 24)}...`);
    }
  }
}

/** Logs in and marks the session's real tokens (and CSRF token) as never-to-be-logged. */
async function liveSession(probe: Probe, user: keyof typeof PASSWORDS = 'alice'): Promise<Session> {
  const session = await login(probe.server, user);
  probe.remember(session.access);
  probe.remember(session.refresh);
  const csrf = session.client.cookie('__Host-sentinel_csrf');
  if (csrf) probe.remember(csrf);
  return session;
}

/** Sends raw bytes, for what fetch cannot do: two Cookie header lines in one request. */
function rawRequest(server: TestServer, head: string): Promise<{ status: number; body: unknown }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(head));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, body: body ? JSON.parse(body) : undefined });
    });
  });
}

async function startAt(options: TestServerOptions = {}): Promise<TestServer> {
  return startTestServer({ ...options, session: { now: () => T0_MS, ...options.session } });
}

// ---------------------------------------------------------------------------------------------------------------

describe('token attacks against the HS256 server (kid test-1)', () => {
  let server: TestServer;
  let probe: Probe;
  let alice: Session;
  /** Signs with the server's own key: a token the server must accept unless the test changes something. */
  let forge: (overrides?: Json, header?: Json) => string;

  before(async () => {
    server = await startAt();
    probe = new Probe(server);
    alice = await liveSession(probe);
    forge = (overrides = {}, header = accessHeader('test-1')) => sign('HS256', header, accessClaims(alice, overrides), server.secret);
  });
  after(() => server.close());

  describe('controls', () => {
    it('accepts the access token the server issued, and the token has the documented shape', async () => {
      assert.deepEqual(decodePart(alice.access, 0), { alg: 'HS256', typ: 'at+jwt', kid: 'test-1' });
      const claims = decodePart(alice.access, 1);
      assert.deepEqual(Object.keys(claims).sort(), ['aud', 'cfp', 'exp', 'iat', 'iss', 'jti', 'name', 'roles', 'sid', 'sub', 'token_use']);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, AUDIENCE);
      assert.equal(claims.token_use, 'access');
      assert.equal(claims.sub, 'u_alice');
      assert.equal(claims.iat, NOW);
      assert.equal(claims.exp, NOW + 15 * 60);
      assert.deepEqual(decodePart(alice.refresh, 0), { alg: 'HS256', typ: 'rt+jwt', kid: 'test-1' });
      await probe.accepts(probe.at(alice.access));
    });

    it('accepts a hand-forged token signed with the right key (so every refusal below is about the change made)', async () => {
      await probe.accepts(probe.at(forge()));
      const quoted = forge();
      probe.remember(quoted);
      await probe.accepts(`${ACCESS_COOKIE}="${quoted}"`);
      await probe.accepts(`theme=dark; ${probe.at(forge())}; lang=en`);
    });

    it('answers a request without any token with 401 missing', async () => {
      await probe.rejects(undefined, 'missing');
      await probe.rejects('theme=dark', 'missing');
    });
  });

  describe('algorithm', () => {
    it('refuses alg "none" with an empty signature part', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const unsigned = `${encode(accessHeader('test-1', alg))}.${encode(accessClaims(alice))}.`;
        await probe.rejects(probe.at(unsigned), 'malformed');
      }
    });

    it('refuses alg "none" with a signature part, with or without a kid', async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        const header = accessHeader('test-1', alg);
        const payload = accessClaims(alice);
        // The signature an HS256 token would carry, and some bytes: neither makes "none" acceptable.
        const hmac = sign('HS256', header, payload, server.secret);
        await probe.rejects(probe.at(hmac), 'algorithm');
        await probe.rejects(probe.at(`${encode(header)}.${encode(payload)}.${randomBytes(32).toString('base64url')}`), 'algorithm');
      }
      const noKid = { alg: 'none', typ: 'at+jwt' };
      await probe.rejects(probe.at(`${encode(noKid)}.${encode(accessClaims(alice))}.AAAA`), 'unknown_kid');
      await probe.rejects(probe.at(`${encode(noKid)}.${encode(accessClaims(alice))}.`), 'malformed');
    });

    it('refuses any algorithm other than the key\'s own, even when signed with the key', async () => {
      for (const alg of ['HS384', 'HS512', 'RS256', 'ES256', 'EdDSA', 'hs256', '', 42, null]) {
        const header = { alg, typ: 'at+jwt', kid: 'test-1' };
        await probe.rejects(probe.at(sign('HS256', header, accessClaims(alice), server.secret)), 'algorithm');
      }
      const noAlg = { typ: 'at+jwt', kid: 'test-1' };
      await probe.rejects(probe.at(sign('HS256', noAlg, accessClaims(alice), server.secret)), 'algorithm');
    });
  });

  describe('keys come only from the key ring', () => {
    it('refuses an unknown kid, a missing kid and a kid that is not a string', async () => {
      for (const kid of ['test-2', 'test', 'TEST-1', 'test-1 ', ' test-1', 'test-1\u0000']) {
        await probe.rejects(probe.at(sign('HS256', accessHeader(kid), accessClaims(alice), server.secret)), 'unknown_kid');
      }
      for (const header of [{ alg: 'HS256', typ: 'at+jwt' }, { alg: 'HS256', typ: 'at+jwt', kid: 1 }, { alg: 'HS256', typ: 'at+jwt', kid: null }, { alg: 'HS256', typ: 'at+jwt', kid: ['test-1'] }, { alg: 'HS256', typ: 'at+jwt', kid: { toString: 'test-1' } }]) {
        await probe.rejects(probe.at(sign('HS256', header, accessClaims(alice), server.secret)), 'unknown_kid');
      }
    });

    it('treats an injected kid (path traversal, SQL, prototype names) as an unknown key', async () => {
      const injected = [
        '../../dev/null', '/dev/null', '../../../../../../etc/passwd', 'test-1/../test-1', '..\\..\\windows\\win.ini',
        "' OR '1'='1", "test-1' --", "x' UNION SELECT 'secret' --", 'test-1; DROP TABLE keys',
        '__proto__', 'constructor', 'hasOwnProperty', 'https://attacker.example/key', '|cat /etc/passwd',
      ];
      for (const kid of injected) {
        // Signed three ways an attacker would try: the empty key (/dev/null), the kid itself, and the real key.
        for (const key of [Buffer.alloc(0), kid, server.secret]) {
          await probe.rejects(probe.at(sign('HS256', accessHeader(kid), accessClaims(alice), key)), 'unknown_kid');
        }
      }
    });

    it('refuses jku, jwk, x5u, x5c, x5t and crit headers even on an otherwise valid token', async () => {
      const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      const headers: Json[] = [
        { jku: 'https://attacker.example/jwks.json' },
        { jwk },
        { jwk: { kty: 'oct', k: server.secret.toString('base64url') } },
        { x5u: 'https://attacker.example/cert.pem' },
        { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
        { x5t: 'dGh1bWJwcmludA' },
        { crit: ['exp'] },
      ];
      for (const extra of headers) {
        // Signed with the real key and kid: only the header is wrong.
        await probe.rejects(probe.at(sign('HS256', accessHeader('test-1', 'HS256', extra), accessClaims(alice), server.secret)), 'forbidden_header');
      }
      // The classic: an RS256 token carrying the attacker's own public key, signed with the matching private key.
      const embedded = sign('RS256', { alg: 'RS256', typ: 'at+jwt', jwk }, accessClaims(alice), attacker.privateKey);
      await probe.rejects(probe.at(embedded), 'forbidden_header');
      const fetched = sign('RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'attacker', jku: 'https://attacker.example/jwks.json' }, accessClaims(alice), attacker.privateKey);
      await probe.rejects(probe.at(fetched), 'forbidden_header');
    });
  });

  describe('time claims', () => {
    it('answers token_expired for an expired token with a valid signature', async () => {
      const event = await probe.rejects(probe.at(forge({ iat: NOW - 3600, exp: NOW - 60 })), 'expired', 'token_expired');
      assert.equal(event.event.action, 'authn_token_invalid');
      // exactly at the end of the 5 s tolerance
      await probe.rejects(probe.at(forge({ iat: NOW - 900, exp: NOW - 5 })), 'expired', 'token_expired');
    });

    it('accepts a token expired by less than the 5 s clock tolerance, and no more', async () => {
      await probe.accepts(probe.at(forge({ iat: NOW - 900, exp: NOW - 4 })));
      await probe.accepts(probe.at(forge({ iat: NOW - 900, exp: NOW })));
    });

    it('refuses a token whose nbf is in the future', async () => {
      await probe.rejects(probe.at(forge({ nbf: NOW + 3600 })), 'not_before');
      await probe.rejects(probe.at(forge({ nbf: NOW + 6 })), 'not_before');
      await probe.rejects(probe.at(forge({ nbf: String(NOW) })), 'not_before');
      await probe.rejects(probe.at(forge({ nbf: null })), 'not_before');
      await probe.accepts(probe.at(forge({ nbf: NOW + 5 })));
      await probe.accepts(probe.at(forge({ nbf: NOW - 60 })));
    });

    it('refuses a token issued in the future', async () => {
      await probe.rejects(probe.at(forge({ iat: NOW + 3600, exp: NOW + 4200 })), 'not_before');
      await probe.rejects(probe.at(forge({ iat: NOW + 6 })), 'not_before');
      await probe.accepts(probe.at(forge({ iat: NOW + 5 })));
    });

    it('requires exp and iat as numbers', async () => {
      await probe.rejects(probe.at(forge({ exp: undefined })), 'missing_claim');
      await probe.rejects(probe.at(forge({ exp: null })), 'missing_claim');
      await probe.rejects(probe.at(forge({ exp: String(NOW + 600) })), 'missing_claim');
      await probe.rejects(probe.at(forge({ iat: undefined })), 'missing_claim');
      await probe.rejects(probe.at(forge({ iat: String(NOW) })), 'missing_claim');
    });
  });

  describe('issuer, audience and the other claims', () => {
    it('refuses a wrong or missing issuer', async () => {
      for (const iss of ['evil', 'koa-sentinel ', 'KOA-SENTINEL', '']) {
        await probe.rejects(probe.at(forge({ iss })), iss === '' ? 'missing_claim' : 'wrong_issuer');
      }
      await probe.rejects(probe.at(forge({ iss: undefined })), 'missing_claim');
      await probe.rejects(probe.at(forge({ iss: [ISSUER] })), 'missing_claim');
    });

    it('refuses a wrong or missing audience', async () => {
      for (const aud of ['other-api', 'koa-sentinel', ['other-api'], [], null, undefined, { aud: AUDIENCE }]) {
        await probe.rejects(probe.at(forge({ aud })), 'wrong_audience');
      }
      // An audience array containing ours is valid (RFC 7519 §4.1.3).
      await probe.accepts(probe.at(forge({ aud: ['other-api', AUDIENCE] })));
    });

    it('requires sub, sid, jti and roles', async () => {
      for (const name of ['sub', 'sid', 'jti']) {
        await probe.rejects(probe.at(forge({ [name]: undefined })), 'missing_claim');
        await probe.rejects(probe.at(forge({ [name]: '' })), 'missing_claim');
        await probe.rejects(probe.at(forge({ [name]: 12 })), 'missing_claim');
        await probe.rejects(probe.at(forge({ [name]: 'x'.repeat(257) })), 'missing_claim');
      }
      await probe.rejects(probe.at(forge({ roles: undefined })), 'missing_claim');
      await probe.rejects(probe.at(forge({ roles: 'admin' })), 'missing_claim');
      await probe.rejects(probe.at(forge({ roles: [1] })), 'missing_claim');
    });
  });

  describe('token type', () => {
    it('refuses the real refresh token used as an access token', async () => {
      await probe.rejects(probe.at(alice.refresh), 'wrong_type');
      await probe.rejects(probe.at(alice.refresh), 'wrong_type', 'token_invalid', '/auth/me');
    });

    it('refuses forged tokens whose header typ or payload token_use is not the access type', async () => {
      await probe.rejects(probe.at(forge({ token_use: 'refresh' })), 'wrong_type');
      await probe.rejects(probe.at(forge({ token_use: undefined })), 'wrong_type');
      await probe.rejects(probe.at(forge({ token_use: 'ACCESS' })), 'wrong_type');
      for (const typ of ['rt+jwt', 'JWT', 'at+JWT', 'application/at+jwt+x', undefined]) {
        await probe.rejects(probe.at(forge({}, accessHeader('test-1', 'HS256', { typ }))), 'wrong_type');
      }
    });

    it('refuses an access token in the refresh cookie at POST /auth/refresh, and leaves the session alone', async () => {
      const session = await liveSession(probe);
      const from = server.events.length;
      const res = await probe.send('POST', '/auth/refresh', probe.rt(session.access));
      probe.assertRejected(res, from, 'wrong_type', 'token_invalid', '/auth/refresh', 'refresh');
      assert.deepEqual(res.setCookies, [], 'no new tokens, and nothing cleared');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      // The genuine refresh token still rotates: the refusal revoked nothing.
      const rotated = await session.client.request('POST', '/auth/refresh');
      assert.equal(rotated.status, 200);
      probe.remember(session.client.cookie(ACCESS_COOKIE)!);
      probe.remember(session.client.cookie(REFRESH_COOKIE)!);
    });

    it('refuses a forged refresh token carrying the access type', async () => {
      const from = server.events.length;
      const payload = { ...accessClaims(alice), token_use: 'access' };
      const res = await probe.send('POST', '/auth/refresh', probe.rt(sign('HS256', { alg: 'HS256', typ: 'rt+jwt', kid: 'test-1' }, payload, server.secret)));
      probe.assertRejected(res, from, 'wrong_type', 'token_invalid', '/auth/refresh', 'refresh');
    });
  });

  describe('integrity', () => {
    it('refuses a payload changed after signing (roles: admin) and never reaches the admin route', async () => {
      const [header, , signature] = alice.access.split('.') as [string, string, string];
      const elevated = { ...decodePart(alice.access, 1), roles: ['user', 'admin'] };
      const tampered = `${header}.${encode(elevated)}.${signature}`;
      await probe.rejects(probe.at(tampered), 'bad_signature');
      await probe.rejects(probe.at(tampered), 'bad_signature', 'token_invalid', '/api/admin/stats');
      assert.deepEqual(server.eventsOf('authz_fail'), [], 'the request never got as far as the role check');
      // Other payload edits fail the same way.
      await probe.rejects(probe.at(`${header}.${encode({ ...decodePart(alice.access, 1), sub: 'u_admin' })}.${signature}`), 'bad_signature');
      await probe.rejects(probe.at(`${header}.${encode({ ...decodePart(alice.access, 1), exp: NOW + 86_400 })}.${signature}`), 'bad_signature');
    });

    it('lets alice\'s genuine token reach the admin route only as far as the 403 role check', async () => {
      const from = server.events.length;
      const res = await probe.send('GET', '/api/admin/stats', probe.at(alice.access));
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, { error: { code: 'forbidden', message: ERROR_CODES.forbidden.message } });
      assert.deepEqual(server.events.slice(from).map((e) => e.event.action), ['authz_fail']);
      probe.assertNothingLogged();
    });

    it('refuses a changed or foreign signature', async () => {
      const [header, payload, signature] = alice.access.split('.') as [string, string, string];
      const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
      await probe.rejects(probe.at(`${header}.${payload}.${flipped}`), 'bad_signature');
      // The last character of a 32-byte signature carries 2 unused bits: a non-canonical encoding of the same
      // bytes must not be a second valid spelling of the token.
      const last = signature.at(-1)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
      await probe.rejects(probe.at(`${header}.${payload}.${signature.slice(0, -1)}${twin}`), 'bad_signature');
      await probe.rejects(probe.at(`${header}.${payload}.${signature.slice(0, -2)}`), 'bad_signature');
      await probe.rejects(probe.at(sign('HS256', accessHeader('test-1'), accessClaims(alice), randomBytes(32))), 'bad_signature');
      await probe.rejects(probe.at(`${header}.${payload}.${randomBytes(64).toString('base64url')}`), 'bad_signature');
    });
  });

  describe('malformed and oversized tokens', () => {
    it('refuses tokens that are not three base64url parts', async () => {
      const [header, payload, signature] = alice.access.split('.') as [string, string, string];
      const cases: Array<[string, string]> = [
        ['two parts', `${header}.${payload}`],
        ['four parts', `${alice.access}.${signature}`],
        ['five parts', `${header}.${payload}.${signature}.${header}.${payload}`],
        ['one part', header],
        ['garbage', 'garbage'],
        ['garbage with dots', 'not.a.token'],
        ['only dots', '..'],
        ['three dots', '...'],
        ['empty header', `.${payload}.${signature}`],
        ['empty payload', `${header}..${signature}`],
        ['"!" in the payload', `${header}.${payload.slice(0, 5)}!${payload.slice(5)}.${signature}`],
        ['"=" padding on the signature', `${header}.${payload}.${signature}=`],
        ['"=" padding on the header', `${header}==.${payload}.${signature}`],
        ['standard base64 "+"', `${header}.${payload}.${signature.slice(0, -1)}+`],
        ['standard base64 "/"', `${header}.${payload.slice(0, -1)}/.${signature}`],
        ['percent-encoded', `${header}.${payload}.${signature.slice(0, -1)}%3D`],
        ['space inside', `${header}.${payload} .${signature}`],
      ];
      for (const [label, token] of cases) {
        await probe.rejects(probe.at(token), 'malformed').catch((error: unknown) => {
          throw new Error(`case "${label}": ${(error as Error).message}`);
        });
      }
    });

    it('refuses a header that is not a JSON object', async () => {
      const payload = encode(accessClaims(alice));
      for (const header of ['not json', '{"alg":"HS256"', '[]', '["HS256","test-1"]', 'null', '"HS256"', '42', 'true', '']) {
        const token = header === ''
          ? `.${payload}.AAAA`
          : `${Buffer.from(header).toString('base64url')}.${payload}.${createHmac('sha256', server.secret).update(`${Buffer.from(header).toString('base64url')}.${payload}`).digest('base64url')}`;
        await probe.rejects(probe.at(token), 'malformed');
      }
    });

    it('refuses a correctly signed token whose payload is not a JSON object', async () => {
      for (const payload of ['not json', '[]', 'null', '42', '"a string"']) {
        await probe.rejects(probe.at(sign('HS256', accessHeader('test-1'), payload, server.secret)), 'malformed');
      }
    });

    it('treats an empty access cookie as no token', async () => {
      await probe.rejects(`${ACCESS_COOKIE}=`, 'missing');
      await probe.rejects(`${ACCESS_COOKIE}=""`, 'missing');
      await probe.rejects(`${ACCESS_COOKIE}=  ; theme=dark`, 'missing');
    });

    it('refuses a token over 4096 characters before parsing it, and accepts one of exactly 4096', async () => {
      // Pad a claim of no meaning until the signed token is exactly 4096 characters (not the name: the credential
      // check finds the user by it).
      let exact: string | undefined;
      for (let pad = 2500; pad < 3500 && !exact; pad += 1) {
        for (const jti of ['j', 'jt', 'jti']) {
          const token = forge({ pad: 'a'.repeat(pad), jti });
          if (token.length === 4096) {
            exact = token;
            break;
          }
        }
      }
      assert.ok(exact, 'found a 4096-character token');
      const res = await probe.send('GET', '/api/hello', probe.at(exact));
      assert.equal(res.status, 200);

      const over = forge({ name: 'a'.repeat(3200) });
      assert.ok(over.length > 4096);
      await probe.rejects(probe.at(over), 'oversized');
      await probe.rejects(probe.at('A'.repeat(4097)), 'oversized');
      await probe.rejects(probe.at(`${'A'.repeat(3000)}.${'B'.repeat(3000)}.${'C'.repeat(3000)}`), 'oversized');
      // The access cookie is what is measured, not the whole header: other large cookies do not matter.
      const crowd = Array.from({ length: 60 }, (_, i) => `other${i}=${'b'.repeat(150)}`).join('; ');
      await probe.accepts(`${crowd}; ${probe.at(alice.access)}`);
      await probe.rejects(`${crowd}; ${probe.at('A'.repeat(5000))}`, 'oversized');
    });

    it('refuses a Cookie header beyond the server\'s header limit without touching the session code', async () => {
      const from = server.events.length;
      const huge = `${probe.at(alice.access)}; padding=${'p'.repeat(20_000)}`;
      const res = await probe.send('GET', '/api/hello', huge);
      // Node's HTTP parser answers 431 before Koa runs: nothing authenticates, nothing crashes.
      assert.equal(res.status, 431);
      assert.deepEqual(server.events.slice(from), []);
      const health = await probe.send('GET', '/healthz', undefined);
      assert.equal(health.status, 200);
      probe.assertNothingLogged();
    });
  });

  describe('duplicate access cookies (cookie tossing)', () => {
    it('refuses two access cookies in one Cookie header, whatever they hold', async () => {
      const other = await liveSession(probe, 'admin');
      const valid = probe.at(alice.access);
      const cases = [
        `${valid}; ${valid}`,
        `${valid}; ${probe.at(forge())}`,
        `${probe.at(other.access)}; ${valid}`,
        `${valid}; ${ACCESS_COOKIE}=garbage`,
        `${ACCESS_COOKIE}=garbage; ${valid}`,
        `${valid}; ${ACCESS_COOKIE}=`,
        `theme=dark;${valid};lang=en;${valid}`,
        `${valid}; ${ACCESS_COOKIE} = ${alice.access}`,
        `${valid}; ${ACCESS_COOKIE}="${alice.access}"`,
      ];
      for (const cookie of cases) await probe.rejects(cookie, 'duplicate_cookie');
    });

    it('refuses duplicates spread over two Cookie header lines', async () => {
      const from = server.events.length;
      probe.remember(alice.access);
      const host = new URL(server.url).host;
      const res = await rawRequest(server, [
        'GET /api/hello HTTP/1.1', `Host: ${host}`,
        `Cookie: ${ACCESS_COOKIE}=${alice.access}`, `Cookie: ${ACCESS_COOKIE}=${alice.access}`,
        'Connection: close', '', '',
      ].join('\r\n'));
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, { error: { code: 'token_invalid', message: ERROR_CODES.token_invalid.message } });
      assert.deepEqual(server.events.slice(from).map((e) => [e.event.action, e.event.reason]), [['authn_token_invalid', 'duplicate_cookie']]);
      probe.assertNothingLogged();
    });

    it('does not mistake look-alike names for the access cookie', async () => {
      await probe.accepts(`x${ACCESS_COOKIE}=garbage; ${probe.at(alice.access)}; ${ACCESS_COOKIE}2=garbage; __host-sentinel_at=garbage`);
    });

    it('refuses duplicate refresh cookies at POST /auth/refresh', async () => {
      const session = await liveSession(probe);
      const from = server.events.length;
      const res = await probe.send('POST', '/auth/refresh', `${probe.rt(session.refresh)}; ${probe.rt(session.refresh)}`);
      probe.assertRejected(res, from, 'duplicate_cookie', 'token_invalid', '/auth/refresh', 'refresh');
    });
  });

  it('never logged any token, cookie value or signature it was sent', () => {
    probe.assertNothingLogged();
    assert.ok(server.eventsOf('authn_token_invalid').length > 100);
  });
});

describe('revoked sessions', () => {
  let server: TestServer;
  let probe: Probe;

  before(async () => {
    server = await startAt();
    probe = new Probe(server);
  });
  after(() => server.close());

  it('refuses a valid access token after its session logged out, even though it was verified (and cached) before', async () => {
    const session = await liveSession(probe);
    await probe.accepts(probe.at(session.access));
    const out = await session.client.request('POST', '/auth/logout');
    assert.equal(out.status, 204);
    await probe.rejects(probe.at(session.access), 'revoked');
    // A token forged with the key for the same session is refused too: revocation is server-side.
    await probe.rejects(probe.at(sign('HS256', accessHeader('test-1'), accessClaims(session), server.secret)), 'revoked');
  });

  it('refuses the refresh token of a logged-out session and clears the cookies', async () => {
    const session = await liveSession(probe);
    assert.equal((await session.client.request('POST', '/auth/logout')).status, 204);
    const from = server.events.length;
    const res = await probe.send('POST', '/auth/refresh', probe.rt(session.refresh));
    probe.assertRejected(res, from, 'revoked', 'token_invalid', '/auth/refresh', 'refresh');
    assert.equal(res.setCookies.length, 3);
    assert.ok(res.setCookies.every((line) => /; Max-Age=0;/.test(line)));
  });

  it('refuses every session of a user after log-out-everywhere', async () => {
    const first = await liveSession(probe, 'zoë');
    const second = await liveSession(probe, 'zoë');
    await probe.accepts(probe.at(second.access), 'zoë');
    const res = await first.client.request('POST', '/auth/logout-all');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { revokedSessions: 2 });
    await probe.rejects(probe.at(first.access), 'revoked');
    await probe.rejects(probe.at(second.access), 'revoked');
  });

  it('refuses a key-holder\'s token for a session that does not exist or belongs to someone else', async () => {
    const alice = await liveSession(probe);
    await probe.rejects(probe.at(sign('HS256', accessHeader('test-1'), accessClaims(alice, { sid: randomUUID() }), server.secret)), 'revoked');
    await probe.rejects(probe.at(sign('HS256', accessHeader('test-1'), accessClaims(alice, { sub: 'u_admin', roles: ['user', 'admin'] }), server.secret)), 'revoked');
    await probe.accepts(probe.at(alice.access));
  });
});

describe('HS/RS key confusion against an RS256 server', () => {
  let server: TestServer;
  let probe: Probe;
  let alice: Session;
  const key = generateKey('RS256', 'rs-1');

  before(async () => {
    server = await startAt({ keys: [key] });
    probe = new Probe(server);
    alice = await liveSession(probe);
  });
  after(() => server.close());

  it('issues and accepts RS256 tokens', async () => {
    assert.deepEqual(decodePart(alice.access, 0), { alg: 'RS256', typ: 'at+jwt', kid: 'rs-1' });
    await probe.accepts(probe.at(alice.access));
    await probe.accepts(probe.at(sign('RS256', accessHeader('rs-1', 'RS256'), accessClaims(alice), createPrivateKey(key.privateKey!))));
  });

  it('refuses an HS256 token signed with the public key as the HMAC secret', async () => {
    const pem = key.publicKey!;
    const der = createPrivateKey(key.privateKey!).export({ format: 'der', type: 'pkcs1' });
    for (const secret of [pem, pem.trim(), Buffer.from(pem), der]) {
      await probe.rejects(probe.at(sign('HS256', accessHeader('rs-1', 'HS256'), accessClaims(alice), secret)), 'algorithm');
    }
    // Without a kid there is no key to confuse.
    await probe.rejects(probe.at(sign('HS256', { alg: 'HS256', typ: 'at+jwt' }, accessClaims(alice), pem)), 'unknown_kid');
  });

  it('refuses other algorithms on the RSA key, and RS256 signatures from another key', async () => {
    const priv = createPrivateKey(key.privateKey!);
    for (const alg of ['PS256', 'RS384', 'RS512', 'none', 'ES256']) {
      await probe.rejects(probe.at(sign('RS256', accessHeader('rs-1', alg), accessClaims(alice), priv)), 'algorithm');
    }
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await probe.rejects(probe.at(sign('RS256', accessHeader('rs-1', 'RS256'), accessClaims(alice), other)), 'bad_signature');
    const [header, , signature] = alice.access.split('.') as [string, string, string];
    await probe.rejects(probe.at(`${header}.${encode({ ...decodePart(alice.access, 1), roles: ['admin'] })}.${signature}`), 'bad_signature');
  });
});

describe('key rotation', () => {
  // One store shared by the three generations of servers, as Redis would be.
  const store = createMemoryStore({ now: () => T0_MS });
  const oldKey = generateKey('HS256', 'key-2024');
  const newKey = generateKey('HS256', 'key-2025');
  const servers: TestServer[] = [];
  const secretOf = (input: { secret?: string }): Buffer => Buffer.from(input.secret!.slice('base64url:'.length), 'base64url');

  after(async () => {
    for (const server of servers) await server.close();
  });

  it('keeps accepting tokens signed with the previous key after a new one becomes active', async () => {
    const before = await startAt({ keys: [oldKey], session: { store } });
    const during = await startAt({ keys: [oldKey, newKey], activeKid: 'key-2025', session: { store } });
    const afterwards = await startAt({ keys: [newKey], session: { store } });
    servers.push(before, during, afterwards);
    const oldProbe = new Probe(before);
    const probe = new Probe(during);
    const lastProbe = new Probe(afterwards);

    const old = await liveSession(oldProbe);
    assert.equal(decodePart(old.access, 0).kid, 'key-2024');
    probe.remember(old.access);
    await probe.accepts(probe.at(old.access));
    await probe.accepts(probe.at(sign('HS256', accessHeader('key-2024'), accessClaims(old), secretOf(oldKey))));

    // New logins are signed with the new key, and the old server no longer knows them.
    const fresh = await liveSession(probe);
    assert.equal(decodePart(fresh.access, 0).kid, 'key-2025');
    await probe.accepts(probe.at(fresh.access));
    oldProbe.remember(fresh.access);
    await oldProbe.rejects(oldProbe.at(fresh.access), 'unknown_kid');

    // Each kid verifies only with its own key.
    await probe.rejects(probe.at(sign('HS256', accessHeader('key-2024'), accessClaims(old), secretOf(newKey))), 'bad_signature');
    await probe.rejects(probe.at(sign('HS256', accessHeader('key-2025'), accessClaims(old), secretOf(oldKey))), 'bad_signature');

    // Once the old key leaves the ring, its tokens are unknown.
    lastProbe.remember(old.access);
    await lastProbe.rejects(lastProbe.at(old.access), 'unknown_kid');
    await lastProbe.accepts(lastProbe.at(fresh.access));
  });
});

for (const alg of ['EdDSA', 'ES256'] as const) {
  describe(`${alg} key ring`, () => {
    let server: TestServer;
    let probe: Probe;
    let alice: Session;
    const key = generateKey(alg, alg === 'EdDSA' ? 'ed-1' : 'es-1');

    before(async () => {
      server = await startAt({ keys: [key] });
      probe = new Probe(server);
      alice = await liveSession(probe);
    });
    after(() => server.close());

    it(`issues ${alg} tokens that work for the API, /auth/me and refresh`, async () => {
      assert.deepEqual(decodePart(alice.access, 0), { alg, typ: 'at+jwt', kid: key.kid });
      assert.deepEqual(decodePart(alice.refresh, 0), { alg, typ: 'rt+jwt', kid: key.kid });
      await probe.accepts(probe.at(alice.access));
      const me = await alice.client.request('GET', '/auth/me');
      assert.equal(me.status, 200);
      assert.equal(me.body.user.name, 'alice');
      const refreshed = await alice.client.request('POST', '/auth/refresh');
      assert.equal(refreshed.status, 200);
      const next = alice.client.cookie(ACCESS_COOKIE)!;
      probe.remember(next);
      probe.remember(alice.client.cookie(REFRESH_COOKIE)!);
      assert.notEqual(next, alice.access);
      await probe.accepts(probe.at(next));
      await probe.accepts(probe.at(sign(alg, accessHeader(key.kid, alg), accessClaims(alice), createPrivateKey(key.privateKey!))));
    });

    it('refuses tampering, foreign keys, other algorithms and the public key used as an HMAC secret', async () => {
      const [header, payload, signature] = alice.access.split('.') as [string, string, string];
      await probe.rejects(probe.at(`${header}.${encode({ ...decodePart(alice.access, 1), roles: ['user', 'admin'] })}.${signature}`), 'bad_signature');
      await probe.rejects(probe.at(`${header}.${payload}.${randomBytes(64).toString('base64url')}`), 'bad_signature');
      const foreign = alg === 'EdDSA' ? generateKeyPairSync('ed25519').privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      await probe.rejects(probe.at(sign(alg, accessHeader(key.kid, alg), accessClaims(alice), foreign)), 'bad_signature');
      await probe.rejects(probe.at(sign('HS256', accessHeader(key.kid, 'HS256'), accessClaims(alice), key.publicKey!)), 'algorithm');
      await probe.rejects(probe.at(`${encode(accessHeader(key.kid, 'none'))}.${payload}.${signature}`), 'algorithm');
      await probe.rejects(probe.at(sign(alg, accessHeader(key.kid, alg), accessClaims(alice, { iat: NOW - 3600, exp: NOW - 60 }), createPrivateKey(key.privateKey!))), 'expired', 'token_expired');
      await probe.rejects(probe.at(sign(alg, accessHeader(key.kid, alg), accessClaims(alice, { token_use: 'refresh' }), createPrivateKey(key.privateKey!))), 'wrong_type');
      await probe.rejects(probe.at(alice.refresh), 'wrong_type');
      if (alg === 'ES256') {
        // The high-s twin of the server's own valid signature: the same signature mathematically, a second string
        // for one token. Refused, so each token has one spelling (cache, reuse and revocation compare strings).
        const issued = Buffer.from(signature, 'base64url');
        assert.equal(withS(issued, 'low').equals(issued), true, 'the server signs low-s');
        await probe.rejects(probe.at(`${header}.${payload}.${withS(issued, 'high').toString('base64url')}`), 'bad_signature');
        const refreshParts = alice.refresh.split('.');
        const refreshTwin = `${refreshParts[0]}.${refreshParts[1]}.${withS(Buffer.from(refreshParts[2]!, 'base64url'), 'high').toString('base64url')}`;
        const mark = server.events.length;
        const twinRefresh = await new TestClient(server.url).request('POST', '/auth/refresh', { headers: { cookie: `${REFRESH_COOKIE}=${refreshTwin}` } });
        assert.equal(twinRefresh.status, 401);
        // Refused for its signature, before the store: not judged as a (rotated) refresh token at all.
        assert.deepEqual(server.events.slice(mark).map((e) => `${e.event.action}:${e.event.reason}`), ['authn_token_invalid:bad_signature']);
        // And a hand-made high-s signature of fresh claims, valid ECDSA, is refused for the same reason.
        const forged = sign(alg, accessHeader(key.kid, alg), accessClaims(alice), createPrivateKey(key.privateKey!)).split('.');
        await probe.rejects(probe.at(`${forged[0]}.${forged[1]}.${withS(Buffer.from(forged[2]!, 'base64url'), 'high').toString('base64url')}`), 'bad_signature');
        // A DER-encoded ECDSA signature is not the JWS form (RFC 7518 §3.4: R || S, 64 bytes).
        const der = cryptoSign('sha256', Buffer.from(`${header}.${payload}`), createPrivateKey(key.privateKey!)).toString('base64url');
        await probe.rejects(probe.at(`${header}.${payload}.${der}`), 'bad_signature');
      }
    });
  });
}
