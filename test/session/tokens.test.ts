/**
 * Unit tests of the token service and the key ring: pure functions, a controlled clock, no server.
 * The HTTP view of the same attacks is in token-attacks.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { ConfigurationError, SentinelError } from '../../src/errors.js';
import { EVENT_CATALOGUE } from '../../src/events/catalogue.js';
import { createKeyRing, generateKey, type KeyInput, type KeyRing, type SigningAlgorithm } from '../../src/session/key-ring.js';
import { TokenTooLargeError, createTokenService, type TokenService, type TokenServiceOptions } from '../../src/session/tokens.js';

const ISSUER = 'koa-sentinel';
const AUDIENCE = 'koa-sentinel-api';
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const NOW = T0 / 1000;
const SUBJECT = { sub: 'u_alice', sid: 'sess-1', name: 'alice', roles: ['user'] };

type Json = Record<string, unknown>;

function encode(part: unknown): string {
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
}

function decodePart(token: string, index: 0 | 1): Json {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Json;
}

function hs256(header: unknown, payload: unknown, secret: KeyObject | Buffer): string {
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function hmacRing(kid = 'k1'): { ring: KeyRing; secret: Buffer } {
  const secret = randomBytes(32);
  return { ring: createKeyRing([{ kid, alg: 'HS256', secret }]), secret };
}

/** RSA key generation is slow (~100 ms+): one pair serves every RSA algorithm and kid in this file. */
const RSA_KEY = generateKey('RS256', 'rsa');
function keyFor(alg: SigningAlgorithm, kid: string): ReturnType<typeof generateKey> {
  return alg === 'RS256' || alg === 'PS256' ? { ...RSA_KEY, kid, alg } : generateKey(alg, kid);
}

/** A token service on a clock the test moves by hand. */
function service(keyRing: KeyRing, options: Partial<TokenServiceOptions> = {}): { tokens: TokenService; clock: { ms: number } } {
  const clock = { ms: T0 };
  const tokens = createTokenService({ keyRing, issuer: ISSUER, audience: AUDIENCE, now: () => clock.ms, ...options });
  return { tokens, clock };
}

function accessClaims(overrides: Json = {}): Json {
  return {
    iss: ISSUER, aud: AUDIENCE, sub: 'u_alice', iat: NOW, exp: NOW + 900, jti: 'jti-1', token_use: 'access', sid: 'sess-1',
    name: 'alice', roles: ['user'], ...overrides,
  };
}

const ACCESS_HEADER = { alg: 'HS256', typ: 'at+jwt', kid: 'k1' };

/** Asserts `fn` throws our SentinelError with `code` and `reason`, and that the reason is a catalogued one. */
function assertRefused(fn: () => unknown, reason: string, code: 'token_invalid' | 'token_expired' = 'token_invalid'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SentinelError, `expected a SentinelError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.reason, reason);
    assert.equal(error.status, 401);
    assert.ok((EVENT_CATALOGUE.authn_token_invalid.reasons as readonly string[]).includes(reason), `${reason} is catalogued`);
    return true;
  });
}

function assertConfigError(fn: () => unknown, message: string | RegExp, code = 'config_invalid'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, `expected a ConfigurationError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.deepEqual(error.problems, [error.message]);
    return true;
  });
}

