/**
 * The SessionStore contract, run against every store (test/session/store.test.ts for the memory store,
 * test/session/redis-store.test.ts for Redis). Each file adds its store's own tests to the groups through `extra`.
 *
 * The contract cases pass every time explicitly (`at(t)`, `iat`, `nowMs`), starting from T0: they never read the
 * store's own clock. What differs between stores is how long a failure-counter window must be so that nothing
 * but the caller's time decides expiry: see `StoreFixture.failureWindowMs`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Context } from 'koa';
import { createSessionActivity } from '../../src/session/session-activity.js';
import type { SessionFamily, SessionStore } from '../../src/session/store.js';

export const T0 = 1_700_000_000_000;
export const MINUTE = 60_000;
export const GRACE = 5_000;
export const IDLE = 10 * MINUTE;
export const ABSOLUTE = 60 * MINUTE;

export function family(overrides: Partial<SessionFamily> = {}): SessionFamily {
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

/** The rotation options at time `t`. */
export const at = (t: number) => ({ now: t, graceMs: GRACE, idleTtlMs: IDLE });

export interface StoreFixture<S extends SessionStore = SessionStore> {
  store: S;
  /**
   * The failure-counter window the contract cases use. Later failures come 4/5 of a window after the first.
   * A store whose own clock also expires counters (Redis key TTLs, real time) needs a window long enough that
   * only the caller's time decides within a test.
   */
  failureWindowMs: number;
  cleanup(): Promise<void>;
}

/** Store-specific tests, declared at the end of the contract group of the same name; `fixture()` is the current one. */
export interface StoreContractExtras<S extends SessionStore> {
  rotateFamily?: (fixture: () => StoreFixture<S>) => void;
  revokeUserAndIsSessionActive?: (fixture: () => StoreFixture<S>) => void;
  failureCounters?: (fixture: () => StoreFixture<S>) => void;
  sessionsList?: (fixture: () => StoreFixture<S>) => void;
}

