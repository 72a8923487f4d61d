import type { BulkItem } from './bulk-request.js';
import { newChunk, type Chunk } from './chunk-queue.js';
import type { ChunkWriter, Spool } from './spool.js';
import { unref, type Timers } from './timers.js';

/**
 * The chunk being filled: each document is appended to a fresh chunk file as it is written, and the chunk is
 * sealed (closed and handed on, to become one bulk request) when it reaches `batchSize` documents, `batchBytes`
 * bytes, or `maxBatchAgeMs` after its first document, whichever comes first.
 */

export interface ChunkBuilderOptions {
  spool: Spool;
  batchSize: number;
  batchBytes: number;
  maxBatchAgeMs: number;
  timers: Timers;
  /** Receives each sealed chunk. */
  onSeal(chunk: Chunk): void;
  onError(message: string, error: unknown): void;
}

export interface ChunkBuilder {
  /** Appends to the chunk file (to the OS at once when `durable`) and then to the chunk; throws if the spool does. */
  append(item: BulkItem, durable: boolean): void;
  /** Seals the current chunk now, if it holds anything. */
  seal(): void;
  /** Documents in the chunk being filled. */
  readonly count: number;
  /** Bytes of documents in the chunk being filled (all of them in memory). */
  readonly bytes: number;
  /** The file of the chunk being filled, if any. */
  readonly path: string | undefined;
}

interface Filling {
  writer: ChunkWriter;
  items: BulkItem[];
  bytes: number;
  timer: unknown;
}

export function createChunkBuilder(options: ChunkBuilderOptions): ChunkBuilder {
  const { spool, batchSize, batchBytes, maxBatchAgeMs, timers, onSeal, onError } = options;
  let filling: Filling | undefined;

  function seal(): void {
    if (!filling) return;
    const { writer, items, bytes, timer } = filling;
    filling = undefined;
    timers.clearTimeout(timer);
    const chunk = newChunk(writer.path, bytes, items);
    try {
      writer.close();
    } catch (error) {
      // The buffered tail never reached the file: these items exist only in memory now.
      chunk.pinned = true;
      onError(`Spool write failed: ${(error as Error).message}`, error);
    }
    onSeal(chunk);
  }

  return {
    append(item, durable) {
      if (!filling) {
        const writer = spool.create();
        const timer = timers.setTimeout(seal, maxBatchAgeMs);
        unref(timer);
        filling = { writer, items: [], bytes: 0, timer };
      }
      const size = item.line.length + 1;
      filling.writer.append(`${item.line}\n`, durable);
      filling.items.push(item);
      filling.bytes += size;
      if (filling.items.length >= batchSize || filling.bytes >= batchBytes) seal();
    },
    seal,
    get count() {
      return filling?.items.length ?? 0;
    },
    get bytes() {
      return filling?.bytes ?? 0;
    },
    get path() {
      return filling?.writer.path;
    },
  };
}
