import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import {
  createLoginThrottle,
  DEFAULT_THROTTLE_POLICIES,
  delayFor,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleEscalation,
  type ThrottlePolicy,
  type ThrottleVerdict,
} from '../../src/session/login-throttle.js';
import { capCount } from '../../src/session/throttle-policy.js';
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

describe('capCount', () => {
  it('is the count whose delay first reaches maxDelayMs: 17 for the default account scope (1 s doubling to 60 s)', () => {
    assert.equal(capCount(DEFAULT_THROTTLE_POLICIES.account), 17);
    assert.equal(delayFor(DEFAULT_THROTTLE_POLICIES.account, 16), 32 * SECOND);
    assert.equal(capCount(SMALL), 7);
    assert.equal(capCount({ ...SMALL, baseDelayMs: 10 * SECOND }), 4, 'a base above the cap reaches it at once');
    assert.equal(capCount({ ...SMALL, maxDelayMs: 0 }), undefined, 'a scope that never delays never maxes');
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
  /** One attempt that fails: its escalation, or the verdict that refused it. */
  const fail = async (throttle: LoginThrottle, account: string | undefined, source: string, device?: string): Promise<ThrottleEscalation | ThrottleVerdict> => {
    const decision = await throttle.attempt({ account, source, device });
    return decision.allowed ? decision.ticket.fail() : decision.verdict;
  };
  const succeed = async (throttle: LoginThrottle, account: string, source: string, device?: string): Promise<number | ThrottleVerdict> => {
    const decision = await throttle.attempt({ account, source, device });
    return decision.allowed ? decision.ticket.succeed() : decision.verdict;
  };
  const failTimes = async (throttle: LoginThrottle, count: number, account: string | undefined, source: string): Promise<void> => {
    for (let i = 0; i < count; i += 1) assert.ok('locked' in (await fail(throttle, account, source)), `failure ${i + 1} was let through`);
  };
  afterEach(async () => {
    clock = T0;
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it('lets the free attempts and the one that starts the delay through, then refuses without counting', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    await failTimes(throttle, SMALL.freeAttempts + 1, 'alice', '10.0.0.1');
    for (let i = 0; i < 5; i += 1) assert.deepEqual(await fail(throttle, 'alice', '10.0.0.1'), { scope: 'account_source', retryAfterMs: 1_000, failures: 4 });
    clock += 999;
    assert.deepEqual(await fail(throttle, 'alice', '10.0.0.1'), { scope: 'account_source', retryAfterMs: 1, failures: 4 });
    clock += 1;
    const waits: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      assert.ok('locked' in (await fail(throttle, 'alice', '10.0.0.1')));
      const verdict = await fail(throttle, 'alice', '10.0.0.1') as ThrottleVerdict;
      waits.push(verdict.retryAfterMs);
      clock += verdict.retryAfterMs;
    }
    assert.deepEqual(waits, [2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('reports lock and max exactly once per scope, on the failures that start the delay and reach its cap', async () => {
    const throttle = make({
      account_source: { ...SMALL, freeAttempts: 2, maxDelayMs: 2 * SECOND },
      account: { ...SMALL, freeAttempts: 4, maxDelayMs: SECOND },
      source: NEVER,
    });
    const seen: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const outcome = await fail(throttle, 'alice', '10.0.0.1');
      if ('locked' in outcome) {
        seen.push([...outcome.locked.map((v) => `lock:${v.scope}:${v.failures}`), ...outcome.maxed.map((v) => `max:${v.scope}:${v.failures}:${v.retryAfterMs}`)].join(' '));
      } else {
        seen.push('refused');
        clock += outcome.retryAfterMs;
      }
    }
    assert.deepEqual(seen, ['', '', 'lock:account_source:3', 'refused', 'max:account_source:4:2000', 'refused', 'lock:account:5 max:account:5:1000', 'refused']);
  });

  it('answers with the longest wait when several scopes delay at once', async () => {
    const throttle = make({
      account_source: { freeAttempts: 1, baseDelayMs: 5 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
      account: { freeAttempts: 1, baseDelayMs: 20 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
      source: { freeAttempts: 1, baseDelayMs: 10 * SECOND, maxDelayMs: MINUTE, windowMs: MINUTE },
    });
    await failTimes(throttle, 2, 'alice', '10.0.0.1');
    assert.deepEqual(await fail(throttle, 'alice', '10.0.0.1'), { scope: 'account', retryAfterMs: 20 * SECOND, failures: 2 });
  });

  it('caps what strangers can do to a new device: 1000 patient guesses from many addresses, alice waits at most 60 s', async () => {
    const throttle = make();
    let guesses = 0;
    for (let i = 0; guesses < 1_000; i += 1) {
      const outcome = await fail(throttle, 'alice', `198.51.${100 + ((i >> 8) & 255)}.${i & 255}`);
      if ('locked' in outcome) guesses += 1;
      else clock += outcome.retryAfterMs;
    }
    const verdict = await fail(throttle, 'alice', '203.0.113.50') as ThrottleVerdict;
    assert.equal(verdict.scope, 'account');
    assert.ok(verdict.retryAfterMs > 0 && verdict.retryAfterMs <= MINUTE, `waits ${verdict.retryAfterMs} ms`);
    clock += verdict.retryAfterMs;
    assert.equal(await succeed(throttle, 'alice', '203.0.113.50'), 0, 'after the wait alice gets in');
  });

  it('judges a known device in its own bucket: the account lock does not touch it, its own failures lock it', async () => {
    const throttle = make({ device: SMALL, account_source: NEVER, account: { ...SMALL, maxDelayMs: MINUTE, windowMs: MINUTE }, source: NEVER });
    for (let i = 0; i < 20; i += 1) await fail(throttle, 'alice', `198.51.100.${i}`);
    assert.equal((await fail(throttle, 'alice', '203.0.113.50') as ThrottleVerdict).scope, 'account');
    assert.equal(await succeed(throttle, 'alice', '203.0.113.50', 'dev-1'), 0, 'the known device logs in at once');

    // Someone guessing with a stolen device cookie: the device's own small budget.
    const outcomes = [];
    for (let i = 0; i < SMALL.freeAttempts + 2; i += 1) outcomes.push(await fail(throttle, 'alice', `192.0.2.${i}`, 'dev-1'));
    assert.deepEqual(outcomes.at(-2), { locked: [{ scope: 'device', retryAfterMs: 1_000, failures: 4 }], maxed: [] });
    assert.deepEqual(outcomes.at(-1), { scope: 'device', retryAfterMs: 1_000, failures: 4 });
    assert.equal((await fail(throttle, 'alice', '192.0.2.9', 'dev-2') as ThrottleEscalation).locked.length, 0, 'another device is not affected');
    clock += SECOND;
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1', 'dev-1'), 4, 'its success clears the device bucket');
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1', 'dev-1'), 0);
  });

  it('gives a success\'s attempt back: 100 logins through one address never throttle it', async () => {
    const throttle = make({ account_source: SMALL, account: SMALL, source: SMALL });
    for (let i = 0; i < 100; i += 1) assert.equal(await succeed(throttle, `user${i % 7}`, '10.0.0.1'), 0, `login ${i}`);
  });

  it('a success clears the account+source counter and leaves the others', async () => {
    const throttle = make({ account_source: SMALL, account: { ...SMALL, freeAttempts: 5 }, source: { ...SMALL, freeAttempts: 6 } });
    await failTimes(throttle, 3, 'alice', '10.0.0.1');
    await failTimes(throttle, 2, 'alice', '10.0.0.2');
    await failTimes(throttle, 2, 'bob', '10.0.0.1');
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1'), 3);
    // account: 5 failures, so the next failure from anywhere starts its delay; source 10.0.0.1: 5, one more free.
    assert.deepEqual((await fail(throttle, 'alice', '10.0.0.3') as ThrottleEscalation).locked.map((v) => v.scope), ['account']);
    assert.deepEqual((await fail(throttle, 'carol', '10.0.0.1') as ThrottleEscalation).locked, []);
    assert.deepEqual((await fail(throttle, 'carol', '10.0.0.1') as ThrottleEscalation).locked.map((v) => v.scope), ['source']);
  });

  it('does not count attempts of this process still under way as prior failures: three parallel logins all succeed clean', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    const decisions = await Promise.all([1, 2, 3].map(() => throttle.attempt({ account: 'alice', source: '10.0.0.1' })));
    const prior = await Promise.all(decisions.map((d) => (d.allowed ? d.ticket.succeed() : Promise.reject(new Error('refused')))));
    assert.deepEqual(prior, [0, 0, 0], 'a double-clicked login is not a success after failures');
    // Real failures still show, in parallel as in sequence.
    await failTimes(throttle, 2, 'alice', '10.0.0.1');
    const [a, b] = await Promise.all([1, 2].map(() => throttle.attempt({ account: 'alice', source: '10.0.0.1' })));
    assert.ok(a?.allowed && b?.allowed);
    assert.deepEqual(await Promise.all([a.ticket.succeed(), b.ticket.succeed()]), [2, 2], 'both started after the two failures');
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1'), 0, 'a success cleared the counter');
  });

  it('an attempt that ends in an error stays counted as a failure and is no longer under way', async () => {
    const throttle = make({ account_source: SMALL, account: NEVER, source: NEVER });
    const broken = await throttle.attempt({ account: 'alice', source: '10.0.0.1' });
    assert.ok(broken.allowed);
    broken.ticket.end();
    broken.ticket.end();
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1'), 1);
    // Refused attempts are not under way either.
    await failTimes(throttle, SMALL.freeAttempts + 1, 'alice', '10.0.0.1');
    assert.ok('scope' in (await fail(throttle, 'alice', '10.0.0.1')));
    clock += SMALL.maxDelayMs;
    assert.equal(await succeed(throttle, 'alice', '10.0.0.1'), SMALL.freeAttempts + 1);
  });

  it('counts attempts without a usable account name against the source only', async () => {
    const throttle = make({ account_source: { ...SMALL, freeAttempts: 0 }, account: { ...SMALL, freeAttempts: 0 }, source: { ...SMALL, freeAttempts: 2 } });
    await failTimes(throttle, 2, undefined, '10.0.0.1');
    assert.deepEqual(await fail(throttle, undefined, '10.0.0.1'), { locked: [{ scope: 'source', retryAfterMs: 1_000, failures: 3 }], maxed: [] });
    assert.deepEqual(await fail(throttle, 'alice', '10.0.0.1'), { scope: 'source', retryAfterMs: 1_000, failures: 3 });
    assert.ok('locked' in (await fail(throttle, 'alice', '10.0.0.2')), 'no account was charged');
  });

  it('counts 50 parallel attempts for 50 accounts from one source as 50: 31 judged, 19 refused, as in sequence', async () => {
    const parallel = make();
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => fail(parallel, `user${i}`, '10.0.0.1')));
    const sequential = make();
    const inSequence = [];
    for (let i = 0; i < 50; i += 1) inSequence.push(await fail(sequential, `user${i}`, '10.0.0.1'));
    const judged = (list: unknown[]) => list.filter((o) => typeof o === 'object' && o !== null && 'locked' in o).length;
    assert.equal(judged(outcomes), 31);
    assert.equal(judged(inSequence), 31);
  });

  it('validates its policies once, at construction', () => {
    const store = createMemoryStore();
    stores.push(store);
    const bad: Array<LoginThrottleOptions['policies']> = [
      { account: { freeAttempts: -1 } },
      { source: { baseDelayMs: Number.NaN } },
      { account_source: { maxDelayMs: Number.POSITIVE_INFINITY } },
      { device: { maxDelayMs: 10 * MINUTE, windowMs: MINUTE } },
      { accounts: { freeAttempts: 1 } } as LoginThrottleOptions['policies'],
    ];
    for (const policies of bad) {
      assert.throws(() => createLoginThrottle({ store, policies }), ConfigurationError, JSON.stringify(policies));
    }
    assert.throws(() => createLoginThrottle({ store, policies: { account: { windowMs: 30 * SECOND } } }), /account\.windowMs must be at least its maxDelayMs/);
  });
});
