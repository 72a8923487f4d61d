import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import {
  createLoginThrottle,
  DEFAULT_THROTTLE_POLICIES,
  delayFor,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottlePolicy,
} from '../../src/session/login-throttle.js';
import { createMemoryStore, type SessionStore } from '../../src/session/store.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2030, 0, 1);

/** A small policy used where the numbers themselves do not matter: 3 free, then 1 s, 2 s, 4 s, 8 s (cap). */
const SMALL: ThrottlePolicy = { freeAttempts: 3, baseDelayMs: SECOND, maxDelayMs: 8 * SECOND, windowMs: MINUTE };
/** A policy that never throttles within these tests, to isolate one scope. */
const NEVER: ThrottlePolicy = { freeAttempts: 1_000_000, baseDelayMs: SECOND, maxDelayMs: SECOND, windowMs: MINUTE };

describe('delayFor', () => {
  it('costs nothing for the free attempts', () => {
    for (let failures = 0; failures <= SMALL.freeAttempts; failures += 1) assert.equal(delayFor(SMALL, failures), 0, `${failures}`);
  });

  it('starts at baseDelayMs after the free attempts and doubles each failure', () => {
    const policy: ThrottlePolicy = { freeAttempts: 5, baseDelayMs: 250, maxDelayMs: 10 * MINUTE, windowMs: 10 * MINUTE };
    assert.deepEqual([6, 7, 8, 9, 10].map((n) => delayFor(policy, n)), [250, 500, 1_000, 2_000, 4_000]);
  });

  it('never exceeds maxDelayMs, even for absurd counts (no overflow to Infinity or NaN)', () => {
    assert.equal(delayFor(SMALL, 4), 1_000);
    assert.equal(delayFor(SMALL, 7), 8_000);
    assert.equal(delayFor(SMALL, 8), 8_000);
    for (const failures of [100, 1_025, 1e9, Number.MAX_SAFE_INTEGER]) assert.equal(delayFor(SMALL, failures), SMALL.maxDelayMs, `${failures}`);
  });

  it('caps the per-account delay of the default policies at 60 s', () => {
    assert.equal(DEFAULT_THROTTLE_POLICIES.account.maxDelayMs, MINUTE);
    assert.equal(delayFor(DEFAULT_THROTTLE_POLICIES.account, 1_000), MINUTE);
    // The strict account+source scope may wait much longer: it only ever slows down one address.
    assert.ok(delayFor(DEFAULT_THROTTLE_POLICIES.account_source, 1_000) > MINUTE);
  });
});