/** Checks a signature with a verifier independent of the service under test. */
function independentlyVerified(token: string, alg: SigningAlgorithm, ring: KeyRing): boolean {
  const key = ring.active.verifyKey;
  if (alg === 'EdDSA') {
    const [h, p, s] = token.split('.') as [string, string, string];
    return cryptoVerify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  }
  try {
    jwt.verify(token, key, { algorithms: [alg], audience: AUDIENCE, issuer: ISSUER, clockTimestamp: NOW });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('createTokenService: issue and verify', () => {
  for (const alg of ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
    it(`round-trips access and refresh tokens with ${alg}`, () => {
      const ring = createKeyRing([keyFor(alg, `${alg.toLowerCase()}-1`)]);
      const { tokens } = service(ring);
      const access = tokens.issue('access', SUBJECT, 15 * 60_000);
      assert.deepEqual(decodePart(access.token, 0), { alg, typ: 'at+jwt', kid: `${alg.toLowerCase()}-1` });
      assert.deepEqual(decodePart(access.token, 1), access.claims);
      assert.deepEqual(access.claims, {
        iss: ISSUER, aud: AUDIENCE, sub: 'u_alice', iat: NOW, exp: NOW + 900, jti: access.claims.jti, token_use: 'access',
        sid: 'sess-1', name: 'alice', roles: ['user'],
      });
      assert.match(access.claims.jti, /^[0-9a-f-]{36}$/);
      assert.ok(independentlyVerified(access.token, alg, ring), 'the signature is a real one');
      assert.deepEqual(tokens.verify(access.token, 'access'), access.claims);

      const refresh = tokens.issue('refresh', SUBJECT, 12 * 3_600_000, 'family-jti');
      assert.deepEqual(decodePart(refresh.token, 0), { alg, typ: 'rt+jwt', kid: `${alg.toLowerCase()}-1` });
      assert.deepEqual(refresh.claims, {
        iss: ISSUER, aud: AUDIENCE, sub: 'u_alice', iat: NOW, exp: NOW + 43_200, jti: 'family-jti', token_use: 'refresh', sid: 'sess-1',
      });
      assert.deepEqual(tokens.verify(refresh.token, 'refresh'), refresh.claims);

      // Each type is refused as the other.
      assertRefused(() => tokens.verify(access.token, 'refresh'), 'wrong_type');
      assertRefused(() => tokens.verify(refresh.token, 'access'), 'wrong_type');
    });
  }

  it('defaults the name to the subject and roles to none, copies roles, and never issues a ttl under one second', () => {
    const { tokens } = service(hmacRing().ring);
    const roles = ['user'];
    const issued = tokens.issue('access', { sub: 'u_x', sid: 's', roles }, 10);
    roles.push('admin');
    assert.equal(issued.claims.name, 'u_x');
    assert.deepEqual(issued.claims.roles, ['user']);
    assert.equal(issued.claims.exp, NOW + 1);
    assert.deepEqual(tokens.issue('access', { sub: 'u_x', sid: 's' }, 1500).claims.roles, []);
    assert.equal(tokens.issue('access', { sub: 'u_x', sid: 's' }, 1999).claims.exp, NOW + 1);
  });

  it('refuses to issue a token its own verify would refuse as oversized: TokenTooLargeError with the sizes', () => {
    const { tokens } = service(hmacRing().ring);
    // 200 roles of 20 characters: a plausible directory, and a token over the 4096-byte cookie limit.
    const roles = Array.from({ length: 200 }, (_, i) => `role-${String(i).padStart(15, '0')}`);
    assert.throws(() => tokens.issue('access', { ...SUBJECT, roles }, 60_000), (error: unknown) => {
      assert.ok(error instanceof TokenTooLargeError, String(error));
      assert.equal(error.code, 'internal_error');
      assert.equal(error.reason, 'token_too_large');
      assert.equal(error.tokenType, 'access');
      assert.equal(error.maxTokenBytes, 4096);
      assert.ok(error.tokenBytes > 4096 && error.tokenBytes < 8000, `${error.tokenBytes} bytes`);
      assert.equal(error.expose, false, 'never shown to a client');
      return true;
    });
    // The largest role list that fits is issued and verifies: the limit is the verifier's, to the byte.
    let fitting = roles.length;
    while (fitting > 0) {
      try {
        const { token } = tokens.issue('access', { ...SUBJECT, roles: roles.slice(0, fitting) }, 60_000);
        assert.ok(token.length <= 4096);
        assert.equal(tokens.verify(token, 'access').roles?.length, fitting);
        break;
      } catch (error) {
        assert.ok(error instanceof TokenTooLargeError);
        fitting -= 1;
      }
    }
    assert.ok(fitting > 100 && fitting < 200, `${fitting} roles fit`);
  });

  it('signs with the active key and verifies with every key of the ring, including verify-only ones', () => {
    const retired = generateKey('EdDSA', 'ed-2024');
    const current = generateKey('EdDSA', 'ed-2025');
    const oldService = service(createKeyRing([retired])).tokens;
    const oldToken = oldService.issue('access', SUBJECT, 60_000).token;
    // The retired key stays in the ring as a public key only: it can verify, never sign.
    const ring = createKeyRing([current, { kid: 'ed-2024', alg: 'EdDSA', publicKey: retired.publicKey }], 'ed-2025');
    assert.equal(ring.get('ed-2024')?.signKey, undefined);
    const { tokens } = service(ring);
    assert.equal(tokens.verify(oldToken, 'access').sub, 'u_alice');
    assert.equal(decodePart(tokens.issue('access', SUBJECT, 60_000).token, 0).kid, 'ed-2025');
  });

  it('accepts HMAC tokens signed by an older key still in the ring', () => {
    const oldKey = generateKey('HS256', 'hs-old');
    const newKey = generateKey('HS256', 'hs-new');
    const old = service(createKeyRing([oldKey])).tokens.issue('access', SUBJECT, 60_000).token;
    const { tokens } = service(createKeyRing([oldKey, newKey], 'hs-new'));
    assert.deepEqual(decodePart(tokens.issue('access', SUBJECT, 60_000).token, 0).kid, 'hs-new');
    assert.equal(tokens.verify(old, 'access').sub, 'u_alice');
    assertRefused(() => service(createKeyRing([newKey])).tokens.verify(old, 'access'), 'unknown_kid');
  });
});

describe('createTokenService: every rejection reason', () => {
  const { ring, secret } = hmacRing();
  const { tokens } = service(ring);
  const forge = (overrides: Json = {}, header: Json = ACCESS_HEADER): string => hs256(header, accessClaims(overrides), secret);

  it('accepts the forged control token (so each refusal is about the one change)', () => {
    assert.equal(tokens.verify(forge(), 'access').sub, 'u_alice');
  });

  it('missing: an empty or non-string token', () => {
    assertRefused(() => tokens.verify('', 'access'), 'missing');
    assertRefused(() => tokens.verify(undefined as unknown as string, 'access'), 'missing');
    assertRefused(() => tokens.verify(42 as unknown as string, 'refresh'), 'missing');
  });

  it('oversized: longer than maxTokenBytes, checked before parsing', () => {
    assertRefused(() => tokens.verify('A'.repeat(4097), 'access'), 'oversized');
    assertRefused(() => tokens.verify(forge({ name: 'n'.repeat(4000) }), 'access'), 'oversized');
    assertRefused(() => tokens.verify('A'.repeat(4096), 'access'), 'malformed');
    const small = service(ring, { maxTokenBytes: 256 }).tokens;
    assertRefused(() => small.verify(forge(), 'access'), 'oversized');
  });

  it('malformed: not three base64url parts, or a header or payload that is not a JSON object', () => {
    const [h, p, s] = forge().split('.') as [string, string, string];
    for (const token of [`${h}.${p}`, `${h}.${p}.${s}.${s}`, 'garbage', '..', `${h}.${p}.`, `.${p}.${s}`, `${h}.${p}.${s}=`,
      `${h}.${p}!.${s}`, `${h}.${p}.${s.slice(0, -1)}+`, `${h}.${p}.${s.slice(0, -1)}/`, `${h} .${p}.${s}`]) {
      assertRefused(() => tokens.verify(token, 'access'), 'malformed');
    }
    for (const header of ['not json', '[]', 'null', '1', '"x"']) {
      const input = `${encode(header)}.${p}`;
      assertRefused(() => tokens.verify(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`, 'access'), 'malformed');
    }
    for (const payload of ['not json', '[]', 'null', '1']) {
      assertRefused(() => tokens.verify(hs256(ACCESS_HEADER, payload, secret), 'access'), 'malformed');
    }
  });

  it('malformed: an EdDSA token whose signed payload is not JSON', () => {
    const key = generateKey('EdDSA', 'ed');
    const edTokens = service(createKeyRing([key])).tokens;
    const input = `${encode({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed' })}.${encode('not json')}`;
    const token = `${input}.${cryptoSign(null, Buffer.from(input), createPrivateKey(key.privateKey!)).toString('base64url')}`;
    assertRefused(() => edTokens.verify(token, 'access'), 'malformed');
  });

  it('forbidden_header: a header that brings or points to its own key', () => {
    for (const name of ['jku', 'jwk', 'x5u', 'x5c', 'x5t', 'crit']) {
      assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, [name]: 'x' }), 'access'), 'forbidden_header');
      assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, [name]: null }), 'refresh'), 'forbidden_header');
    }
  });

  it('unknown_kid: a kid that is not in the ring, or not a string', () => {
    for (const kid of ['k2', '../../dev/null', "' OR 1=1 --", '__proto__', 'constructor', undefined, 1, null, ['k1']]) {
      assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, kid }), 'access'), 'unknown_kid');
    }
  });

  it('algorithm: a header alg other than the key\'s, including none and an RS/HS swap', () => {
    for (const alg of ['none', 'None', 'HS384', 'RS256', 'hs256', undefined]) {
      assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, alg }), 'access'), 'algorithm');
    }
    const rsa = { ...RSA_KEY, kid: 'rs' };
    const rsTokens = service(createKeyRing([rsa])).tokens;
    const confused = hs256({ alg: 'HS256', typ: 'at+jwt', kid: 'rs' }, accessClaims(), Buffer.from(rsa.publicKey!));
    assertRefused(() => rsTokens.verify(confused, 'access'), 'algorithm');
  });

  it('wrong_type: the header typ or the token_use claim of the other type', () => {
    assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, typ: 'rt+jwt' }), 'access'), 'wrong_type');
    assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, typ: 'JWT' }), 'access'), 'wrong_type');
    assertRefused(() => tokens.verify(forge({}, { ...ACCESS_HEADER, typ: undefined }), 'access'), 'wrong_type');
    assertRefused(() => tokens.verify(forge({ token_use: 'refresh' }), 'access'), 'wrong_type');
    assertRefused(() => tokens.verify(forge({ token_use: undefined }), 'access'), 'wrong_type');
    assertRefused(() => tokens.verify(forge(), 'refresh'), 'wrong_type');
  });

  it('bad_signature: a changed payload, another key, or a changed signature', () => {
    const [h, , s] = forge().split('.') as [string, string, string];
    assertRefused(() => tokens.verify(`${h}.${encode(accessClaims({ roles: ['admin'] }))}.${s}`, 'access'), 'bad_signature');
    assertRefused(() => tokens.verify(hs256(ACCESS_HEADER, accessClaims(), randomBytes(32)), 'access'), 'bad_signature');
    assertRefused(() => tokens.verify(`${h}.${encode(accessClaims())}.${s.slice(0, -4)}AAAA`, 'access'), 'bad_signature');
    const ed = generateKey('EdDSA', 'ed');
    const edTokens = service(createKeyRing([ed])).tokens;
    const edToken = edTokens.issue('access', SUBJECT, 60_000).token;
    const [eh, , es] = edToken.split('.') as [string, string, string];
    assertRefused(() => edTokens.verify(`${eh}.${encode(accessClaims({ roles: ['admin'] }))}.${es}`, 'access'), 'bad_signature');
  });

  it('missing_claim: exp, iat, jti, sub, sid, iss absent or of the wrong type, and roles on access tokens', () => {
    for (const name of ['exp', 'iat']) {
      for (const value of [undefined, null, '1', [NOW]]) assertRefused(() => tokens.verify(forge({ [name]: value }), 'access'), 'missing_claim');
    }
    for (const name of ['jti', 'sub', 'sid', 'iss']) {
      for (const value of [undefined, '', 7, 'x'.repeat(257)]) assertRefused(() => tokens.verify(forge({ [name]: value }), 'access'), 'missing_claim');
    }
    assert.equal(tokens.verify(forge({ jti: 'x'.repeat(256) }), 'access').jti.length, 256);
    for (const roles of [undefined, 'admin', [1], [null]]) assertRefused(() => tokens.verify(forge({ roles }), 'access'), 'missing_claim');
    // Refresh tokens carry no roles.
    const refresh = hs256({ ...ACCESS_HEADER, typ: 'rt+jwt' }, accessClaims({ token_use: 'refresh', roles: undefined, name: undefined }), secret);
    assert.equal(tokens.verify(refresh, 'refresh').token_use, 'refresh');
  });

  it('wrong_issuer and wrong_audience', () => {
    assertRefused(() => tokens.verify(forge({ iss: 'someone-else' }), 'access'), 'wrong_issuer');
    for (const aud of ['other', undefined, null, [], ['other'], AUDIENCE.toUpperCase()]) {
      assertRefused(() => tokens.verify(forge({ aud }), 'access'), 'wrong_audience');
    }
    assert.deepEqual(tokens.verify(forge({ aud: ['other', AUDIENCE] }), 'access').aud, ['other', AUDIENCE]);
  });

  it('not_before: iat or nbf beyond the clock tolerance, or nbf not a number', () => {
    assertRefused(() => tokens.verify(forge({ iat: NOW + 6 }), 'access'), 'not_before');
    assertRefused(() => tokens.verify(forge({ nbf: NOW + 6 }), 'access'), 'not_before');
    assertRefused(() => tokens.verify(forge({ nbf: String(NOW) }), 'access'), 'not_before');
    assertRefused(() => tokens.verify(forge({ nbf: null }), 'access'), 'not_before');
    assert.equal(tokens.verify(forge({ iat: NOW + 5, jti: 'a' }), 'access').iat, NOW + 5);
    assert.equal(tokens.verify(forge({ nbf: NOW + 5, jti: 'b' }), 'access').jti, 'b');
  });

  it('expired: token_expired once now reaches exp plus the tolerance', () => {
    assertRefused(() => tokens.verify(forge({ iat: NOW - 1000, exp: NOW - 5 }), 'access'), 'expired', 'token_expired');
    assert.equal(tokens.verify(forge({ iat: NOW - 1000, exp: NOW - 4 }), 'access').exp, NOW - 4);
    const strict = service(ring, { clockToleranceSec: 0 }).tokens;
    assertRefused(() => strict.verify(forge({ exp: NOW }), 'access'), 'expired', 'token_expired');
    assertRefused(() => strict.verify(forge({ iat: NOW + 1 }), 'access'), 'not_before');
    assert.equal(strict.verify(forge({ exp: NOW + 1 }), 'access').exp, NOW + 1);
    const refreshToken = hs256({ ...ACCESS_HEADER, typ: 'rt+jwt' }, accessClaims({ token_use: 'refresh', exp: NOW - 60 }), secret);
    assertRefused(() => tokens.verify(refreshToken, 'refresh'), 'expired', 'token_expired');
  });

  it('never checks a signature when the header is already wrong', () => {
    // A signature that would not verify does not change the reason: the header is judged first.
    const [, p] = forge().split('.') as [string, string];
    assertRefused(() => tokens.verify(`${encode({ ...ACCESS_HEADER, alg: 'none' })}.${p}.AAAA`, 'access'), 'algorithm');
    assertRefused(() => tokens.verify(`${encode({ ...ACCESS_HEADER, jku: 'https://x' })}.${p}.AAAA`, 'access'), 'forbidden_header');
  });
});

