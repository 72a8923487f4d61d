import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration', () => {
  it('reads a bare number as seconds', () => {
    assert.equal(parseDuration('900'), 900_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('1.5'), 1_500);
  });

  it('reads ms, s, m, h and d', () => {
    const cases: Array<[string, number]> = [
      ['500ms', 500],
      ['30s', 30_000],
      ['15m', 900_000],
      ['12h', 43_200_000],
      ['7d', 604_800_000],
      ['1.5h', 5_400_000],
      ['0.5s', 500],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('accepts surrounding white space and a space before the unit', () => {
    assert.equal(parseDuration(' 15m '), 900_000);
    assert.equal(parseDuration('15 m'), 900_000);
  });

  it('rounds to whole milliseconds', () => {
    assert.equal(parseDuration('1.0004s'), 1_000);
    assert.equal(parseDuration('0.4ms'), 0);
  });

  it('returns undefined for anything that is not a duration', () => {
    const bad = ['', ' ', 'abc', '-5s', '+5s', '15x', '15M', '15 minutes', '1e3', '1e3s', 'Infinity', 'NaN', '.5s', '5.s', '0x10', '15m30s', '5s ago', '1,5s'];
    for (const text of bad) assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  });
});

describe('formatDuration', () => {
  it('uses the largest whole unit', () => {
    const cases: Array<[number, string]> = [
      [604_800_000, '7d'],
      [43_200_000, '12h'],
      [900_000, '15m'],
      [90_000, '90s'],
      [30_000, '30s'],
      [1_500, '1500ms'],
      [500, '500ms'],
      [0, '0ms'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms}`);
  });

  it('round-trips with parseDuration', () => {
    for (const ms of [1, 999, 1_000, 61_000, 3_600_000, 90_000_000, 604_800_000]) assert.equal(parseDuration(formatDuration(ms)), ms, `${ms}`);
  });
});
