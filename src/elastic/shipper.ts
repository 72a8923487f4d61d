import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { describeElasticError, isResponseError, type ElasticClient } from './client.js';
import { createSpool, type ChunkWriter, type Spool } from './spool.js';
import { dailyIndex, type IndexFamily } from './templates.js';

/**
 * Ships ECS documents to Elasticsearch with the guarantees of DESIGN.md §4 and the lessons of
 * shared/reference/log-shipping.md:
 *
 * - `write()` never waits on the network. Each document is appended to the current chunk file; security events
 *   are written to the OS before `write()` returns (journal), access logs within `maxBatchAgeMs` (≤ 1 s).
 * - A chunk is sealed by count, bytes or age and becomes one `_bulk` request of `create` actions with
 *   `_id = event.id`: a retry can never duplicate, and 409 means "already there".
 * - Per item: 2xx/409 delivered; 429/5xx retried with exponential backoff and full jitter; any other 4xx is a
 *   dead letter (file + `<prefix>-deadletter-*`), never retried, never blocking the rest.
 * - Whole-request failures (network, timeout, 429, 5xx) back off globally and leave the chunk on disk. When
 *   Elasticsearch is down or slow, chunks pile up on disk, not in memory: beyond `maxMemoryBytes` the newest
 *   chunks are dropped from memory and re-read from disk when their turn comes, oldest first.
 * - A chunk file is deleted only when nothing in it is owed. After a crash or SIGKILL, `start()` replays every
 *   chunk file left behind; `_id`s make the replay idempotent.
 */

export interface ShipperOptions {
  /** Without a client the shipper only spools (spool-only mode): everything waits on disk for a later run. */
  client: ElasticClient | undefined;
  indexPrefix: string;
  /** The spool folder: chunk files and deadletter.ndjson. One folder per process. */
  dir: string;
  /** Documents per bulk request. Default 1000. */
  batchSize?: number;
  /** Bytes per bulk request. Default 4 MiB. */
  batchBytes?: number;
  /** A batch never waits longer than this before it is sent. Default 1000 ms. */
  maxBatchAgeMs?: number;
  /** Documents kept in memory across chunks, in bytes; the rest waits on disk. Default 32 MiB. */
  maxMemoryBytes?: number;
  /** Beyond this on disk, new access records are dropped (counted); security events are always kept. Default 1 GiB. */
  maxSpoolBytes?: number;
  /** Bulk requests in flight. Default 2. */
  concurrency?: number;
  /** Backoff bounds. Defaults 250 ms and 30 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Timeout of one bulk request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Which family a document belongs to; undefined = not shipped. Default: by event.dataset. */
  familyOf?: (doc: ShippedDocument) => IndexFamily | undefined;
  /** Which documents are journaled before write() returns. Default: security events and alerts. */
  isDurable?: (doc: ShippedDocument) => boolean;
  /** Called with a short message whenever something goes wrong (never with document contents). */
  onError?: (message: string, error?: unknown) => void;
}

export type ShippedDocument = Record<string, unknown> & { '@timestamp'?: unknown; event?: { id?: unknown; dataset?: unknown } };

export interface ShipperStats {
  /** Documents written but not yet delivered or dead-lettered. */
  queueDepth: number;
  chunks: number;
  memoryBytes: number;
  spoolBytes: number;
  delivered: number;
  duplicates: number;
  retried: number;
  deadLettered: number;
  dropped: number;
  inFlight: number;
  elasticsearchReachable: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveryAt: string | null;
}

export interface Shipper {
  /** A bunyan raw-stream compatible sink: takes one ECS document. Never throws, never blocks on the network. */
  write(doc: ShippedDocument): void;
  /** Replays chunk files left by an earlier run. Call once before writing. */
  start(): void;
  /** Seals the current batch and waits until everything is delivered or `deadlineMs` passes. True when drained. */
  flush(deadlineMs?: number): Promise<boolean>;
  /** flush() then stop sending; what is left stays on disk for the next start. */
  close(deadlineMs?: number): Promise<boolean>;
  stats(): ShipperStats;
}

interface Item {
  id: string;
  index: string;
  line: string;
  family: IndexFamily;
}

