import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackoff } from '../../src/elastic/backoff.js';
import { ConfigurationError } from '../../src/errors.js';

describe('createBackoff', () => {
  it('doubles the ceiling per attempt up to maxMs, and the delay is random × ceiling (full jitter)', () => {
    const almostOne = 1 - Number.EPSILON;
    const top = createBackoff({ baseMs: 100, maxMs: 1000, random: () => almostOne });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => Math.round(top(n))), [100, 200, 400, 800, 1000, 1000]);
    const half = createBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });
    assert.deepEqual([1, 2, 3, 4, 5].map(half), [50, 100, 200, 400, 500]);
  });

  it('can retry at once: full jitter starts at zero, not at half the ceiling', () => {
    const zero = createBackoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    assert.equal(zero(1), 0);
    assert.equal(zero(10), 0);
  });

  it('stays finite and within maxMs for huge attempt numbers, and treats attempt 0 as the first', () => {
    const backoff = createBackoff({ baseMs: 250, maxMs: 30_000, random: () => 0.999 });
    for (const attempt of [0, 1, 50, 1e6, Number.MAX_SAFE_INTEGER]) {
      const delay = backoff(attempt);
      assert.ok(Number.isFinite(delay) && delay >= 0 && delay < 30_000, `attempt ${attempt}: ${delay}`);
    }
    assert.equal(backoff(0), backoff(1));
  });

  it('spreads delays over the whole window with Math.random', () => {
    const backoff = createBackoff({ baseMs: 1000, maxMs: 1000 });
    const delays = Array.from({ length: 2000 }, () => backoff(1));
    assert.ok(delays.every((d) => d >= 0 && d < 1000));
    assert.ok(delays.some((d) => d < 100), 'some delays fall in the lowest tenth');
    assert.ok(delays.some((d) => d > 900), 'some fall in the highest tenth');
  });

  it('refuses bad options at construction', () => {
    assert.throws(() => createBackoff({ baseMs: 0, maxMs: 10 }), ConfigurationError);
    assert.throws(() => createBackoff({ baseMs: Number.NaN, maxMs: 10 }), /baseMs/);
    assert.throws(() => createBackoff({ baseMs: 100, maxMs: 50 }), /maxMs/);
    assert.throws(() => createBackoff({ baseMs: 100, maxMs: Infinity }), /maxMs/);
    assert.throws(() => createBackoff({ baseMs: 100, maxMs: 200, random: 0.5 as never }), /random/);
  });
});
