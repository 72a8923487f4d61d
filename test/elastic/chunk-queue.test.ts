import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BulkItem } from '../../src/elastic/bulk-request.js';
import { createChunkQueue, newChunk, type Chunk } from '../../src/elastic/chunk-queue.js';

const items = (path: string, n: number): BulkItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${path}-${i}`, index: 'p-events-2025.01.01', line: `{"n":${i}}`, family: 'events' }));

/** A queue whose "disk" is a map of path → items, recording every read. */
function queueWith(maxMemoryBytes: number, keepLoaded = 1) {
  const disk = new Map<string, BulkItem[]>();
  const reads: string[] = [];
  const queue = createChunkQueue({
    maxMemoryBytes,
    keepLoaded,
    read: (chunk) => {
      reads.push(chunk.path);
      return disk.get(chunk.path)!.map((item) => ({ ...item }));
    },
  });
  const add = (path: string, bytes: number, n = 3): Chunk => {
    disk.set(path, items(path, n));
    const chunk = newChunk(path, bytes, items(path, n));
    queue.add(chunk);
    return chunk;
  };
  return { queue, add, reads, disk };
}

const loaded = (queue: ReturnType<typeof createChunkQueue>): string[] => queue.chunks().filter((c) => c.items).map((c) => c.path);

describe('createChunkQueue', () => {
  it('keeps chunks oldest first and counts what is owed, memory and disk', () => {
    const { queue, add } = queueWith(1000);
    const a = add('a', 100, 3);
    add('b', 200, 5);
    assert.deepEqual(queue.chunks().map((c) => c.path), ['a', 'b']);
    assert.equal(queue.size, 2);
    assert.equal(queue.owed(), 8);
    assert.equal(queue.memoryBytes, 300);
    assert.equal(queue.spoolBytes, 300);
    a.pending = [2];
    assert.equal(queue.owed(), 6, 'a chunk with pending retries owes only those');
    queue.remove(a);
    assert.deepEqual(queue.chunks().map((c) => c.path), ['b']);
    assert.equal(queue.memoryBytes, 200);
    assert.equal(queue.spoolBytes, 200);
    queue.remove(a);
    assert.equal(queue.spoolBytes, 200, 'removing twice changes nothing');
  });

  it('over the bound, lets go of the newest chunks first and never of the oldest keepLoaded', () => {
    const { queue, add } = queueWith(250, 1);
    add('a', 100);
    add('b', 100);
    add('c', 100);
    assert.deepEqual(loaded(queue), ['a', 'b'], 'c, the newest, went to disk only');
    assert.equal(queue.memoryBytes, 200);
    add('d', 300);
    assert.deepEqual(loaded(queue), ['a', 'b'], 'a chunk bigger than the bound waits on disk');
    assert.equal(queue.spoolBytes, 600);

    const tight = queueWith(10, 2);
    tight.add('x', 100);
    tight.add('y', 100);
    tight.add('z', 100);
    assert.deepEqual(loaded(tight.queue), ['x', 'y'], 'the next chunks to send stay in memory even over the bound');
  });

  it('never drops a chunk in flight or a pinned one', () => {
    const { queue, add } = queueWith(1000, 0);
    const a = add('a', 100);
    const b = add('b', 100);
    a.inFlight = true;
    b.pinned = true;
    queue.trim(10_000);
    assert.deepEqual(loaded(queue), ['a', 'b']);
    a.inFlight = false;
    queue.trim(10_000);
    assert.deepEqual(loaded(queue), ['b']);
  });

  it('re-reads a dropped chunk from disk on load, in file order, and counts it in memory again', () => {
    const { queue, add, reads } = queueWith(150, 1);
    add('a', 100, 2);
    const b = add('b', 100, 4);
    assert.equal(b.items, null);
    assert.equal(queue.memoryBytes, 100);
    b.pending = [1, 3];
    const back = queue.load(b);
    assert.deepEqual(reads, ['b']);
    assert.deepEqual(back.map((item) => item.id), ['b-0', 'b-1', 'b-2', 'b-3']);
    assert.deepEqual(b.pending.map((i) => back[i]!.id), ['b-1', 'b-3'], 'pending positions point at the same documents');
    assert.equal(queue.memoryBytes, 200);
    assert.equal(queue.load(b), back, 'a loaded chunk is not read again');
    assert.equal(reads.length, 1);
  });

  it('trim counts bytes held outside the queue (the chunk being filled)', () => {
    const { queue, add } = queueWith(300, 1);
    add('a', 100);
    add('b', 100);
    queue.trim(50);
    assert.deepEqual(loaded(queue), ['a', 'b']);
    queue.trim(150);
    assert.deepEqual(loaded(queue), ['a']);
  });

  it('queues a replayed chunk without items and reports its counted documents', () => {
    const { queue, disk } = queueWith(1000);
    disk.set('old', items('old', 7));
    const chunk = newChunk('old', 70, null, 8);
    queue.add(chunk);
    assert.equal(queue.memoryBytes, 0);
    assert.equal(queue.spoolBytes, 70);
    assert.equal(queue.owed(), 8, 'the line count, torn line included, until read');
    assert.ok(queue.has('old'));
    assert.equal(queue.has('new'), false);
    queue.load(chunk);
    assert.equal(queue.owed(), 7, 'exact once read');
  });

  it('returns a snapshot, so removing while iterating skips nothing', () => {
    const { queue, add } = queueWith(1000);
    add('a', 1);
    add('b', 1);
    add('c', 1);
    const seen: string[] = [];
    for (const chunk of queue.chunks()) {
      seen.push(chunk.path);
      queue.remove(chunk);
    }
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(queue.size, 0);
  });
});