interface Chunk {
  name: string;
  path: string;
  bytes: number;
  count: number;
  /** In memory, or null when only on disk. */
  items: Item[] | null;
  /** Positions in `items` still owed; null = all. */
  pending: number[] | null;
  attempts: number;
  notBefore: number;
  inFlight: boolean;
}

const DATASET_FAMILY: Record<string, IndexFamily> = {
  'sentinel.security': 'events',
  'sentinel.access': 'access',
  'sentinel.alert': 'alerts',
  'sentinel.deadletter': 'deadletter',
};

const DEFAULTS = {
  batchSize: 1000,
  batchBytes: 4 * 1024 * 1024,
  maxBatchAgeMs: 1000,
  maxMemoryBytes: 32 * 1024 * 1024,
  maxSpoolBytes: 1024 * 1024 * 1024,
  concurrency: 2,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  requestTimeoutMs: 30_000,
};

export function createShipper(options: ShipperOptions): Shipper {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & ShipperOptions;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(o.indexPrefix ?? '')) throw new ConfigurationError('The indexPrefix option must be lowercase letters, digits, - or _.');
  for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    if (!Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a positive number.`);
  }
  const familyOf = o.familyOf ?? ((doc: ShippedDocument) => DATASET_FAMILY[String(doc.event?.dataset)]);
  const isDurable = o.isDurable ?? ((doc: ShippedDocument) => doc.event?.dataset === 'sentinel.security' || doc.event?.dataset === 'sentinel.alert');
  const spool: Spool = createSpool(o.dir);

  const queue: Chunk[] = [];
  let active: { chunk: Chunk; writer: ChunkWriter; timer: NodeJS.Timeout | undefined } | undefined;
  let inFlight = 0;
  let memoryBytes = 0;
  let spoolBytes = 0;
  let consecutiveFailures = 0;
  let backoffUntil = 0;
  let wakeTimer: NodeJS.Timeout | undefined;
  let sending = o.client !== undefined;
  let sourceOnErrorParam = true;
  const waiters = new Set<() => void>();
  const stats = {
    delivered: 0, duplicates: 0, retried: 0, deadLettered: 0, dropped: 0,
    elasticsearchReachable: o.client !== undefined, lastError: (o.client ? null : 'spool-only: no Elasticsearch configured') as string | null, lastErrorAt: null as string | null, lastDeliveryAt: null as string | null,
  };

  const report = (message: string, error?: unknown): void => {
    stats.lastError = message;
    stats.lastErrorAt = new Date().toISOString();
    try {
      o.onError?.(message, error);
    } catch {
      // a failing reporter must not break shipping
    }
  };
  const backoff = (attempt: number): number => {
    const ceiling = Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** Math.min(20, attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  };
  const notify = (): void => {
    for (const waiter of waiters) waiter();
  };

  function toItem(doc: ShippedDocument, family: IndexFamily, line?: string): Item {
    const id = typeof doc.event?.id === 'string' ? doc.event.id : randomUUID();
    const at = typeof doc['@timestamp'] === 'string' ? doc['@timestamp'] : new Date().toISOString();
    return { id, index: dailyIndex(o.indexPrefix, family, at), line: line ?? JSON.stringify(doc), family };
  }

  function append(item: Item, durable: boolean): void {
    if (!active) {
      const writer = spool.create();
      active = {
        writer,
        chunk: { name: writer.name, path: writer.path, bytes: 0, count: 0, items: [], pending: null, attempts: 0, notBefore: 0, inFlight: false },
        timer: setTimeout(seal, o.maxBatchAgeMs),
      };
      active.timer!.unref();
    }
    const { chunk, writer } = active;
    const size = item.line.length + 1;
    writer.append(`${item.line}\n`, durable);
    chunk.items!.push(item);
    chunk.count += 1;
    chunk.bytes += size;
    memoryBytes += size;
    spoolBytes += size;
    if (chunk.count >= o.batchSize || chunk.bytes >= o.batchBytes) seal();
  }

  function seal(): void {
    if (!active) return;
    const { chunk, writer, timer } = active;
    active = undefined;
    clearTimeout(timer);
    try {
      writer.close();
    } catch (error) {
      report(`Spool write failed: ${(error as Error).message}`, error);
    }
    queue.push(chunk);
    limitMemory();
    pump();
  }

  /** Drops the newest waiting chunks from memory until under the bound; they are re-read from disk later. */
  function limitMemory(): void {
    for (let i = queue.length - 1; i >= o.concurrency && memoryBytes > o.maxMemoryBytes; i -= 1) {
      const chunk = queue[i]!;
      // Chunks with pending retries may go too: load() rebuilds the same items in the same order from disk.
      if (chunk.items && !chunk.inFlight) {
        chunk.items = null;
        memoryBytes -= chunk.bytes;
      }
    }
  }

  function load(chunk: Chunk): Item[] {
    if (chunk.items) return chunk.items;
    const items: Item[] = [];
    for (const line of spool.read(chunk.path)) {
      try {
        const doc = JSON.parse(line) as ShippedDocument;
        const family = familyOf(doc);
        if (family) items.push(toItem(doc, family, line));
      } catch {
        // A line torn by a crash mid-write: it was never acknowledged to anyone, so dropping it loses nothing.
      }
    }
    chunk.items = items;
    chunk.count = items.length;
    memoryBytes += chunk.bytes;
    return items;
  }

  function pump(): void {
    if (!sending) return;
    const now = Date.now();
    let nextWake = Infinity;
    for (const chunk of queue) {
      if (inFlight >= o.concurrency) break;
      if (chunk.inFlight) continue;
      const readyAt = Math.max(chunk.notBefore, backoffUntil);
      if (readyAt > now) {
        nextWake = Math.min(nextWake, readyAt);
        // Oldest first: while the head waits on a global backoff, nothing newer jumps ahead.
        if (backoffUntil > now) break;
        continue;
      }
      void send(chunk);
    }
    if (nextWake !== Infinity && !wakeTimer) {
      wakeTimer = setTimeout(() => {
        wakeTimer = undefined;
        pump();
      }, Math.max(1, nextWake - now));
      wakeTimer.unref();
    }
  }

  function finish(chunk: Chunk): void {
    const at = queue.indexOf(chunk);
    if (at !== -1) queue.splice(at, 1);
    if (chunk.items) memoryBytes -= chunk.bytes;
    spoolBytes -= chunk.bytes;
    spool.remove(chunk.path);
  }

  function deadLetter(item: Item, status: number, error: { type?: string; reason?: string } | undefined): void {
    stats.deadLettered += 1;
    const entry = {
      '@timestamp': new Date().toISOString(),
      message: `Elasticsearch rejected a document (${status} ${error?.type ?? 'unknown'})`,
      event: { id: randomUUID(), kind: 'event', dataset: 'sentinel.deadletter' },
      error: { type: error?.type ?? 'unknown', message: String(error?.reason ?? '').slice(0, 2000) },
      sentinel: { deadletter: { index: item.index, document_id: item.id, status, document: item.line.slice(0, 32_000) } },
    };
    try {
      spool.deadLetter(entry);
    } catch (writeError) {
      report(`Dead-letter file write failed: ${(writeError as Error).message}`, writeError);
    }
    report(`Dead-lettered a document for ${item.index}: ${status} ${error?.type ?? 'unknown'}`);
    // Also into Elasticsearch, where people look; a dead letter that is itself refused stays in the file only.
    if (item.family !== 'deadletter') append(toItem(entry, 'deadletter'), true);
  }

  async function send(chunk: Chunk): Promise<void> {
    chunk.inFlight = true;
    inFlight += 1;
    try {
      const items = load(chunk);
      const positions = chunk.pending ?? items.map((_, i) => i);
      if (positions.length === 0) {
        finish(chunk);
        return;
      }
      let body = '';
      for (const i of positions) {
        const item = items[i]!;
        body += `{"create":{"_index":${JSON.stringify(item.index)},"_id":${JSON.stringify(item.id)}}}\n${item.line}\n`;
      }
      let response: { items?: Array<Record<string, { status?: number; error?: { type?: string; reason?: string } }>> };
      try {
        response = (await o.client!.bulk(
          {
            operations: body as never,
            filter_path: 'items.*.status,items.*.error.type,items.*.error.reason',
            // Error messages must not echo documents back (ES 8.18+); older servers refuse the parameter.
            ...(sourceOnErrorParam ? { include_source_on_error: false } : {}),
          } as never,
          { requestTimeout: o.requestTimeoutMs, maxRetries: 0 },
        )) as typeof response;
      } catch (error) {
        if (sourceOnErrorParam && isResponseError(error) && error.statusCode === 400 && /include_source_on_error/.test(JSON.stringify(error.body ?? ''))) {
          sourceOnErrorParam = false;
          return;
        }
        consecutiveFailures += 1;
        backoffUntil = Date.now() + backoff(consecutiveFailures);
        stats.retried += positions.length;
        if (!(isResponseError(error))) stats.elasticsearchReachable = false;
        report(describeElasticError(error).message, error);
        return;
      }
      consecutiveFailures = 0;
      backoffUntil = 0;
      stats.elasticsearchReachable = true;
      const results = response.items ?? [];
      const retry: number[] = [];
      positions.forEach((position, k) => {
        const result = results[k] ? Object.values(results[k]!)[0] : undefined;
        const status = result?.status ?? 0;
        if ((status >= 200 && status < 300) || status === 409) {
          stats.delivered += 1;
          if (status === 409) stats.duplicates += 1;
        } else if (status === 429 || status >= 500 || status === 0) {
          retry.push(position);
        } else {
          deadLetter(items[position]!, status, result?.error);
        }
      });
      if (retry.length < positions.length) stats.lastDeliveryAt = new Date().toISOString();
      if (retry.length === 0) {
        finish(chunk);
      } else {
        stats.retried += retry.length;
        chunk.pending = retry;
        chunk.attempts += 1;
        chunk.notBefore = Date.now() + backoff(chunk.attempts);
      }
    } catch (error) {
      report(`Shipper error: ${(error as Error).message}`, error);
      chunk.attempts += 1;
      chunk.notBefore = Date.now() + backoff(chunk.attempts);
    } finally {
      chunk.inFlight = false;
      inFlight -= 1;
      // A storm of item-level retries walks through many chunks, loading each: keep the bound after every send.
      limitMemory();
      notify();
      pump();
    }
  }

  const queueDepth = (): number =>
    queue.reduce((n, chunk) => n + (chunk.pending?.length ?? chunk.count), 0) + (active?.chunk.count ?? 0);

  async function flush(deadlineMs = 10_000): Promise<boolean> {
    seal();
    if (!sending) return queue.length === 0;
    const deadline = Date.now() + deadlineMs;
    // Dead letters found while flushing land in a new chunk: it is sealed and sent within the same deadline.
    while ((queue.length > 0 || active) && Date.now() < deadline) {
      seal();
      // Nothing waits on a backoff during a flush: the deadline is the only bound.
      backoffUntil = Math.min(backoffUntil, Date.now() + 250);
      for (const chunk of queue) chunk.notBefore = Math.min(chunk.notBefore, Date.now() + 250);
      pump();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(250, Math.max(1, deadline - Date.now())));
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    return queue.length === 0 && !active;
  }

  return {
    start() {
      for (const file of spool.list()) {
        if (queue.some((chunk) => chunk.path === file.path)) continue;
        queue.push({ name: file.name, path: file.path, bytes: file.bytes, count: 0, items: null, pending: null, attempts: 0, notBefore: 0, inFlight: false });
        spoolBytes += file.bytes;
      }
      // Counts of replayed chunks are unknown until read; read the headline figure lazily.
      for (const chunk of queue) if (chunk.items === null && chunk.count === 0) chunk.count = spool.read(chunk.path).length;
      pump();
    },

    write(doc) {
      try {
        const family = familyOf(doc);
        if (!family) return;
        const durable = isDurable(doc);
        if (!durable && spoolBytes > o.maxSpoolBytes) {
          stats.dropped += 1;
          return;
        }
        append(toItem(doc, family), durable);
      } catch (error) {
        // Logging must never stop the app (ASVS 16.5.1); a full disk shows up in the health report instead.
        stats.dropped += 1;
        report(`Spool write failed: ${(error as Error).message}`, error);
      }
    },

    flush,

    async close(deadlineMs = 10_000) {
      const drained = await flush(deadlineMs);
      sending = false;
      clearTimeout(wakeTimer);
      return drained;
    },

    stats() {
      return {
        queueDepth: queueDepth(),
        chunks: queue.length + (active ? 1 : 0),
        memoryBytes,
        spoolBytes,
        inFlight,
        ...stats,
      };
    },
  };
}
