import { ConfigurationError } from '../errors.js';
import { createBackoff } from './backoff.js';
import { createBulkSender, type BulkItem, type BulkSend } from './bulk-request.js';
import type { Rejection } from './bulk-response.js';
import { createChunkBuilder } from './chunk-builder.js';
import { createChunkQueue, newChunk, type Chunk } from './chunk-queue.js';
import { describeElasticError, isResponseError, type ElasticClient } from './client.js';
import { deadLetterRecord, familyByDataset, itemsFromLines, securityAndAlertsAreDurable, toBulkItem, type ShippedDocument } from './shipped-document.js';
import { createSpool } from './spool.js';
import type { IndexFamily } from './templates.js';
import { SYSTEM_TIMERS, systemNow, unref, type Timers } from './timers.js';

/**
 * Ships ECS documents to Elasticsearch with the guarantees of docs/elasticsearch.md ("Shipping guarantees"):
 *
 * - `write()` never waits on the network. Each document is appended to the current chunk file; security events
 *   are written to the OS before `write()` returns (journal), access logs within `maxBatchAgeMs` (≤ 1 s).
 * - A chunk is sealed by count, bytes or age (chunk-builder) and becomes one `_bulk` request of `create` actions
 *   with `_id = event.id` (bulk-request): a retry can never duplicate, and 409 means "already there".
 * - Per item (bulk-response): 2xx/409 delivered; 429/5xx retried with exponential backoff and full jitter
 *   (backoff); any other 4xx is a dead letter (file + `<prefix>-deadletter-*`), never retried, never blocking the rest.
 * - Whole-request failures (network, timeout, 429, 5xx) back off globally and leave the chunk on disk. When
 *   Elasticsearch is down or slow, chunks pile up on disk, not in memory (chunk-queue): beyond `maxMemoryBytes`
 *   the newest chunks are dropped from memory and re-read from disk when their turn comes, oldest first.
 * - A chunk file is deleted only when nothing in it is owed. After a crash or SIGKILL, `start()` replays every
 *   chunk file left behind; `_id`s make the replay idempotent.
 */

export type { ShippedDocument } from './shipped-document.js';
export type { Timers } from './timers.js';

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
  /**
   * What the app should do while the spool cannot be written (a full disk): 'drop' (default) keeps serving and
   * counts what is lost (`dropped`, `droppedSecurity`); 'refuse' makes `refuses()` true, so the sentinel answers
   * every request but the health route with 503 dependency_unavailable rather than serve requests whose audit
   * events would be lost. Either way the health report says degraded until a write succeeds again.
   */
  onSpoolFailure?: 'drop' | 'refuse';
  /** While the spool cannot be written, how often (ms) `stats()` and `refuses()` test whether it can again. Default 1000. */
  spoolRecheckMs?: number;
  /** Bulk requests in flight. Default 2. */
  concurrency?: number;
  /** Backoff bounds: the first retry waits up to retryBaseMs, each next one up to twice as long, never over retryMaxMs. Defaults 250 ms and 30 s. */
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
  /** The clock (epoch ms) for batch ages, backoffs, deadlines and timestamps. Default Date.now. */
  now?: () => number;
  /** Timers for batch ages, retries and flush waits; they are unref'd when they have `unref`. Default the globals. */
  timers?: Timers;
  /** The backoff jitter, a number in [0, 1). Default Math.random. */
  random?: () => number;
}

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
  /** Documents not written: access records beyond maxSpoolBytes, and any document whose spool write failed. */
  dropped: number;
  /** Of those, security events and alerts (the durable documents): audit records lost to a failed spool write. */
  droppedSecurity: number;
  /** False from a failed spool write until a write, or a probe of the folder, succeeds again. */
  spoolWritable: boolean;
  inFlight: number;
  elasticsearchReachable: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveryAt: string | null;
}

