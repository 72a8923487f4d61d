import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Context } from 'koa';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { createKeyRing, generateKey, type KeyInput } from '../../src/session/key-ring.js';
import { createSessionKit } from '../../src/session/session-kit.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';

/** The session reference in events (a keyed hash of the session id) across a signing-key rotation. */

const SID = '6f1c2a7e-0d4b-4c1e-9a55-3f7e2b1d9c01';

/** The reference a kit over this ring puts in an event about session SID. */
function referenceWith(keys: KeyInput[], activeKid?: string, sessionRefKey?: Buffer): string {
  const events: SecurityEvent[] = [];
  const kit = createSessionKit({ keyRing: createKeyRing(keys, activeKid), users: createMemoryUserDirectory([]), sessionRefKey, onEvent: (event) => events.push(event) });
  const ctx = { state: {}, get: () => '', path: '/x', method: 'GET', socket: { remoteAddress: '127.0.0.1' } } as unknown as Context;
  kit.emit(ctx, 'authz_fail', { sentinel: { session_id: SID } });
  void kit.close();
  const ref = events[0]?.sentinel?.session_id;
  assert.equal(typeof ref, 'string');
  assert.notEqual(ref, SID, 'never the id itself');
  return ref as string;
}

describe('session references across a key rotation', () => {
  const old: KeyInput = { kid: 'k-2025', alg: 'HS256', secret: randomBytes(32) };
  const next: KeyInput = { kid: 'k-2026', alg: 'HS256', secret: randomBytes(32) };

  it('stay the same when a new key is added and made active (the old one still listed first)', () => {
    const before = referenceWith([old]);
    assert.equal(referenceWith([old, next], 'k-2026'), before);
    // Asymmetric rings too: a verification-only public key is skipped (its material is not secret).
    const ed = generateKey('EdDSA', 'ed-1');
    const edNext = generateKey('EdDSA', 'ed-2');
    const edRef = referenceWith([{ kid: ed.kid, alg: ed.alg, privateKey: ed.privateKey }]);
    assert.equal(referenceWith([{ kid: ed.kid, alg: ed.alg, privateKey: ed.privateKey }, { kid: edNext.kid, alg: edNext.alg, privateKey: edNext.privateKey }], 'ed-2'), edRef);
    assert.equal(referenceWith([{ kid: 'pub', alg: 'EdDSA', publicKey: edNext.publicKey }, { kid: ed.kid, alg: ed.alg, privateKey: ed.privateKey }], ed.kid), edRef);
  });

  it('follow sessionRefKey when given, whatever the ring', () => {
    const key = randomBytes(32);
    assert.equal(referenceWith([old], undefined, key), referenceWith([next], undefined, key));
    assert.notEqual(referenceWith([old], undefined, key), referenceWith([old]));
  });
});