describe('createTokenService: the verified-token cache', () => {
  /** A ring that counts lookups: a cache hit skips the header and signature, so it does not look the key up. */
  function countingRing(): { ring: KeyRing; lookups: () => number } {
    const base = createKeyRing([generateKey('HS256', 'c1')]);
    let count = 0;
    const ring: KeyRing = {
      active: base.active,
      kids: base.kids,
      get(kid) {
        count += 1;
        return base.get(kid);
      },
    };
    return { ring, lookups: () => count };
  }

  it('still enforces expiry on a cached token', () => {
    const { tokens, clock } = service(createKeyRing([generateKey('HS256', 'c1')]));
    const { token, claims } = tokens.issue('access', SUBJECT, 60_000);
    assert.deepEqual(tokens.verify(token, 'access'), claims);
    assert.deepEqual(tokens.verify(token, 'access'), claims);
    clock.ms = T0 + 64_000;
    assert.deepEqual(tokens.verify(token, 'access'), claims, 'within the tolerance');
    clock.ms = T0 + 65_000;
    assertRefused(() => tokens.verify(token, 'access'), 'expired', 'token_expired');
    clock.ms = T0 + 3_600_000;
    assertRefused(() => tokens.verify(token, 'access'), 'expired', 'token_expired');
  });

  it('still enforces iat on a cached token when the clock goes back', () => {
    const { tokens, clock } = service(createKeyRing([generateKey('HS256', 'c1')]));
    const { token } = tokens.issue('access', SUBJECT, 60_000);
    tokens.verify(token, 'access');
    clock.ms = T0 - 10_000;
    assertRefused(() => tokens.verify(token, 'access'), 'not_before');
  });

  it('serves repeat access verifications from the cache, but never refresh tokens', () => {
    const { ring, lookups } = countingRing();
    const { tokens } = service(ring);
    const access = tokens.issue('access', SUBJECT, 60_000).token;
    tokens.verify(access, 'access');
    tokens.verify(access, 'access');
    tokens.verify(access, 'access');
    assert.equal(lookups(), 1);
    // A cached access token is still refused as a refresh token (the cache is per type).
    assertRefused(() => tokens.verify(access, 'refresh'), 'wrong_type');
    assert.equal(lookups(), 2);
    const refresh = tokens.issue('refresh', SUBJECT, 60_000).token;
    tokens.verify(refresh, 'refresh');
    tokens.verify(refresh, 'refresh');
    assert.equal(lookups(), 4);
  });

  it('caches only what verified: a refused token is checked again every time', () => {
    const { ring, lookups } = countingRing();
    const { tokens } = service(ring);
    const [h, , s] = tokens.issue('access', SUBJECT, 60_000).token.split('.') as [string, string, string];
    const tampered = `${h}.${encode(accessClaims({ roles: ['admin'] }))}.${s}`;
    assertRefused(() => tokens.verify(tampered, 'access'), 'bad_signature');
    assertRefused(() => tokens.verify(tampered, 'access'), 'bad_signature');
    assert.equal(lookups(), 2);
  });

  it('is disabled by cacheSize 0 and evicts the oldest entry when full', () => {
    const off = countingRing();
    const disabled = service(off.ring, { cacheSize: 0 }).tokens;
    const token = disabled.issue('access', SUBJECT, 60_000).token;
    disabled.verify(token, 'access');
    disabled.verify(token, 'access');
    assert.equal(off.lookups(), 2);

    const small = countingRing();
    const tokens = service(small.ring, { cacheSize: 2 }).tokens;
    const [a, b, c] = ['a', 'b', 'c'].map((jti) => tokens.issue('access', SUBJECT, 60_000, jti).token) as [string, string, string];
    for (const t of [a, b, a, b]) tokens.verify(t, 'access');
    assert.equal(small.lookups(), 2);
    tokens.verify(c, 'access'); // evicts a
    assert.equal(small.lookups(), 3);
    tokens.verify(b, 'access');
    assert.equal(small.lookups(), 3);
    tokens.verify(a, 'access');
    assert.equal(small.lookups(), 4);
  });
});