/** The parts of a request createSessionActivity reads. */
const request = (ip: string, userAgent: string): Context => ({ ip, get: (name: string) => (name.toLowerCase() === 'user-agent' ? userAgent : '') }) as unknown as Context;
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
/** Lets the background writes of createSessionActivity reach the store. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/** `describe(name)` with the SessionStore contract cases, a fresh store from `setup` for each test. */
export function describeStoreContract<S extends SessionStore>(name: string, setup: () => Promise<StoreFixture<S>>, extra: StoreContractExtras<S> = {}): void {
  describe(name, () => {
    let current: StoreFixture<S> | undefined;
    const fixture = (): StoreFixture<S> => {
      if (!current) throw new Error('no store: fixture() is only for use inside a test');
      return current;
    };
    beforeEach(async () => {
      current = await setup();
    });
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    describe('rotateFamily', () => {
      it('rotates the current jti and remembers the previous one', async () => {
        const { store } = fixture();
        await store.createFamily(family());
        const result = await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0 + 1_000));
        assert.equal(result.status, 'rotated');
        assert.ok(result.status === 'rotated');
        assert.equal(result.family.currentJti, 'jti-1');
        assert.equal(result.family.previousJti, 'jti-0');
        assert.equal(result.family.lastRotatedAt, T0 + 1_000);
        assert.equal(result.family.revoked, false);
        assert.deepEqual(result.family, { ...family(), currentJti: 'jti-1', previousJti: 'jti-0', lastRotatedAt: T0 + 1_000 });
        // The new jti rotates in turn.
        const next = await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + 2_000));
        assert.equal(next.status, 'rotated');
      });

      it('keeps its own copy of the family: mutating the input or a result changes nothing', async () => {
        const { store } = fixture();
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
        const { store } = fixture();
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
        const { store } = fixture();
        await store.createFamily(family());
        await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
        assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), true);
        const reused = await store.rotateFamily('fam-1', 'jti-0', 'jti-x', at(T0 + GRACE + 1));
        assert.equal(reused.status, 'reused');
        assert.ok(reused.status === 'reused');
        assert.equal(reused.family.revoked, true);
        assert.equal(reused.family.currentJti, 'jti-1');
        // The legitimate holder of the latest token is out too.
        assert.equal((await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + GRACE + 2))).status, 'revoked');
        // At once, although a caching store held the session a moment ago.
        assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), false);
      });

      it('answers reused (and revokes) for an older or unknown jti, whatever the time', async () => {
        const { store } = fixture();
        await store.createFamily(family());
        await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
        await store.rotateFamily('fam-1', 'jti-1', 'jti-2', at(T0 + 1));
        // jti-0 is two rotations old: not the previous one, so no grace even at once.
        const old = await store.rotateFamily('fam-1', 'jti-0', 'jti-x', at(T0 + 2));
        assert.equal(old.status, 'reused');
        await store.createFamily(family({ id: 'fam-2' }));
        assert.equal((await store.rotateFamily('fam-2', 'never-issued', 'jti-x', at(T0))).status, 'reused');
        assert.equal((await store.rotateFamily('fam-2', 'jti-0', 'jti-1', at(T0))).status, 'revoked');
        // An empty jti never matches the "no previous jti" of a fresh family.
        await store.createFamily(family({ id: 'fam-3' }));
        assert.equal((await store.rotateFamily('fam-3', '', 'jti-1', at(T0))).status, 'reused');
      });

      it('answers expired (idle) once idleTtlMs has passed since the last rotation', async () => {
        const { store } = fixture();
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
        const { store } = fixture();
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
        const { store } = fixture();
        await store.createFamily(family());
        const revoked = await store.revokeFamily('fam-1');
        assert.equal(revoked?.revoked, true);
        assert.deepEqual(revoked, { ...family(), revoked: true });
        const result = await store.rotateFamily('fam-1', 'jti-0', 'jti-1', at(T0));
        assert.equal(result.status, 'revoked');
        assert.equal(await store.revokeFamily('nope'), undefined);
      });

      it('answers missing for an unknown family', async () => {
        const { store } = fixture();
        assert.deepEqual(await store.rotateFamily('nope', 'jti-0', 'jti-1', at(T0)), { status: 'missing' });
      });

      extra.rotateFamily?.(fixture);
    });

    describe('revokeUser and isSessionActive', () => {
      it('revokes every live family of the user and counts them; other users are untouched', async () => {
        const { store } = fixture();
        await store.createFamily(family({ id: 'a1' }));
        await store.createFamily(family({ id: 'a2' }));
        await store.createFamily(family({ id: 'a3' }));
        await store.createFamily(family({ id: 'b1', userId: 'u_bob', userName: 'bob' }));
        await store.revokeFamily('a3');
        const iat = T0 / 1000;
        // Ask once first, so a caching store also proves revokeUser drops its cache.
        assert.equal(await store.isSessionActive('a1', 'u_alice', iat), true);
        assert.equal(await store.revokeUser('u_alice', iat), 2);
        for (const id of ['a1', 'a2', 'a3']) assert.equal(await store.isSessionActive(id, 'u_alice', iat), false, id);
        assert.equal(await store.isSessionActive('b1', 'u_bob', iat), true);
        // Nothing live is left to revoke.
        assert.equal(await store.revokeUser('u_alice', iat), 0);
        assert.equal(await store.revokeUser('u_nobody', iat), 0);
      });

      it('applies the not-before time: a token issued before it is refused, one issued in the same second or later is not', async () => {
        const { store } = fixture();
        const nbf = T0 / 1000 + 100;
        await store.revokeUser('u_alice', nbf);
        await store.createFamily(family({ id: 'new', createdAt: nbf * 1000 }));
        assert.equal(await store.isSessionActive('new', 'u_alice', nbf - 1), false);
        assert.equal(await store.isSessionActive('new', 'u_alice', nbf), true);
        assert.equal(await store.isSessionActive('new', 'u_alice', nbf + 1), true);
        // Asked again (from a caching store's cache): the same answers.
        assert.equal(await store.isSessionActive('new', 'u_alice', nbf - 1), false);
        // A later revokeUser with an older time never moves not-before back.
        await store.revokeUser('u_alice', nbf - 50);
        assert.equal(await store.isSessionActive('new', 'u_alice', nbf - 1), false);
      });

      it('is false for an unknown session or a session of another user', async () => {
        const { store } = fixture();
        await store.createFamily(family());
        assert.equal(await store.isSessionActive('fam-1', 'u_alice', T0 / 1000), true);
        assert.equal(await store.isSessionActive('fam-1', 'u_mallory', T0 / 1000), false);
        assert.equal(await store.isSessionActive('nope', 'u_alice', T0 / 1000), false);
        // Cached or not, the family's owner is checked.
        assert.equal(await store.isSessionActive('fam-1', 'u_mallory', T0 / 1000), false);
      });

      extra.revokeUserAndIsSessionActive?.(fixture);
    });

    describe('failure counters', () => {
      /** 2 free attempts, then 1 s, 2 s ... capped at 4 s; a window of W. */
      const policy = (W: number) => ({ freeAttempts: 2, baseDelayMs: 1_000, maxDelayMs: Math.min(4_000, W), windowMs: W });
      const counters = (W: number, ...keys: string[]) => keys.map((key) => ({ key, policy: policy(W) }));

      it('counts per key, and keeps each key for windowMs after its latest attempt', async () => {
        const { store, failureWindowMs: W } = fixture();
        const later = (W * 4) / 5;
        assert.deepEqual(await store.takeAttempt(counters(W, 'a', 'b'), T0), { allowed: true, counts: [1, 1] });
        assert.deepEqual(await store.takeAttempt(counters(W, 'a'), T0 + later), { allowed: true, counts: [2] });
        assert.deepEqual(await store.getFailures(['a', 'b', 'c'], T0 + W), [{ count: 2, lastAt: T0 + later }, { count: 1, lastAt: T0 }, undefined]);
        // b expired at T0 + W; a's window was extended to T0 + later + W.
        assert.deepEqual(await store.getFailures(['a', 'b'], T0 + W + 1), [{ count: 2, lastAt: T0 + later }, undefined]);
        assert.deepEqual(await store.getFailures(['a'], T0 + later + W), [{ count: 2, lastAt: T0 + later }]);
        assert.deepEqual(await store.getFailures(['a'], T0 + later + W + 1), [undefined]);
      });

      it('refuses while a delay runs, records nothing then, and names the longest wait', async () => {
        const { store } = fixture();
        const W = MINUTE;
        for (let i = 1; i <= 3; i += 1) assert.deepEqual(await store.takeAttempt(counters(W, 'a', 'b'), T0), { allowed: true, counts: [i, i] });
        await store.takeAttempt(counters(W, 'b'), T0 + 1_000);
        // a: 3 attempts, waits until T0 + 1 s; b: 4 attempts, until T0 + 1 s + 2 s.
        assert.deepEqual(await store.takeAttempt(counters(W, 'a', 'b'), T0 + 500), { allowed: false, index: 1, count: 4, retryAfterMs: 2_500 });
        assert.deepEqual(await store.getFailures(['a', 'b'], T0 + 500), [{ count: 3, lastAt: T0 }, { count: 4, lastAt: T0 + 1_000 }]);
        assert.deepEqual(await store.takeAttempt(counters(W, 'a'), T0 + 999), { allowed: false, index: 0, count: 3, retryAfterMs: 1 });
        assert.deepEqual(await store.takeAttempt(counters(W, 'a'), T0 + 1_000), { allowed: true, counts: [4] });
      });

      it('gives attempts back, never below zero', async () => {
        const { store, failureWindowMs: W } = fixture();
        await store.takeAttempt(counters(W, 'a', 'b'), T0);
        await store.takeAttempt(counters(W, 'a'), T0);
        await store.returnAttempt(['a', 'b', 'unknown']);
        assert.deepEqual(await store.getFailures(['a', 'b', 'unknown'], T0), [{ count: 1, lastAt: T0 }, undefined, undefined]);
        await store.returnAttempt([]);
        assert.deepEqual(await store.takeAttempt(counters(W, 'b'), T0), { allowed: true, counts: [1] });
      });

      it('starts again from one after a window has expired', async () => {
        const { store, failureWindowMs: W } = fixture();
        await store.takeAttempt(counters(W, 'a'), T0);
        await store.takeAttempt(counters(W, 'a'), T0 + 10);
        assert.deepEqual(await store.takeAttempt(counters(W, 'a'), T0 + 2 * W), { allowed: true, counts: [1] });
      });

      it('counts N parallel attempts as N: exactly freeAttempts + 1 let through', async () => {
        const { store, failureWindowMs: W } = fixture();
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.takeAttempt(counters(W, `acct:${i}`, 'src'), T0)));
        assert.equal(results.filter((r) => r.allowed).length, 3);
        assert.deepEqual(await store.getFailures(['src'], T0), [{ count: 3, lastAt: T0 }]);
      });

      it('clears only the keys given', async () => {
        const { store, failureWindowMs: W } = fixture();
        await store.takeAttempt(counters(W, 'a', 'b'), T0);
        await store.clearFailures(['a', 'unknown']);
        assert.deepEqual(await store.getFailures(['a', 'b'], T0), [undefined, { count: 1, lastAt: T0 }]);
        assert.deepEqual(await store.takeAttempt(counters(W, 'a'), T0), { allowed: true, counts: [1] });
        assert.deepEqual(await store.getFailures([], T0), []);
        await store.clearFailures([]);
      });

      extra.failureCounters?.(fixture);
    });

    describe('listFamilies, touchFamily and revokeAll (the sessions list)', () => {
      const list = (store: SessionStore, t: number, userId = 'u_alice'): Promise<SessionFamily[]> => store.listFamilies(userId, { now: t, idleTtlMs: IDLE });
      const ids = (families: SessionFamily[]): string[] => families.map((f) => f.id);

      it('lists the user\'s live families oldest first, as stored, and no one else\'s', async () => {
        const { store } = fixture();
        await store.createFamily(family({ id: 'b', createdAt: T0 + 2_000, lastRotatedAt: T0 + 2_000 }));
        await store.createFamily(family({ id: 'a', createdAt: T0 + 1_000, lastRotatedAt: T0 + 1_000 }));
        // Same creation time: the id decides, so every store lists in the same order.
        await store.createFamily(family({ id: 'c', createdAt: T0 + 1_000, lastRotatedAt: T0 + 1_000 }));
        await store.createFamily(family({ id: 'bob-1', userId: 'u_bob', userName: 'bob' }));
        const listed = await list(store, T0 + 3_000);
        assert.deepEqual(ids(listed), ['a', 'c', 'b']);
        assert.deepEqual(listed[0], family({ id: 'a', createdAt: T0 + 1_000, lastRotatedAt: T0 + 1_000 }));
        assert.deepEqual(ids(await list(store, T0 + 3_000, 'u_bob')), ['bob-1']);
        assert.deepEqual(await list(store, T0, 'u_nobody'), []);
      });

      it('leaves out revoked, idle, absolutely expired and user-revoked families', async () => {
        const { store } = fixture();
        await store.createFamily(family({ id: 'live' }));
        await store.createFamily(family({ id: 'revoked' }));
        await store.createFamily(family({ id: 'idle', lastRotatedAt: T0 - IDLE }));
        await store.createFamily(family({ id: 'old', createdAt: T0 - ABSOLUTE, lastRotatedAt: T0, absoluteExpiresAt: T0 }));
        await store.revokeFamily('revoked');
        assert.deepEqual(ids(await list(store, T0)), ['live']);
        // Idle and absolute limits are judged by the caller's time.
        assert.deepEqual(ids(await list(store, T0 + IDLE)), []);
        await store.revokeUser('u_alice', T0 / 1000);
        assert.deepEqual(ids(await list(store, T0)), []);
      });

      it('touchFamily records last use, address and device; an older time or a revoked family changes nothing', async () => {
        const { store } = fixture();
        await store.createFamily(family());
        await store.createFamily(family({ id: 'gone' }));
        await store.touchFamily('fam-1', { at: T0 + 2_000, sourceIp: '203.0.113.7', device: 'Firefox 128 on Windows 10' });
        let [listed] = await list(store, T0 + 3_000);
        assert.deepEqual({ lastUsedAt: listed!.lastUsedAt, sourceIp: listed!.sourceIp, device: listed!.device }, { lastUsedAt: T0 + 2_000, sourceIp: '203.0.113.7', device: 'Firefox 128 on Windows 10' });
        // A late write of an earlier use never moves "last used" back.
        await store.touchFamily('fam-1', { at: T0 + 1_000, sourceIp: '198.51.100.1', device: 'Other' });
        [listed] = await list(store, T0 + 3_000);
        assert.deepEqual({ lastUsedAt: listed!.lastUsedAt, sourceIp: listed!.sourceIp, device: listed!.device }, { lastUsedAt: T0 + 2_000, sourceIp: '203.0.113.7', device: 'Firefox 128 on Windows 10' });
        // Without address or device, those stay as they were.
        await store.touchFamily('fam-1', { at: T0 + 2_500 });
        [listed] = await list(store, T0 + 3_000);
        assert.deepEqual({ lastUsedAt: listed!.lastUsedAt, sourceIp: listed!.sourceIp, device: listed!.device }, { lastUsedAt: T0 + 2_500, sourceIp: '203.0.113.7', device: 'Firefox 128 on Windows 10' });
        // Unknown and revoked families are not written (nor brought back).
        await store.touchFamily('nope', { at: T0 });
        await store.revokeFamily('gone');
        await store.touchFamily('gone', { at: T0 + 2_000, sourceIp: '203.0.113.8' });
        assert.deepEqual(ids(await list(store, T0 + 3_000)), ['fam-1']);
        assert.deepEqual((await store.rotateFamily('nope', 'jti-0', 'jti-1', at(T0))).status, 'missing');
        // Touching is not using the refresh token: the idle limit still counts from the last rotation.
        assert.deepEqual(ids(await list(store, T0 + IDLE)), []);
      });

      it('gets at most one write per session per interval from the session kit (createSessionActivity), whatever the request rate', async () => {
        const { store } = fixture();
        await store.createFamily(family());
        let writes = 0;
        const counted: Pick<SessionStore, 'touchFamily'> = {
          touchFamily: (id, activity) => {
            writes += 1;
            return store.touchFamily(id, activity);
          },
        };
        let t = T0;
        const activity = createSessionActivity({ store: counted, intervalMs: MINUTE, now: () => t });
        // 600 requests over 59.9 s: one write, the first; "last used" stays at its time.
        for (let i = 0; i < 600; i += 1) {
          t = T0 + i * 100;
          activity.record(request(i === 0 ? '203.0.113.7' : '198.51.100.1', FIREFOX), 'fam-1');
        }
        await settle();
        assert.equal(writes, 1);
        let [listed] = await list(store, t);
        assert.deepEqual({ lastUsedAt: listed!.lastUsedAt, sourceIp: listed!.sourceIp, device: listed!.device }, { lastUsedAt: T0, sourceIp: '203.0.113.7', device: 'Firefox 128 on Windows 10' });
        // A minute after the write: the next request writes once more.
        t = T0 + MINUTE;
        activity.record(request('198.51.100.1', FIREFOX), 'fam-1');
        activity.record(request('198.51.100.1', FIREFOX), 'fam-1');
        await settle();
        assert.equal(writes, 2);
        [listed] = await list(store, t);
        assert.deepEqual({ lastUsedAt: listed!.lastUsedAt, sourceIp: listed!.sourceIp }, { lastUsedAt: T0 + MINUTE, sourceIp: '198.51.100.1' });
        // A login forces a write (address and device are new).
        activity.record(request('192.0.2.1', FIREFOX), 'fam-1', true);
        await settle();
        assert.equal(writes, 3);
      });

      it('revokeAll ends every family created up to the cut-off, of every user, and none started later', async () => {
        const { store } = fixture();
        await store.createFamily(family({ id: 'a1' }));
        await store.createFamily(family({ id: 'b1', userId: 'u_bob', userName: 'bob', createdAt: T0 + 1_000, lastRotatedAt: T0 + 1_000 }));
        const iat = T0 / 1000;
        // Asked once first, so a caching store proves revokeAll drops its cache.
        assert.equal(await store.isSessionActive('a1', 'u_alice', iat), true);
        await store.revokeAll(T0 + 1_000);
        await store.createFamily(family({ id: 'a2', createdAt: T0 + 1_001, lastRotatedAt: T0 + 1_001 }));
        assert.equal(await store.isSessionActive('a1', 'u_alice', iat), false);
        assert.equal(await store.isSessionActive('b1', 'u_bob', iat + 1), false);
        assert.equal(await store.isSessionActive('a2', 'u_alice', iat + 1), true);
        assert.deepEqual(ids(await list(store, T0 + 2_000)), ['a2']);
        assert.deepEqual(await list(store, T0 + 2_000, 'u_bob'), []);
        assert.equal((await store.rotateFamily('a1', 'jti-0', 'jti-1', at(T0 + 2_000))).status, 'revoked');
        assert.equal((await store.rotateFamily('b1', 'jti-0', 'jti-1', at(T0 + 2_000))).status, 'revoked');
        assert.equal((await store.rotateFamily('a2', 'jti-0', 'jti-1', at(T0 + 2_000))).status, 'rotated');
        // The cut-off never moves back: an older one revives nothing and ends nothing newer.
        await store.revokeAll(T0);
        assert.equal(await store.isSessionActive('a1', 'u_alice', iat), false);
        assert.equal(await store.isSessionActive('a2', 'u_alice', iat + 1), true);
        // Ended sessions are not touched back to life.
        await store.touchFamily('a1', { at: T0 + 3_000 });
        assert.deepEqual(ids(await list(store, T0 + 3_000)), ['a2']);
      });

      extra.sessionsList?.(fixture);
    });
  });
}
