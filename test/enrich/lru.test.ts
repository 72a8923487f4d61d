import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruCache } from '../../src/enrich/lru.js';

describe('LruCache', () => {
  it('null is a value, undefined a miss', () => {
    const cache = new LruCache<string, number | null>(4);
    cache.set('a', 1);
    cache.set('b', null);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('b'), null);
    assert.equal(cache.get('c'), undefined);
  });

  it('never holds more than 2 × max entries, however many keys come', () => {
    const cache = new LruCache<number, number>(100);
    for (let i = 0; i < 100_000; i += 1) {
      cache.set(i, i);
      assert.ok(cache.size <= 200);
    }
    assert.equal(cache.get(99_999), 99_999);
    assert.equal(cache.get(0), undefined);
  });

  it('what is used stays; what is not used for two generations goes', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('hot', 1);
    cache.set('a', 2);
    // Generation full: 'hot' and 'a' become old.
    cache.set('b', 3);
    assert.equal(cache.get('hot'), 1, 'a hit in the old generation brings it back');
    cache.set('c', 4);
    cache.set('d', 5);
    assert.equal(cache.get('a'), undefined, 'unused for two generations: gone');
    assert.equal(cache.get('hot'), 1);
  });

  it('size 0 remembers nothing', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
  });
});