describe('createTokenService: options', () => {
  const ring = hmacRing().ring;
  const base = { keyRing: ring, issuer: ISSUER, audience: AUDIENCE };

  it('refuses invalid options at construction with a clear message', () => {
    assertConfigError(() => createTokenService({ ...base, keyRing: undefined as unknown as KeyRing }), 'The keyRing option must be a key ring from createKeyRing().');
    assertConfigError(() => createTokenService({ ...base, keyRing: {} as KeyRing }), 'The keyRing option must be a key ring from createKeyRing().');
    assertConfigError(() => createTokenService({ ...base, issuer: '' }), 'The issuer option must be a non-empty string.');
    assertConfigError(() => createTokenService({ ...base, audience: 7 as unknown as string }), 'The audience option must be a non-empty string.');
    for (const clockToleranceSec of [-1, 61, Number.NaN, Number.POSITIVE_INFINITY]) {
      assertConfigError(() => createTokenService({ ...base, clockToleranceSec }), 'The clockToleranceSec option must be a finite number from 0 to 60.');
    }
    for (const maxTokenBytes of [255, 1000.5, Number.NaN]) {
      assertConfigError(() => createTokenService({ ...base, maxTokenBytes }), 'The maxTokenBytes option must be an integer of at least 256.');
    }
    for (const cacheSize of [-1, 1.5]) {
      assertConfigError(() => createTokenService({ ...base, cacheSize }), 'The cacheSize option must be a non-negative integer.');
    }
  });

  it('accepts the bounds', () => {
    assert.ok(createTokenService({ ...base, clockToleranceSec: 0, maxTokenBytes: 256, cacheSize: 0 }));
    assert.ok(createTokenService({ ...base, clockToleranceSec: 60 }));
  });

  it('applies a custom clock tolerance to exp', () => {
    const { ring: r, secret } = hmacRing();
    const { tokens } = service(r, { clockToleranceSec: 60 });
    assert.equal(tokens.verify(hs256(ACCESS_HEADER, accessClaims({ exp: NOW - 59 }), secret), 'access').exp, NOW - 59);
    assertRefused(() => tokens.verify(hs256(ACCESS_HEADER, accessClaims({ exp: NOW - 60 }), secret), 'access'), 'expired', 'token_expired');
  });
});

