import { Redis, type RedisOptions } from 'ioredis';
import { ConfigurationError } from '../../errors.js';

/**
 * The ioredis client of the Redis store: built from a URL with options that fail fast and reconnect forever, or
 * given by the caller, who owns it (and is warned when it would queue commands during an outage).
 */

export interface RedisClientOptions {
  /** A `redis://` or `rediss://` URL (REDIS_URL). Exactly one of `url` and `client`. */
  url?: string;
  /**
   * An ioredis client you built and own: close() leaves it open. Give it the same care as the defaults below
   * (commandTimeout, enableOfflineQueue: false): without them a Redis outage piles commands up in the client
   * (each call still fails after commandTimeoutMs), and a warning says so.
   */
  client?: Redis;
  /** Connecting fails after this long. Default 1000 ms. */
  connectTimeoutMs?: number;
  /**
   * How many reconnections a command in flight waits for before failing. Default 0: a command whose connection
   * drops fails at once, because its reply is lost and it may or may not have run; the client decides.
   */
  maxRetriesPerRequest?: number;
  /** Reconnection back-off doubles from 50 ms up to this. Default 1000 ms: service is back within ~1 s of Redis. */
  maxReconnectDelayMs?: number;
}

export const CLIENT_DEFAULTS = {
  connectTimeoutMs: 1000,
  maxRetriesPerRequest: 0,
  maxReconnectDelayMs: 1000,
};

/** `commandTimeoutMs` is the connection's (its own guard uses it too); ioredis then drops a late command as well. */
export function openRedisClient(options: RedisClientOptions, commandTimeoutMs: number): { client: Redis; owned: boolean } {
  const o = {
    ...CLIENT_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as typeof CLIENT_DEFAULTS & RedisClientOptions;
  validate(o);
  if (o.client !== undefined) {
    warnAboutClient(o.client);
    return { client: o.client, owned: false };
  }
  return { client: new Redis(o.url!, clientOptions(o, commandTimeoutMs)), owned: true };
}

function validate(o: typeof CLIENT_DEFAULTS & RedisClientOptions): void {
  if ((o.url === undefined) === (o.client === undefined)) throw new ConfigurationError('Give the Redis store exactly one of the url and client options.');
  if (o.url !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(o.url).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigurationError('The url option must be a redis:// or rediss:// URL.');
  }
  if (o.client !== undefined && typeof (o.client as { defineCommand?: unknown }).defineCommand !== 'function') {
    throw new ConfigurationError('The client option must be an ioredis client (new Redis(...)).');
  }
  for (const name of ['connectTimeoutMs', 'maxReconnectDelayMs'] as const) {
    if (!Number.isFinite(o[name]) || o[name] <= 0) throw new ConfigurationError(`The ${name} option must be a finite, positive number.`);
  }
  if (!Number.isInteger(o.maxRetriesPerRequest) || o.maxRetriesPerRequest < 0) throw new ConfigurationError('The maxRetriesPerRequest option must be a non-negative integer.');
}

function clientOptions(o: typeof CLIENT_DEFAULTS, commandTimeoutMs: number): RedisOptions {
  return {
    connectionName: 'koa-sentinel',
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: o.maxRetriesPerRequest,
    // Fail fast while disconnected: a queued session check would only answer after its request timed out.
    enableOfflineQueue: false,
    // A command whose reply was lost may have run; resending a rotation would turn its winner into a conflict.
    autoResendUnfulfilledCommands: false,
    // Reconnect forever with a capped back-off: the store recovers by itself when Redis is back.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), o.maxReconnectDelayMs),
    // After a failover the old primary answers READONLY: reconnect, and let DNS or Sentinel lead to the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

function warnAboutClient(client: Redis): void {
  const { enableOfflineQueue, commandTimeout } = client.options;
  if (enableOfflineQueue !== false || commandTimeout === undefined) {
    process.emitWarning('The Redis client given to createRedisStore has an offline queue or no commandTimeout: during an outage commands pile up in the client (each call still fails after commandTimeoutMs).', { code: 'SENTINEL_REDIS_UNBOUNDED' });
  }
}
