import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { createSessionCache } from '../../src/session/session-cache.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; set(ms: number): void } {
  let time = 0;
  return { now: () => time, set: (ms) => void (time = ms) };
}

describe('createSessionCache', () => {
  it('keeps an answer ttlMs from the start of its lookup, not from its arrival', () => {
    const clock = manualClock();
    const cache = createSessionCache({ ttlMs: 1000, maxEntries: 10, now: clock.now });
    const ticket = cache.begin();
    clock.set(400);
    cache.set('s', 'u', 5, ticket);
    assert.equal(cache.get('s', 'u', 5), true);
    assert.equal(cache.get('s', 'u', 4), false, 'issued before not-before');
    assert.equal(cache.get('s', 'v', 5), false, 'another user');
    clock.set(999);
    assert.equal(cache.get('s', 'u', 5), true);
    clock.set(1000);
    assert.equal(cache.get('s', 'u', 5), undefined);
    assert.equal(cache.size, 0, 'the expired entry is gone');
  });

  it('never keeps an answer that was in flight while anything was invalidated', () => {
    const cache = createSessionCache({ ttlMs: 1000, now: () => 0 });
    for (const invalidate of [() => cache.invalidateSession('other'), () => cache.invalidateUser('other'), () => cache.clear()]) {
      const before = cache.begin();
      assert.equal(cache.current(before), true);
      invalidate();
      assert.equal(cache.current(before), false);
      cache.set('s', 'u', 0, before);
      assert.equal(cache.get('s', 'u', 0), undefined);
    }
  });

  it('claims one background refresh per entry, from half its life on', () => {
    const clock = manualClock();
    const cache = createSessionCache({ ttlMs: 200, now: clock.now });
    cache.set('s', 'u', 0, cache.begin());
    clock.set(99);
    const entry = cache.peek('s')!;
    assert.equal(cache.claimRefresh(entry), false);
    clock.set(100);
    assert.equal(cache.claimRefresh(entry), false, 'goes by the time of the latest peek');
    assert.equal(cache.peek('s'), entry);
    assert.equal(cache.claimRefresh(entry), true);
    assert.equal(cache.claimRefresh(entry), false, 'already refreshing');
    // The refreshed answer is a new entry, refreshable again at half of its own life.
    cache.set('s', 'u', 0, cache.begin());
    clock.set(200);
    assert.equal(cache.claimRefresh(cache.peek('s')!), true);
  });

  it('holds at most maxEntries, dropping the oldest, and drops a user\'s entries together', () => {
    const cache = createSessionCache({ ttlMs: 1000, maxEntries: 10, now: () => 0 });
    for (let i = 0; i < 20; i += 1) cache.set(`k${i}`, i % 2 ? 'odd' : 'even', 0, cache.begin());
    assert.equal(cache.size, 10);
    assert.equal(cache.peek('k9'), undefined);
    assert.equal(cache.peek('k10')?.userId, 'even');
    cache.invalidateUser('odd');
    assert.equal(cache.size, 5);
  });

  it('keeps nothing when ttlMs is 0', () => {
    const cache = createSessionCache({ ttlMs: 0, now: () => 0 });
    cache.set('s', 'u', 0, cache.begin());
    assert.equal(cache.size, 0);
  });

  it('validates its options once, at construction', () => {
    assert.throws(() => createSessionCache({ ttlMs: -1 }), ConfigurationError);
    assert.throws(() => createSessionCache({ maxEntries: 0 }), ConfigurationError);
    assert.throws(() => createSessionCache({ now: 'performance' as never }), ConfigurationError);
  });
});