describe('createKeyRing', () => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed25519 = generateKeyPairSync('ed25519');
  const ed448 = generateKeyPairSync('ed448');
  const rsa2048 = RSA_KEY;
  const pem = (key: KeyObject): string => key.export({ type: key.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }).toString();

  it('builds a ring whose active key is the first, or the one named', () => {
    const a = generateKey('HS256', 'a');
    const b = generateKey('EdDSA', 'b');
    const ring = createKeyRing([a, b]);
    assert.equal(ring.active.kid, 'a');
    assert.deepEqual(ring.kids, ['a', 'b']);
    assert.equal(ring.get('b')?.alg, 'EdDSA');
    assert.equal(ring.get('c'), undefined);
    assert.equal(ring.get('__proto__'), undefined);
    assert.equal(createKeyRing([a, b], 'b').active.kid, 'b');
  });

  it('accepts HMAC secrets as bytes or base64url: text, and KeyObjects for asymmetric keys', () => {
    const bytes = randomBytes(32);
    for (const secret of [bytes, `base64url:${bytes.toString('base64url')}`]) {
      const key = createKeyRing([{ kid: 'h', alg: 'HS256', secret }]).active;
      assert.deepEqual(key.verifyKey.export(), bytes);
    }
    assert.equal(createKeyRing([{ kid: 'e', alg: 'ES256', privateKey: ec256.privateKey }]).active.verifyKey.asymmetricKeyType, 'ec');
    assert.equal(createKeyRing([{ kid: 'e', alg: 'ES256', privateKey: pem(ec256.privateKey) }]).active.signKey.type, 'private');
  });

  it('requires an HMAC secret at least as long as the hash output (RFC 7518 §3.2)', () => {
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS256', secret: randomBytes(31) }]), 'Key "h" (HS256) needs a secret of at least 32 bytes; it has 31.', 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS384', secret: randomBytes(47) }]), 'Key "h" (HS384) needs a secret of at least 48 bytes; it has 47.', 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS512', secret: randomBytes(63) }]), 'Key "h" (HS512) needs a secret of at least 64 bytes; it has 63.', 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS256', secret: 'c2hvcnQ' }]), 'Key "h" (HS256) needs a secret of at least 32 bytes; it has 7.', 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS256', secret: 'base64url:c2hvcnQ' }]), 'Key "h" (HS256) needs a secret of at least 32 bytes; it has 5.', 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS256', secret: '' }]), /needs a secret of at least 32 bytes; it has 0\.$/, 'config_secret_short');
    assertConfigError(() => createKeyRing([{ kid: 'h', alg: 'HS256' }]), 'Key "h" (HS256) needs a secret.');
    assert.ok(createKeyRing([{ kid: 'h', alg: 'HS512', secret: randomBytes(64) }]));
  });

  it('requires RSA keys of at least 3072 bits (128-bit security), and generates 3072-bit ones', () => {
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: pem(rsa1024.privateKey) }]), 'Key "r" (RS256) must be at least 3072 bits.');
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'PS256', privateKey: rsa1024.privateKey }]), 'Key "r" (PS256) must be at least 3072 bits.');
    const rsa2048bits = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: rsa2048bits.privateKey }]), 'Key "r" (RS256) must be at least 3072 bits.');
    assertConfigError(
      () => createKeyRing([generateKey('HS256', 'h'), { kid: 'r', alg: 'RS256', publicKey: pem(rsa1024.publicKey) }]),
      'Key "r" (RS256) must be at least 3072 bits.',
    );
    assert.equal(createPublicKey(RSA_KEY.publicKey!).asymmetricKeyDetails?.modulusLength, 3072);
  });

  it('requires the key type the algorithm names (no HS/RS/EC confusion at configuration time)', () => {
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: pem(ec256.privateKey) }]), 'Key "r" is ec but RS256 needs rsa.');
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', publicKey: ec256.publicKey }]), 'Key "r" is ec but RS256 needs rsa.');
    assertConfigError(() => createKeyRing([{ kid: 'e', alg: 'ES256', privateKey: rsa2048.privateKey }]), 'Key "e" is rsa but ES256 needs ec.');
    assertConfigError(() => createKeyRing([{ kid: 'e', alg: 'ES256', privateKey: ed25519.privateKey }]), 'Key "e" is ed25519 but ES256 needs ec.');
    assertConfigError(() => createKeyRing([{ kid: 'e', alg: 'ES256', privateKey: pem(ec384.privateKey) }]), 'Key "e" must be on the P-256 curve for ES256.');
    assertConfigError(() => createKeyRing([{ kid: 'd', alg: 'EdDSA', privateKey: ed448.privateKey }]), 'Key "d" is ed448 but EdDSA needs ed25519.');
    assertConfigError(() => createKeyRing([{ kid: 'd', alg: 'EdDSA', publicKey: rsa2048.publicKey }]), 'Key "d" is rsa but EdDSA needs ed25519.');
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', secret: randomBytes(32) }]), 'Key "r" (RS256) is asymmetric: give a privateKey or publicKey, not a secret.');
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256' }]), 'Key "r" (RS256) needs a privateKey or a publicKey.');
  });

  it('reports unreadable key material', () => {
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: 'not a pem' }]), /^Key "r" \(RS256\) cannot be read: /);
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }]), /^Key "r" \(RS256\) cannot be read: /);
    // A secret or a public key handed over as the private key is a configuration error, not a runtime one.
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: createSecretKey(randomBytes(32)) }]), /^Key "r" \(RS256\) cannot be read: /);
    assertConfigError(() => createKeyRing([{ kid: 'r', alg: 'RS256', privateKey: createPublicKey(rsa2048.publicKey!) }]), /^Key "r" \(RS256\) cannot be read: /);
  });

  it('refuses unsupported algorithms, listing the supported ones', () => {
    const supported = 'supported: HS256, HS384, HS512, RS256, PS256, ES256, EdDSA.';
    for (const alg of ['none', 'RS512', 'HS1', 'hs256', '']) {
      assertConfigError(() => createKeyRing([{ kid: 'x', alg, secret: randomBytes(64) }]), `Key "x" has algorithm "${alg}"; ${supported}`);
    }
  });

  it('refuses algorithm names that are Object.prototype members (constructor, toString, __proto__)', () => {
    // `alg in table` is true for inherited names: the ring must look algorithms up as own properties only, or it
    // would hold a key no token can be signed with.
    const accepted: string[] = [];
    for (const alg of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      try {
        createKeyRing([{ kid: 'x', alg, secret: randomBytes(64) }]);
        accepted.push(alg);
      } catch (error) {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /supported: HS256, HS384, HS512, RS256, PS256, ES256, EdDSA\.$/);
      }
    }
    assert.deepEqual(accepted, [], 'these algorithm names were accepted into the key ring');
  });

  it('refuses a duplicate kid, a missing active kid, a verify-only active key and an empty ring', () => {
    assertConfigError(() => createKeyRing([generateKey('HS256', 'a'), generateKey('EdDSA', 'a')]), 'The key id "a" appears twice in the key ring.');
    assertConfigError(() => createKeyRing([generateKey('HS256', 'a')], 'b'), 'The active key id "b" is not in the key ring.');
    assertConfigError(() => createKeyRing([{ kid: 'p', alg: 'EdDSA', publicKey: ed25519.publicKey }]), 'The active key "p" has no secret or private key to sign with.');
    assertConfigError(() => createKeyRing([]), 'The key ring needs at least one key.');
  });

  it('refuses key ids that are empty, too long, or hold characters outside [A-Za-z0-9._-]', () => {
    for (const kid of ['', 'x'.repeat(65), '../etc/passwd', 'a b', 'a/b', "a'b", 'é', 'a\u0000', 'k\n', 42 as unknown as string]) {
      assertConfigError(
        () => createKeyRing([{ kid, alg: 'HS256', secret: randomBytes(32) } as KeyInput]),
        `Key id ${JSON.stringify(kid)} must be 1-64 characters of letters, digits, ".", "_" or "-".`,
      );
    }
    assert.ok(createKeyRing([{ kid: 'x'.repeat(64), alg: 'HS256', secret: randomBytes(32) }]));
    assert.ok(createKeyRing([{ kid: 'Key_2025-01.v2', alg: 'HS256', secret: randomBytes(32) }]));
  });

  it('generateKey makes keys the ring accepts for every algorithm', () => {
    for (const alg of ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
      const key = alg === 'RS256' ? generateKey(alg, 'g') : keyFor(alg, 'g');
      const ring = createKeyRing([key]);
      assert.equal(ring.active.alg, alg);
      assert.ok(ring.active.signKey);
      if (alg === 'HS256' || alg === 'HS384' || alg === 'HS512') assert.equal(Buffer.from(key.secret!.slice('base64url:'.length), 'base64url').length, Number(alg.slice(2)) / 8);
      else assert.match(key.privateKey!, /^-----BEGIN PRIVATE KEY-----/);
    }
  });
});
