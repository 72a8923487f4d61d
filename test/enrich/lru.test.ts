import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruCache } from '../../src/enrich/lru.js';

describe('LruCache', () => {
  it('keeps at most max entries, dropping the least recently used; null is a value, undefined a miss', () => {
    const cache = new LruCache<string, number | null>(2);
    cache.set('a', 1);
    cache.set('b', null);
    assert.equal(cache.get('a'), 1);
    cache.set('c', 3);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.equal(cache.get('a'), 1);
    cache.set('b', null);
    assert.equal(cache.get('b'), null);
    assert.equal(cache.get('c'), undefined);
  });

  it('size 0 remembers nothing', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
  });
});