export interface Shipper {
  /**
   * A bunyan raw-stream compatible sink: takes one ECS document, and its JSON when the caller already has it (the
   * logger's stdout line). Never throws, never blocks on the network.
   */
  write(doc: ShippedDocument, line?: string): void;
  /** Replays chunk files left by an earlier run. Call once before writing. */
  start(): void;
  /** Seals the current batch and waits until everything is delivered or `deadlineMs` passes. True when drained. */
  flush(deadlineMs?: number): Promise<boolean>;
  /** flush() then stop sending; what is left stays on disk for the next start. */
  close(deadlineMs?: number): Promise<boolean>;
  stats(): ShipperStats;
  /** True while the spool cannot be written and `onSpoolFailure` is 'refuse': requests should be refused. */
  refuses(): boolean;
}

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
  onSpoolFailure: 'drop' as 'drop' | 'refuse',
  spoolRecheckMs: 1000,
  familyOf: familyByDataset,
  isDurable: securityAndAlertsAreDurable,
  onError: (() => undefined) as NonNullable<ShipperOptions['onError']>,
  now: systemNow,
  timers: SYSTEM_TIMERS,
  random: Math.random,
};

const NUMBER_OPTIONS = ['batchSize', 'batchBytes', 'maxBatchAgeMs', 'maxMemoryBytes', 'maxSpoolBytes', 'concurrency', 'retryBaseMs', 'retryMaxMs', 'requestTimeoutMs', 'spoolRecheckMs'] as const;
const FUNCTION_OPTIONS = ['familyOf', 'isDurable', 'onError', 'now', 'random'] as const;
/** Flush and its waits poll at least this often, and no backoff outlasts it while a flush is under way. */
const FLUSH_STEP_MS = 250;
const DEFAULT_FLUSH_DEADLINE_MS = 10_000;

type Resolved = typeof DEFAULTS & Pick<ShipperOptions, 'client' | 'indexPrefix' | 'dir'>;

