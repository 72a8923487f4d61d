import type { Redis } from 'ioredis';
import { ConfigurationError } from '../../errors.js';
import { openRedisClient, type RedisClientOptions } from './client.js';
import { SYSTEM_CLOCK, type StoreClock } from './clock.js';
import { SessionStoreError, toStoreError } from './errors.js';

/**
 * The Redis store's command connection, over the client of client.ts: its state (ready or down, told on
 * transitions only), the last error, and the gate every command goes through. The gate fails fast and closed:
 * after close(), beyond `maxInFlight` calls, and after `commandTimeoutMs` whatever the client does (a client the
 * caller built may have no timeout of its own), always with a SessionStoreError. ioredis reconnects by itself
 * with a capped back-off, so service comes back without a restart.
 */

export interface RedisConnectionOptions extends RedisClientOptions {
  /** Every command fails after this long (a slow or frozen Redis). Default 500 ms. */
  commandTimeoutMs?: number;
  /** Calls in flight beyond which new calls fail at once (no pile-up when Redis is slow). Default 1000. */
  maxInFlight?: number;
  /** Told when the connection goes down or comes back: transitions only, never per command. */
  onStatus?: (status: 'ready' | 'down', error?: Error) => void;
  /** Clock and timers; tests pass fakes. Default: the system's. */
  clock?: StoreClock;
}

export const CONNECTION_DEFAULTS = {
  commandTimeoutMs: 500,
  maxInFlight: 1000,
  clock: SYSTEM_CLOCK,
};

export interface RedisConnection {
  readonly client: Redis;
  /** The client is connected and answering (ioredis' status is 'ready'). */
  readonly connected: boolean;
  readonly inFlight: number;
  readonly lastError: { message: string; at: number } | undefined;
  /** Runs one command through the gate; every failure rejects with a SessionStoreError naming `operation`. */
  run<T>(operation: string, work: (client: Redis) => Promise<T>): Promise<T>;
  /**
   * Resolves once connected and `also()` holds (checked again on every 'ready' and every recheck()); rejects
   * with store_unreachable after `timeoutMs`.
   */
  ready(timeoutMs: number, also?: () => boolean): Promise<void>;
  /** Something `also()` depends on changed: wake the ready() callers. */
  recheck(): void;
  /** Stops reporting; closes the client when we built it. Idempotent. */
  close(): Promise<void>;
}

type Resolved = typeof CONNECTION_DEFAULTS & RedisConnectionOptions;

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const o = { ...CONNECTION_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Resolved;
  validate(o);
  const { clock } = o;
  const { client, owned } = openRedisClient(o, o.commandTimeoutMs);

  let inFlight = 0;
  let closed = false;
  let lastError: { message: string; at: number } | undefined;
  const noteError = (message: string): void => {
    lastError = { message, at: clock.wall() };
  };

  // Reported on transitions only: an outage is one line in the log, not one per request.
  let state: 'connecting' | 'ready' | 'down' = client.status === 'ready' ? 'ready' : 'connecting';
  const report = (next: 'ready' | 'down', error?: Error): void => {
    if (closed || state === next) return;
    state = next;
    try {
      o.onStatus?.(next, error);
    } catch {
      // A broken status hook must not break the connection handling.
    }
  };

  const waiters = new Set<() => void>();
  const recheck = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const onError = (error: Error): void => {
    noteError(error.message);
    if (client.status !== 'ready') report('down', error);
  };
  const onReady = (): void => {
    report('ready');
    recheck();
  };
  const onClose = (): void => report('down', new Error('the connection to Redis closed'));
  // Without an 'error' listener ioredis prints every failed reconnection to the console.
  client.on('error', onError);
  client.on('ready', onReady);
  client.on('close', onClose);

  return {
    client,
    get connected() {
      return client.status === 'ready';
    },
    get inFlight() {
      return inFlight;
    },
    get lastError() {
      return lastError;
    },

    async run(operation, work) {
      if (closed) throw new SessionStoreError('store_closed', operation);
      if (inFlight >= o.maxInFlight) throw new SessionStoreError('store_overloaded', operation);
      inFlight += 1;
      try {
        return await withTimeout(operation, work(client), o.commandTimeoutMs, clock);
      } catch (error) {
        const mapped = toStoreError(operation, error);
        noteError(mapped.message);
        throw mapped;
      } finally {
        inFlight -= 1;
      }
    },

    ready(timeoutMs, also = () => true) {
      const up = (): boolean => client.status === 'ready' && also();
      if (up()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = (): void => {
          if (!up()) return;
          waiters.delete(waiter);
          clock.clearTimeout(timer);
          resolve();
        };
        const timer = clock.setTimeout(() => {
          waiters.delete(waiter);
          reject(new SessionStoreError('store_unreachable', 'ready', lastError ? new Error(lastError.message) : undefined));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },

    recheck,

    async close() {
      if (closed) return;
      closed = true;
      client.off('error', onError);
      client.off('ready', onReady);
      client.off('close', onClose);
      // Keep swallowing late errors of a connection being closed.
      client.on('error', () => {});
      if (!owned) return;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}

/**
 * The command's own answer, or store_timeout after `ms`. The command may still be pending in the client (ioredis'
 * commandTimeout drops it there too when we built the client); its late answer is ignored.
 */
function withTimeout<T>(operation: string, command: Promise<T>, ms: number, clock: StoreClock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new SessionStoreError('store_timeout', operation, new Error(`no answer within ${ms} ms`))), ms);
    command.then((value) => {
      clock.clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clock.clearTimeout(timer);
      reject(error as Error);
    });
  });
}

function validate(o: Resolved): void {
  for (const name of ['commandTimeoutMs', 'maxInFlight'] as const) {
    if (!Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a finite, positive number.`);
  }
  if (o.onStatus !== undefined && typeof o.onStatus !== 'function') throw new ConfigurationError('The onStatus option must be a function.');
  const { clock } = o;
  if (typeof clock !== 'object' || clock === null || (['monotonic', 'wall', 'setTimeout', 'clearTimeout'] as const).some((name) => typeof clock[name] !== 'function')) {
    throw new ConfigurationError('The clock option must have monotonic, wall, setTimeout and clearTimeout functions.');
  }
}
