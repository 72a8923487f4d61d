import type { BulkItem } from './bulk-request.js';

/**
 * The sealed chunks still owed to Elasticsearch, oldest first, and the bound on how much of them sits in memory.
 * Every chunk is on disk; its items are kept in memory only while the total stays under `maxMemoryBytes`. Beyond
 * that the newest chunks let go of their items, and `load()` reads them back from the chunk file when their turn
 * comes. During an outage the backlog thus grows on disk, not in the heap.
 */

export interface Chunk {
  /** The chunk file. */
  readonly path: string;
  /** Size of the chunk file: what its items weigh in memory when loaded. */
  readonly bytes: number;
  /** Documents in the chunk (counted from the file for a replayed chunk, exact once loaded). */
  count: number;
  /** In memory, or null when only on disk. */
  items: BulkItem[] | null;
  /** Positions in `items` still owed; null = all. */
  pending: number[] | null;
  /** Sends that ended with something still owed: the backoff step of the next one. */
  attempts: number;
  /** Not sent again before this time (epoch ms). */
  notBefore: number;
  inFlight: boolean;
  /** The file lacks lines (its last write failed): its items must stay in memory, the file cannot rebuild them. */
  pinned: boolean;
}

export interface ChunkQueueOptions {
  /** Bytes of items kept in memory across the queue. */
  maxMemoryBytes: number;
  /** The oldest chunks, sent next, keep their items whatever the bound: as many as are sent at once. */
  keepLoaded: number;
  /** Rebuilds a chunk's items from its file, in file order, so recorded `pending` positions stay valid. */
  read(chunk: Chunk): BulkItem[];
}

export interface ChunkQueue {
  /** Oldest first. A snapshot: safe to iterate while chunks are added or removed. */
  chunks(): Chunk[];
  readonly size: number;
  /** Bytes of items held in memory. */
  readonly memoryBytes: number;
  /** Bytes of the chunk files queued. */
  readonly spoolBytes: number;
  /** Documents still owed across the queue. */
  owed(): number;
  has(path: string): boolean;
  /** Appends a chunk (the newest) and enforces the memory bound. */
  add(chunk: Chunk): void;
  /** Forgets a chunk: everything in it was delivered or dead-lettered. */
  remove(chunk: Chunk): void;
  /** The chunk's items, read back from disk if they were let go. */
  load(chunk: Chunk): BulkItem[];
  /** Lets go of the newest chunks' items until memory, plus `otherBytes` held elsewhere, is within the bound. */
  trim(otherBytes?: number): void;
}

export function newChunk(path: string, bytes: number, items: BulkItem[] | null, count = items?.length ?? 0): Chunk {
  return { path, bytes, count, items, pending: null, attempts: 0, notBefore: 0, inFlight: false, pinned: false };
}

export function createChunkQueue(options: ChunkQueueOptions): ChunkQueue {
  const { maxMemoryBytes, keepLoaded, read } = options;
  const queue: Chunk[] = [];
  let memoryBytes = 0;
  let spoolBytes = 0;

  function trim(otherBytes = 0): void {
    for (let i = queue.length - 1; i >= keepLoaded && memoryBytes + otherBytes > maxMemoryBytes; i -= 1) {
      const chunk = queue[i]!;
      // Chunks with pending retries may go too: load() rebuilds the same items in the same order from disk.
      if (chunk.items && !chunk.inFlight && !chunk.pinned) {
        chunk.items = null;
        memoryBytes -= chunk.bytes;
      }
    }
  }

  return {
    chunks: () => queue.slice(),
    get size() {
      return queue.length;
    },
    get memoryBytes() {
      return memoryBytes;
    },
    get spoolBytes() {
      return spoolBytes;
    },
    owed: () => queue.reduce((n, chunk) => n + (chunk.pending?.length ?? chunk.count), 0),
    has: (path) => queue.some((chunk) => chunk.path === path),
    add(chunk) {
      queue.push(chunk);
      spoolBytes += chunk.bytes;
      if (chunk.items) memoryBytes += chunk.bytes;
      trim();
    },
    remove(chunk) {
      const at = queue.indexOf(chunk);
      if (at === -1) return;
      queue.splice(at, 1);
      spoolBytes -= chunk.bytes;
      if (chunk.items) memoryBytes -= chunk.bytes;
    },
    load(chunk) {
      if (chunk.items) return chunk.items;
      const items = read(chunk);
      chunk.items = items;
      chunk.count = items.length;
      memoryBytes += chunk.bytes;
      return items;
    },
    trim,
  };
}
