import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMemoryStore, type SessionFamily, type SessionStore } from '../../src/session/store.js';

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const GRACE = 5_000;
const IDLE = 10 * MINUTE;
const ABSOLUTE = 60 * MINUTE;

function family(overrides: Partial<SessionFamily> = {}): SessionFamily {
  return {
    id: 'fam-1',
    userId: 'u_alice',
    userName: 'alice',
    roles: ['user'],
    createdAt: T0,
    lastRotatedAt: T0,
    currentJti: 'jti-0',
    previousJti: null,
    revoked: false,
    absoluteExpiresAt: T0 + ABSOLUTE,
    ...overrides,
  };
}

describe('createMemoryStore', () => {
  let now: number;
  let store: SessionStore;
  const at = (t: number) => ({ now: t, graceMs: GRACE, idleTtlMs: IDLE });

  beforeEach(() => {
    now = T0;
    store = createMemoryStore({ now: () => now });
  });
  afterEach(() => store.close());

  describe('rotateFamily', () => {
    it('rotates the current jti and remembers the previous one', async () => {
      await store.createFamily(family());
      const result = await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0 + 1_000));
      assert.equal(result.status, 'rotated');
      assert.ok(result.status === 'rotated');
      assert.equal(result.family.currentJti, 'jti-1');
      assert.equal(result.family.previousJti, 'jti-0');
      assert.equal(result.family.lastRotatedAt, T0 + 1_000);
      assert.equal(result.family.revoked, false);
      // The new jti rotates in turn.
      const next = await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + 2_000));
      assert.equal(next.status, 'rotated');
    });

    it('keeps its own copy of the family: mutating the input or a result changes nothing', async () => {
      const input = family();
      await store.createFamily(input);
      input.currentJti = 'tampered';
      input.revoked = true;
      const result = await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
      assert.equal(result.status, 'rotated');
      assert.ok(result.status === 'rotated');
      result.family.revoked = true;
      result.family.currentJti = 'tampered';
      assert.equal((await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0))).status, 'rotated');
    });

    it('answers conflict for the replaced jti within the grace window, without revoking', async () => {
      await store.createFamily(family());
      await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
      const same = await store.rotateFamily('fam-1', 'jti-0', 'jti-x', at(T0));
      assert.equal(same.status, 'conflict');
      const edge = await store.rotateFamily('fam-1', 'jti-0', 'jti-y', at(T0 + GRACE));
      assert.equal(edge.status, 'conflict');
      assert.ok(edge.status === 'conflict');
      // A conflict never rotates: the winner's jti is still the current one.
      assert.equal(edge.family.currentJti, 'jti-1');
      assert.equal(edge.family.revoked, false);
      assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), true);
      assert.equal((await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + GRACE))).status, 'rotated');
    });

    it('answers reused for the replaced jti after the grace window and revokes the family (RFC 9700 4.14.2)', async () => {
      await store.createFamily(family());
      await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
      const reused = await store.rotateFamily('fam-1', 'jti-0', 'jti-x', at(T0 + GRACE + 1));
      assert.equal(reused.status, 'reused');
      assert.ok(reused.status === 'reused');
      assert.equal(reused.family.revoked, true);
      assert.equal(reused.family.currentJti, 'jti-1');
      // The legitimate holder of the latest token is out too.
      assert.equal((await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + GRACE + 2))).status, 'revoked');
      assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), false);
    });

    it('answers reused (and revokes) for an older or unknown jti, whatever the time', async () => {
      await store.createFamily(family());
      await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
      await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + 1));
      // jti-0 is two rotations old: not the previous one, so no grace even at once.
      const old = await store.rotateFamily('fam-1', 'jti-0', 'jti-x', at(T0 + 2));
      assert.equal(old.status, 'reused');
      await store.createFamily(family({ id: 'fam-2' }));
      assert.equal((await store.rotateFamily('fam-2', 'never-issued', 'jti-x', at(T0))).status, 'reused');
      assert.equal((await store.rotateFamily('fam-2', 'jti-0', 'jti-1', at(T0))).status, 'revoked');
    });

    it('answers expired (idle) once idleTtlMs has passed since the last rotation', async () => {
      await store.createFamily(family());
      assert.equal((await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0 + IDLE - 1))).status, 'rotated');
      const expired = await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + IDLE - 1 + IDLE));
      assert.equal(expired.status, 'expired');
      assert.ok(expired.status === 'expired');
      assert.equal(expired.reason, 'idle');
      // Expiry does not rotate.
      assert.equal(expired.family.currentJti, 'jti-1');
    });

    it('answers expired (absolute) at absoluteExpiresAt even when refreshed within the idle time', async () => {
      await store.createFamily(family());
      let jti = 'jti-0';
      let t = T0;
      // Refresh every 9 minutes: never idle, yet the absolute limit arrives.
      for (let i = 1; t + 9 * MINUTE < T0 + ABSOLUTE; i += 1) {
        t += 9 * MINUTE;
        const result = await store.rotateFamily('fam-1', jti, `jti-${i}`, at(t));
        assert.equal(result.status, 'rotated', `rotation ${i}`);
        jti = `jti-${i}`;
      }
      const expired = await store.rotateFamily('fam-1', jti, 'jti-late', at(T0 + ABSOLUTE));
      assert.equal(expired.status, 'expired');
      assert.ok(expired.status === 'expired');
      assert.equal(expired.reason, 'absolute');
    });

    it('answers revoked for a revoked family, even with the current jti', async () => {
      await store.createFamily(family());
      const revoked = await store.revokeFamily('fam-1');
      assert.equal(revoked?.revoked, true);
      const result = await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
      assert.equal(result.status, 'revoked');
      assert.equal(await store.revokeFamily('nope'), undefined);
    });

    it('answers missing for an unknown family', async () => {
      assert.deepEqual(await store.rotateFamily('nope', 'jti-0', 'jti-1', at(T0)), { status: 'missing' });
    });
  });

  describe('revokeUser and isSessionActive', () => {
    it('revokes every live family of the user and counts them; other users are untouched', async () => {
      await store.createFamily(family({ id: 'a1' }));
      await store.createFamily(family({ id: 'a2' }));
      await store.createFamily(family({ id: 'a3' }));
      await store.createFamily(family({ id: 'b1', userId: 'u_bob', userName: 'bob' }));
      await store.revokeFamily('a3');
      const iat = T0 / 1000;
      assert.equal(await store.revokeUser('u_alice', iat), 2);
      for (const id of ['a1', 'a2', 'a3']) assert.equal(await store.isSessionActive(id, 'u_alice', iat), false, id);
      assert.equal(await store.isSessionActive('b1', 'u_bob', iat), true);
      // Nothing live is left to revoke.
      assert.equal(await store.revokeUser('u_alice', iat), 0);
      assert.equal(await store.revokeUser('u_nobody', iat), 0);
    });

    it('applies the not-before time: a token issued before it is refused, one issued in the same second or later is not', async () => {
      const nbf = T0 / 1000 + 100;
      await store.revokeUser('u_alice', nbf);
      await store.createFamily(family({ id: 'new', createdAt: nbf * 1000 }));
      assert.equal(await store.isSessionActive('new', 'u_alice', nbf - 1), false);
      assert.equal(await store.isSessionActive('new', 'u_alice', nbf), true);
      assert.equal(await store.isSessionActive('new', 'u_alice', nbf + 1), true);
      // A later revokeUser with an older time never moves not-before back.
      await store.revokeUser('u_alice', nbf - 50);
      assert.equal(await store.isSessionActive('new', 'u_alice', nbf - 1), false);
    });

    it('is false for an unknown session or a session of another user', async () => {
      await store.createFamily(family());
      assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), true);
      assert.equal(await store.isSessionActive('fam-1', 'u_mallory', T0 / 1000), false);
      assert.equal(await store.isSessionActive('nope', 'u_alice', T0 / 1000), false);
    });

    it('sweeps families past their absolute expiry', async () => {
      const swept = createMemoryStore({ now: () => now, sweepIntervalMs: 5 });
      try {
        await swept.createFamily(family());
        await swept.createFamily(family({ id: 'long', absoluteExpiresAt: T0 + 10 * ABSOLUTE }));
        now = T0 + ABSOLUTE + 1;
        await new Promise((resolve) => setTimeout(resolve, 30));
        assert.deepEqual(await swept.rotateFamily('fam-1', 'jti-0', 'jti-1', at(now)), { status: 'missing' });
        assert.equal(await swept.isSessionActive('long', 'u_alice', T0 / 1000), true);
      } finally {
        await swept.close();
      }
    });
  });

  describe('failure counters', () => {
    it('counts per key, and keeps each key for windowMs after its latest failure', async () => {
      assert.deepEqual(await store.recordFailures(['a', 'b'], 1_000, T0), [{ count: 1, lastAt: T0 }, { count: 1, lastAt: T0 }]);
      assert.deepEqual(await store.recordFailures(['a'], 1_000, T0 + 800), [{ count: 2, lastAt: T0 + 800 }]);
      assert.deepEqual(await store.getFailures(['a', 'b', 'c'], T0 + 1_000), [{ count: 2, lastAt: T0 + 800 }, { count: 1, lastAt: T0 }, undefined]);
      // b expired at T0 + 1000; a's window was extended to T0 + 1800.
      assert.deepEqual(await store.getFailures(['a', 'b'], T0 + 1_001), [{ count: 2, lastAt: T0 + 800 }, undefined]);
      assert.deepEqual(await store.getFailures(['a'], T0 + 1_800), [{ count: 2, lastAt: T0 + 800 }]);
      assert.deepEqual(await store.getFailures(['a'], T0 + 1_801), [undefined]);
    });

    it('starts again from one after a window has expired', async () => {
      await store.recordFailures(['a'], 1_000, T0);
      await store.recordFailures(['a'], 1_000, T0 + 10);
      assert.deepEqual(await store.recordFailures(['a'], 1_000, T0 + 2_000), [{ count: 1, lastAt: T0 + 2_000 }]);
    });

    it('clears only the keys given', async () => {
      await store.recordFailures(['a', 'b'], 1_000, T0);
      await store.clearFailures(['a', 'unknown']);
      assert.deepEqual(await store.getFailures(['a', 'b'], T0), [undefined, { count: 1, lastAt: T0 }]);
      assert.deepEqual(await store.recordFailures(['a'], 1_000, T0), [{ count: 1, lastAt: T0 }]);
    });
  });
});