describe('createLoginThrottle', () => {
  let clock = T0;
  const stores: SessionStore[] = [];
  const make = (policies?: LoginThrottleOptions['policies']): LoginThrottle => {
    const store = createMemoryStore({ now: () => clock });
    stores.push(store);
    return createLoginThrottle({ store, policies, now: () => clock });
  };
  const failTimes = async (throttle: LoginThrottle, count: number, account: string | undefined, source: string): Promise<void> => {
    for (let i = 0; i < count; i += 1) await throttle.fail(account, source);
  };
  afterEach(async () => {
    clock = T0;
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it('lets the free attempts through without any wait', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    for (let i = 0; i < SMALL.freeAttempts; i += 1) {
      assert.equal(await throttle.check('alice', '10.0.0.1'), undefined, `before failure ${i + 1}`);
      assert.deepEqual(await throttle.fail('alice', '10.0.0.1'), []);
    }
    assert.equal(await throttle.check('alice', '10.0.0.1'), undefined);
  });

  it('delays from the next failure on, doubling up to the cap, counted from the latest failure', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    await failTimes(throttle, SMALL.freeAttempts + 1, 'alice', '10.0.0.1');
    assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { scope: 'account_source', retryAfterMs: 1_000, failures: 4 });

    clock += 999;
    assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { scope: 'account_source', retryAfterMs: 1, failures: 4 });
    clock += 1;
    assert.equal(await throttle.check('alice', '10.0.0.1'), undefined);

    const waits: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      await throttle.fail('alice', '10.0.0.1');
      const verdict = await throttle.check('alice', '10.0.0.1');
      assert.ok(verdict);
      waits.push(verdict.retryAfterMs);
      clock += verdict.retryAfterMs;
    }
    assert.deepEqual(waits, [2_000, 4_000, 8_000, 8_000, 8_000, 8_000]);
  });

  it('reports a lock verdict exactly once per scope, on the failure that starts the delay', async () => {
    const throttle = make({
      account_source: { ...SMALL, freeAttempts: 2 },
      account: { ...SMALL, freeAttempts: 4 },
      source: { ...SMALL, freeAttempts: 6 },
    });
    const locks: string[][] = [];
    for (let i = 0; i < 9; i += 1) locks.push((await throttle.fail('alice', '10.0.0.1')).map((v) => `${v.scope}:${v.failures}:${v.retryAfterMs}`));
    assert.deepEqual(locks, [
      [], [], ['account_source:3:1000'], [], ['account:5:1000'], [], ['source:7:1000'], [], [],
    ]);
  });

  it('answers with the longest wait when several scopes delay at once', async () => {
    const throttle = make({
      account_source: { freeAttempts: 1, baseDelayMs: 5 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
      account: { freeAttempts: 1, baseDelayMs: 20 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
      source: { freeAttempts: 1, baseDelayMs: 10 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
    });
    await failTimes(throttle, 2, 'alice', '10.0.0.1');
    assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { scope: 'account', retryAfterMs: 20 * SECOND, failures: 2 });
  });

  it('caps what an attacker can do to a victim: 1000 failures on alice from many IPs, alice waits at most 60 s', async () => {
    // The default policies, as deployed.
    const throttle = make();
    for (let i = 0; i < 1_000; i += 1) {
      const ip = `198.51.${100 + (i >> 8)}.${i & 255}`;
      await throttle.fail('alice', ip);
      // A distributed attack spreads over time, too; the cap holds at every point along the way.
      if (i % 100 === 99) clock += 7 * SECOND;
    }
    const verdict = await throttle.check('alice', '203.0.113.50');
    assert.ok(verdict, 'the account scope slows the distributed guess down');
    assert.equal(verdict.scope, 'account');
    assert.equal(verdict.failures, 1_000);
    assert.ok(verdict.retryAfterMs > 0 && verdict.retryAfterMs <= MINUTE, `waits ${verdict.retryAfterMs} ms`);

    clock += MINUTE;
    assert.equal(await throttle.check('alice', '203.0.113.50'), undefined, 'after 60 s alice may try again');
  });

  it('caps the victim wait at 60 s even when one attacking IP hammers the account', async () => {
    const throttle = make();
    await failTimes(throttle, 1_000, 'alice', '198.51.100.66');
    const attacker = await throttle.check('alice', '198.51.100.66');
    assert.ok(attacker && attacker.retryAfterMs > MINUTE, 'the attacking address itself waits much longer');
    const victim = await throttle.check('alice', '203.0.113.50');
    assert.ok(victim && victim.retryAfterMs <= MINUTE, `victim waits ${victim?.retryAfterMs} ms`);
  });

  it('forgets failures windowMs after the latest one (a sliding, not fixed, window)', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    await failTimes(throttle, SMALL.freeAttempts + 2, 'alice', '10.0.0.1');
    assert.ok(await throttle.check('alice', '10.0.0.1'));

    // A failure half a window later keeps the whole count alive past the first failure's window.
    clock += SMALL.windowMs / 2;
    await throttle.fail('alice', '10.0.0.1');
    clock += SMALL.windowMs / 2 + 1;
    assert.deepEqual(await throttle.check('alice', '10.0.0.1'), undefined, 'the 4 s delay is long over');
    assert.deepEqual(await throttle.fail('alice', '10.0.0.1'), [], 'still counting: 7 failures, no new lock');
    assert.equal((await throttle.check('alice', '10.0.0.1'))?.failures, SMALL.freeAttempts + 4);

    clock += SMALL.windowMs + 1;
    assert.equal(await throttle.check('alice', '10.0.0.1'), undefined);
    await failTimes(throttle, SMALL.freeAttempts, 'alice', '10.0.0.1');
    assert.equal(await throttle.check('alice', '10.0.0.1'), undefined, 'the count started again from zero');
    assert.equal(await throttle.succeed('alice', '10.0.0.1'), SMALL.freeAttempts);
  });

  it('a success clears the account+source counter, and only that one', async () => {
    const throttle = make({
      account_source: SMALL,
      account: { ...SMALL, freeAttempts: 5 },
      source: { ...SMALL, freeAttempts: 6 },
    });
    await failTimes(throttle, 4, 'alice', '10.0.0.1');
    assert.equal((await throttle.check('alice', '10.0.0.1'))?.scope, 'account_source');
    await failTimes(throttle, 1, 'alice', '10.0.0.2');
    await failTimes(throttle, 2, 'bob', '10.0.0.1');
    clock += 2 * SECOND;

    assert.equal(await throttle.succeed('alice', '10.0.0.1'), 4);
    assert.equal(await throttle.check('alice', '10.0.0.1'), undefined);
    assert.equal(await throttle.succeed('alice', '10.0.0.1'), 0, 'nothing left to clear');

    // The account counter (5 failures) still stands: one more failure from anywhere starts its delay.
    assert.deepEqual((await throttle.fail('alice', '10.0.0.3')).map((v) => v.scope), ['account']);
    assert.equal((await throttle.check('alice', '10.0.0.1'))?.scope, 'account');
    // So does the source counter of 10.0.0.1 (4 alice + 2 bob): one more failure there starts its delay too.
    clock += 2 * SECOND;
    assert.deepEqual((await throttle.fail('carol', '10.0.0.1')).map((v) => v.scope), ['source']);
    assert.equal((await throttle.check('dave', '10.0.0.1'))?.scope, 'source');
  });

  it('counts password spraying per source: many accounts from one address', async () => {
    const throttle = make({ account_source: NEVER, account: NEVER, source: { ...SMALL, freeAttempts: 10 } });
    for (let i = 0; i < 10; i += 1) {
      assert.equal(await throttle.check(`user${i}`, '10.9.9.9'), undefined);
      assert.deepEqual(await throttle.fail(`user${i}`, '10.9.9.9'), []);
    }
    assert.deepEqual(await throttle.fail('user10', '10.9.9.9'), [{ scope: 'source', retryAfterMs: 1_000, failures: 11 }]);
    assert.deepEqual(await throttle.check('someone-new', '10.9.9.9'), { scope: 'source', retryAfterMs: 1_000, failures: 11 });
    assert.deepEqual(await throttle.check(undefined, '10.9.9.9'), { scope: 'source', retryAfterMs: 1_000, failures: 11 }, 'malformed names too');
    assert.equal(await throttle.check('someone-new', '10.9.9.10'), undefined, 'another address is not affected');
  });

  it('counts attempts without a usable account name against the source only', async () => {
    const throttle = make({ account_source: { ...SMALL, freeAttempts: 0 }, account: { ...SMALL, freeAttempts: 0 }, source: { ...SMALL, freeAttempts: 2 } });
    assert.deepEqual(await throttle.fail(undefined, '10.0.0.1'), []);
    assert.deepEqual(await throttle.fail(undefined, '10.0.0.1'), []);
    assert.deepEqual(await throttle.fail(undefined, '10.0.0.1'), [{ scope: 'source', retryAfterMs: 1_000, failures: 3 }]);
    assert.equal(await throttle.check('alice', '10.0.0.2'), undefined, 'no account was charged');
  });

  it('validates its policies once, at construction', () => {
    const store = createMemoryStore();
    stores.push(store);
    const bad: Array<LoginThrottleOptions['policies']> = [
      { account: { freeAttempts: -1 } },
      { source: { baseDelayMs: Number.NaN } },
      { account_source: { maxDelayMs: Number.POSITIVE_INFINITY } },
      { account: { maxDelayMs: 10 * MINUTE, windowMs: MINUTE } },
    ];
    for (const policies of bad) {
      assert.throws(() => createLoginThrottle({ store, policies }), ConfigurationError, JSON.stringify(policies));
    }
    assert.throws(() => createLoginThrottle({ store, policies: { account: { windowMs: 30 * SECOND } } }), /account\.windowMs must be at least its maxDelayMs/);
  });
});
