import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCsrfTokens, deriveSecret } from '../../src/session/csrf-tokens.js';

const SID = '6f1c2a7e-0d4b-4c1e-9a55-3f7e2b1d9c01';
const OTHER_SID = '0b9e4d2c-7a61-4f38-8e2d-5c1a9b7f3e42';
/** The access token jti the token is bound to: a new one at every refresh. */
const GEN = 'a1b2c3d4-0000-4000-8000-000000000001';
const NEXT_GEN = 'a1b2c3d4-0000-4000-8000-000000000002';

/** Replaces the character at `index` by another base64url character that changes its 6-bit value. */
function flip(token: string, index: number): string {
  const c = token[index]!;
  return token.slice(0, index) + (c === 'A' ? 'B' : 'A') + token.slice(index + 1);
}

describe('createCsrfTokens', () => {
  const secretA = randomBytes(32);
  const secretB = randomBytes(32);

  it('issues url-safe <nonce>.<mac> tokens that verify for their session only', () => {
    const csrf = createCsrfTokens([secretA]);
    const token = csrf.issue(SID, GEN);
    assert.match(token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(csrf.verify(token, SID, GEN), true);
    assert.equal(csrf.verify(token, OTHER_SID, GEN), false);
    assert.equal(csrf.verify(token, '', GEN), false);
    assert.equal(csrf.verify(csrf.issue(OTHER_SID, GEN), SID, GEN), false);
  });

  it('is bound to the generation (the access token it came with): a refresh retires it', () => {
    const csrf = createCsrfTokens([secretA]);
    const token = csrf.issue(SID, GEN);
    assert.equal(csrf.verify(token, SID, GEN), true);
    assert.equal(csrf.verify(token, SID, NEXT_GEN), false, 'the next generation refuses it');
    assert.equal(csrf.verify(csrf.issue(SID, NEXT_GEN), SID, NEXT_GEN), true);
    // The parts cannot be shifted into one another: (a.b, c) is not (a, b.c).
    assert.equal(csrf.verify(csrf.issue('a.b', 'c'), 'a', 'b.c'), false);
    assert.equal(csrf.verify(csrf.issue('a', 'b.c'), 'a.b', 'c'), false);
  });

  it('issues a new random token every time, each valid', () => {
    const csrf = createCsrfTokens([secretA]);
    const tokens = new Set(Array.from({ length: 50 }, () => csrf.issue(SID, GEN)));
    assert.equal(tokens.size, 50);
    for (const token of tokens) assert.equal(csrf.verify(token, SID, GEN), true);
  });

  it('refuses a token signed with a secret it does not hold', () => {
    const token = createCsrfTokens([secretA]).issue(SID, GEN);
    assert.equal(createCsrfTokens([secretB]).verify(token, SID, GEN), false);
  });

  it('refuses any tampering with the nonce or the mac', () => {
    const csrf = createCsrfTokens([secretA]);
    const token = csrf.issue(SID, GEN);
    const dot = token.indexOf('.');
    for (const index of [0, 5, dot - 1, dot + 1, dot + 20, token.length - 2]) {
      assert.equal(csrf.verify(flip(token, index), SID, GEN), false, `character ${index} changed`);
    }
    // Another token's mac with this nonce, and this mac with another nonce.
    const other = csrf.issue(SID, GEN);
    const [nonce, mac] = token.split('.') as [string, string];
    const [otherNonce, otherMac] = other.split('.') as [string, string];
    assert.equal(csrf.verify(`${nonce}.${otherMac}`, SID, GEN), false);
    assert.equal(csrf.verify(`${otherNonce}.${mac}`, SID, GEN), false);
    // Truncated or extended mac.
    assert.equal(csrf.verify(token.slice(0, -4), SID, GEN), false);
    assert.equal(csrf.verify(`${token}AAAA`, SID, GEN), false);
    // The session id cannot be smuggled into the nonce.
    assert.equal(csrf.verify(`${SID}.${nonce}.${mac}`, SID, GEN), false);
  });

  it('accepts only the exact string it issued, not another encoding of the same mac', () => {
    // Low severity (a mac still cannot be forged), but a verifier should not be malleable: Buffer.from(x, 'base64url')
    // skips characters outside the alphabet and reads '+' '/' '=' too, so these all decode to the issued mac.
    const csrf = createCsrfTokens([secretA]);
    const token = csrf.issue(SID, GEN);
    const [nonce, mac] = token.split('.') as [string, string];
    const variants = [
      `${token} `, `${token}!`, `${token}=`, `${token}\n`,
      `${nonce}.${mac.slice(0, 20)} ${mac.slice(20)}`,
      `${nonce}.${mac.slice(0, 20)}*${mac.slice(20)}`,
      `${nonce}..${mac}`,
    ];
    for (const variant of variants) assert.equal(csrf.verify(variant, SID, GEN), false, JSON.stringify(variant));
  });

  it('rotates: the first secret signs, every secret verifies, a retired secret stops verifying', () => {
    const before = createCsrfTokens([secretA]);
    const during = createCsrfTokens([secretB, secretA]);
    const after = createCsrfTokens([secretB]);
    const old = before.issue(SID, GEN);
    const fresh = during.issue(SID, GEN);
    assert.equal(during.verify(old, SID, GEN), true, 'tokens of the previous secret survive the rotation');
    assert.equal(during.verify(fresh, SID, GEN), true);
    assert.equal(before.verify(fresh, SID, GEN), false, 'new tokens are signed with the new secret');
    assert.equal(after.verify(fresh, SID, GEN), true);
    assert.equal(after.verify(old, SID, GEN), false, 'the retired secret no longer verifies');
    assert.equal(during.verify(old, OTHER_SID, GEN), false);
  });

  it('returns false for garbage and never throws', () => {
    const csrf = createCsrfTokens([secretA, secretB]);
    const valid = csrf.issue(SID, GEN);
    const garbage: unknown[] = [
      undefined, null, 0, 42, true, {}, [], [valid], { toString: () => valid }, Symbol('x'),
      '', '.', '..', 'abc', '.abc', 'abc.', 'a.b', 'a.b.c', `.${valid.split('.')[1]}`,
      `${valid.split('.')[0]}.`, ` ${valid}`, valid.replace('.', ''),
      '\u0000.\u0000', 'ü.é', '🙂.🙂', `x.${'A'.repeat(43)}`, `x.${'_'.repeat(43)}`, `x.${'='.repeat(43)}`,
      'x'.repeat(201), `${'a'.repeat(150)}.${'b'.repeat(49)}`, 'a.'.repeat(100), 'x'.repeat(100_000),
    ];
    for (const value of garbage) {
      const label = typeof value === 'symbol' ? 'symbol' : JSON.stringify(value)?.slice(0, 40) ?? String(value);
      let result: boolean | undefined;
      assert.doesNotThrow(() => {
        result = csrf.verify(value as string, SID, GEN);
      }, label);
      assert.equal(result, false, label);
    }
    // A garbage session id does not throw either.
    assert.equal(csrf.verify(valid, 'x'.repeat(10_000), GEN), false);
    assert.equal(csrf.verify(valid, '\u0000', GEN), false);
  });

  it('needs at least one secret', () => {
    assert.throws(() => createCsrfTokens([]), /at least one secret/);
  });
});

describe('deriveSecret', () => {
  it('derives a stable 32-byte secret per label, distinct from the key itself', () => {
    const raw = randomBytes(32);
    const key = createSecretKey(raw);
    const csrf = deriveSecret(key, 'csrf');
    assert.equal(csrf.length, 32);
    assert.deepEqual(deriveSecret(createSecretKey(Buffer.from(raw)), 'csrf'), csrf);
    assert.notDeepEqual(deriveSecret(key, 'other'), csrf);
    assert.notDeepEqual(csrf, raw);
    assert.notDeepEqual(deriveSecret(createSecretKey(randomBytes(32)), 'csrf'), csrf);
  });
});