function resolveOptions(options: ShipperOptions): Resolved {
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined));
  const o = { ...DEFAULTS, ...given } as Resolved;
  if (typeof o.indexPrefix !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(o.indexPrefix)) throw new ConfigurationError('The indexPrefix option must be lowercase letters, digits, - or _.');
  if (typeof o.dir !== 'string' || o.dir === '') throw new ConfigurationError('The dir option must be a folder path.');
  if (o.client !== undefined && typeof (o.client as { bulk?: unknown })?.bulk !== 'function') throw new ConfigurationError('The client option must be an Elasticsearch client (8.x or 9.x) or undefined.');
  for (const name of NUMBER_OPTIONS) {
    if (typeof o[name] !== 'number' || !Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a positive number.`);
  }
  for (const name of ['batchSize', 'concurrency'] as const) {
    if (!Number.isInteger(o[name])) throw new ConfigurationError(`The ${name} option must be a whole number.`);
  }
  if (o.retryMaxMs < o.retryBaseMs) throw new ConfigurationError('The retryMaxMs option must be no smaller than retryBaseMs.');
  if (o.onSpoolFailure !== 'drop' && o.onSpoolFailure !== 'refuse') throw new ConfigurationError("The onSpoolFailure option must be 'drop' or 'refuse'.", { option: 'onSpoolFailure' });
  for (const name of FUNCTION_OPTIONS) {
    if (typeof o[name] !== 'function') throw new ConfigurationError(`The ${name} option must be a function.`);
  }
  if (typeof o.timers?.setTimeout !== 'function' || typeof o.timers.clearTimeout !== 'function') throw new ConfigurationError('The timers option must have setTimeout and clearTimeout functions.');
  return o;
}

export function createShipper(options: ShipperOptions): Shipper {
  const o = resolveOptions(options);
  const { now, timers, familyOf, isDurable, indexPrefix } = o;
  const spool = createSpool(o.dir, { now });
  const backoff = createBackoff({ baseMs: o.retryBaseMs, maxMs: o.retryMaxMs, random: o.random });
  const sendBulk: BulkSend | undefined = o.client ? createBulkSender({ client: o.client, requestTimeoutMs: o.requestTimeoutMs }) : undefined;
  const queue = createChunkQueue({
    maxMemoryBytes: o.maxMemoryBytes,
    keepLoaded: o.concurrency,
    read: (chunk) => itemsFromLines(indexPrefix, spool.read(chunk.path), familyOf, now()),
  });
  const builder = createChunkBuilder({
    spool, timers, batchSize: o.batchSize, batchBytes: o.batchBytes, maxBatchAgeMs: o.maxBatchAgeMs,
    onError(message, error) {
      // Sealing a chunk could not write its buffered tail: the spool is failing.
      markUnwritable();
      report(message, error);
    },
    onSeal(chunk) {
      queue.add(chunk);
      pump();
    },
  });

  let sending = sendBulk !== undefined;
  let inFlight = 0;
  let consecutiveFailures = 0;
  let backoffUntil = 0;
  let wake: { timer: unknown; at: number } | undefined;
  const waiters = new Set<() => void>();
  const stats = {
    delivered: 0, duplicates: 0, retried: 0, deadLettered: 0, dropped: 0, droppedSecurity: 0,
    elasticsearchReachable: sending,
    lastError: sending ? null : 'spool-only: no Elasticsearch configured' as string | null,
    lastErrorAt: null as string | null,
    lastDeliveryAt: null as string | null,
  };

  /** Spool health: a failed write marks it unwritable; a later write, or a probe at most every spoolRecheckMs, clears it. */
  let spoolWritable = true;
  let probedAt = 0;
  function markUnwritable(): void {
    spoolWritable = false;
    probedAt = now();
  }
  function spoolWritableNow(): boolean {
    if (spoolWritable || now() - probedAt < o.spoolRecheckMs) return spoolWritable;
    probedAt = now();
    spoolWritable = spool.probe();
    return spoolWritable;
  }

  function report(message: string, error?: unknown): void {
    stats.lastError = message;
    stats.lastErrorAt = new Date(now()).toISOString();
    try {
      o.onError(message, error);
    } catch {
      // a failing reporter must not break shipping
    }
  }

  /** Sends what is due, oldest first, up to `concurrency`; otherwise wakes up when the earliest backoff ends. */
  function pump(): void {
    if (!sending) return;
    const at = now();
    let nextWake = Infinity;
    for (const chunk of queue.chunks()) {
      if (inFlight >= o.concurrency) break;
      if (chunk.inFlight) continue;
      const readyAt = Math.max(chunk.notBefore, backoffUntil);
      if (readyAt > at) {
        nextWake = Math.min(nextWake, readyAt);
        // Oldest first: while the head waits on a global backoff, nothing newer jumps ahead.
        if (backoffUntil > at) break;
        continue;
      }
      void send(chunk);
    }
    if (nextWake !== Infinity) wakeAt(nextWake, at);
  }

  function wakeAt(at: number, current: number): void {
    // An earlier wake-up already set covers this one; a later one must give way, or a short retry waits a long one.
    if (wake && wake.at <= at) return;
    if (wake) timers.clearTimeout(wake.timer);
    const timer = timers.setTimeout(() => {
      wake = undefined;
      pump();
    }, Math.max(1, at - current));
    unref(timer);
    wake = { timer, at };
  }

  function deliverNoMore(chunk: Chunk): void {
    queue.remove(chunk);
    spool.remove(chunk.path);
  }

  function deadLetter(item: BulkItem, rejection: Rejection): void {
    stats.deadLettered += 1;
    const record = deadLetterRecord(item, rejection, now());
    try {
      spool.deadLetter(record);
    } catch (writeError) {
      report(`Dead-letter file write failed: ${(writeError as Error).message}`, writeError);
    }
    report(`Dead-lettered a document for ${item.index}: ${rejection.status} ${rejection.error?.type ?? 'unknown'}`);
    // Also into Elasticsearch, where people look; a dead letter that is itself refused stays in the file only.
    if (item.family !== 'deadletter') {
      try {
        builder.append(toBulkItem(indexPrefix, record, 'deadletter', JSON.stringify(record), now()), true);
      } catch (error) {
        report(`Spool write failed: ${(error as Error).message}`, error);
      }
    }
  }

  async function send(chunk: Chunk): Promise<void> {
    chunk.inFlight = true;
    inFlight += 1;
    try {
      const items = queue.load(chunk);
      const positions = chunk.pending ?? items.map((_, i) => i);
      if (positions.length === 0) {
        deliverNoMore(chunk);
        return;
      }
      const batch = positions.map((i) => items[i]!);
      let outcome;
      try {
        outcome = await sendBulk!(batch);
      } catch (error) {
        consecutiveFailures += 1;
        backoffUntil = now() + backoff(consecutiveFailures);
        stats.retried += positions.length;
        // A response, even 5xx, means Elasticsearch is there; anything else (refused, timeout, reset) means it is not.
        if (!isResponseError(error)) stats.elasticsearchReachable = false;
        report(describeElasticError(error).message, error);
        return;
      }
      consecutiveFailures = 0;
      backoffUntil = 0;
      stats.elasticsearchReachable = true;
      stats.delivered += outcome.delivered.length;
      stats.duplicates += outcome.duplicates;
      for (const rejection of outcome.rejected) deadLetter(batch[rejection.position]!, rejection);
      if (outcome.retry.length < positions.length) stats.lastDeliveryAt = new Date(now()).toISOString();
      if (outcome.retry.length === 0) {
        deliverNoMore(chunk);
      } else {
        stats.retried += outcome.retry.length;
        chunk.pending = outcome.retry.map((k) => positions[k]!);
        chunk.attempts += 1;
        chunk.notBefore = now() + backoff(chunk.attempts);
      }
    } catch (error) {
      report(`Shipper error: ${(error as Error).message}`, error);
      chunk.attempts += 1;
      chunk.notBefore = now() + backoff(chunk.attempts);
    } finally {
      chunk.inFlight = false;
      inFlight -= 1;
      // A storm of item-level retries walks through many chunks, loading each: keep the bound after every send.
      queue.trim(builder.bytes);
      for (const waiter of waiters) waiter();
      pump();
    }
  }

  /** Resolves after `ms`, or as soon as a send finishes. */
  function nextEvent(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = timers.setTimeout(done, ms);
      function done(): void {
        timers.clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  const drained = (): boolean => queue.size === 0 && builder.count === 0;

  async function flush(deadlineMs = DEFAULT_FLUSH_DEADLINE_MS): Promise<boolean> {
    builder.seal();
    if (!sending) return queue.size === 0;
    const deadline = now() + deadlineMs;
    // Dead letters found while flushing land in a new chunk: it is sealed and sent within the same deadline.
    while (!drained() && now() < deadline) {
      builder.seal();
      // Nothing waits on a backoff during a flush: the deadline is the only bound.
      const soon = now() + FLUSH_STEP_MS;
      backoffUntil = Math.min(backoffUntil, soon);
      for (const chunk of queue.chunks()) chunk.notBefore = Math.min(chunk.notBefore, soon);
      pump();
      await nextEvent(Math.min(FLUSH_STEP_MS, Math.max(1, deadline - now())));
    }
    return drained();
  }

  return {
    start() {
      for (const file of spool.list()) {
        // Already queued, or the chunk being filled: a second start() or a start() after writing must not send twice.
        if (queue.has(file.path) || file.path === builder.path) continue;
        // Counted now so the replayed backlog shows in stats at once; the items are read when the chunk is sent.
        queue.add(newChunk(file.path, file.bytes, null, spool.count(file.path)));
      }
      pump();
    },

    write(doc, line) {
      let durable = false;
      try {
        const family = familyOf(doc);
        if (!family) return;
        durable = isDurable(doc);
        if (!durable && queue.spoolBytes + builder.bytes > o.maxSpoolBytes) {
          stats.dropped += 1;
          return;
        }
        builder.append(toBulkItem(indexPrefix, doc, family, line ?? JSON.stringify(doc), now()), durable);
        // Only a durable document was written to the file just now; others may still sit in the write buffer.
        if (durable) spoolWritable = true;
      } catch (error) {
        // Logging must never stop the app (ASVS 16.5.1); a full disk shows up in the health report instead, and
        // with onSpoolFailure 'refuse' the app stops serving until the spool takes writes again.
        stats.dropped += 1;
        if (durable) stats.droppedSecurity += 1;
        markUnwritable();
        report(`Spool write failed: ${(error as Error).message}`, error);
      }
    },

    flush,

    async close(deadlineMs = DEFAULT_FLUSH_DEADLINE_MS) {
      const done = await flush(deadlineMs);
      sending = false;
      if (wake) timers.clearTimeout(wake.timer);
      wake = undefined;
      return done;
    },

    stats() {
      return {
        queueDepth: queue.owed() + builder.count,
        chunks: queue.size + (builder.count > 0 ? 1 : 0),
        memoryBytes: queue.memoryBytes + builder.bytes,
        spoolBytes: queue.spoolBytes + builder.bytes,
        inFlight,
        ...stats,
        spoolWritable: spoolWritableNow(),
      };
    },

    refuses() {
      return o.onSpoolFailure === 'refuse' && !spoolWritableNow();
    },
  };
}
