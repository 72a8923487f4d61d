import type { Redis } from 'ioredis';
import { ConfigurationError } from '../../errors.js';
import type { SessionCache } from '../session-cache.js';

/**
 * Revocation notices on Redis pub/sub. The scripts that revoke PUBLISH a notice (sessionNotice, userNotice) from
 * inside Redis; every instance's listener drops the matching local cache entries at once.
 *
 * Notices are best effort: one sent while a listener is disconnected is lost for good. So the listener is `live`
 * only while subscribed, the cache is emptied whenever the subscription drops and again once it is back, and the
 * store keeps its cache off while the listener is not live. The cache TTL alone bounds staleness then.
 */

export interface InvalidationListenerOptions {
  /** The store's command connection; the listener runs on a duplicate, as a subscribed connection runs nothing else. */
  client: Redis;
  /** The channel the scripts publish on. */
  channel: string;
  /** What a notice invalidates: the local session cache. */
  target: Pick<SessionCache, 'invalidateSession' | 'invalidateUser' | 'clear'>;
  /** Told whenever `live` changes (the store's ready() waits for it). */
  onChange?: () => void;
  /** Name of the listener's connection in CLIENT LIST. Default 'koa-sentinel-invalidation'. */
  connectionName?: string;
}

export const INVALIDATION_DEFAULTS = {
  connectionName: 'koa-sentinel-invalidation',
};

export interface InvalidationListener {
  /** Subscribed: notices arrive. */
  readonly live: boolean;
  /** Disconnects the listener's connection. Idempotent. */
  close(): void;
}

/** The notice that drops one session (a family), sent by the rotation and revocation scripts. */
export const sessionNotice = (sessionId: string): string => `s:${sessionId}`;
/** The notice that drops every session of a user, sent by revokeUser's script. */
export const userNotice = (userId: string): string => `u:${userId}`;
/** The notice of the global cut-off (revokeAll): every cached answer goes. */
export const everyoneNotice = 'a:';

export function createInvalidationListener(options: InvalidationListenerOptions): InvalidationListener {
  const { client, channel, target, onChange } = options;
  const connectionName = options.connectionName ?? INVALIDATION_DEFAULTS.connectionName;
  if (typeof channel !== 'string' || channel === '') throw new ConfigurationError('The channel option must be a non-empty string.');
  if (onChange !== undefined && typeof onChange !== 'function') throw new ConfigurationError('The onChange option must be a function.');

  // Our own resubscription below: ioredis' would resubscribe without telling us, and the cache must be emptied
  // between the reconnection and the subscription, since notices sent meanwhile are lost.
  const subscriber = client.duplicate({ autoResubscribe: false, connectionName });
  let live = false;
  let closed = false;
  const setLive = (next: boolean): void => {
    if (live === next) return;
    live = next;
    onChange?.();
  };

  subscriber.on('error', () => {
    // Reported through the command connection; the listener only turns the cache off while it is down.
  });
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => {
      if (closed) return;
      // Notices sent while we were not listening are lost: start from an empty cache.
      target.clear();
      setLive(true);
    }, () => {
      // Not subscribed on a live connection: drop it, and ioredis reconnects and we try again on 'ready'.
      if (!closed) subscriber.disconnect(true);
    });
  });
  subscriber.on('close', () => {
    target.clear();
    setLive(false);
  });
  subscriber.on('message', (_channel: string, message: string) => {
    if (message.startsWith('s:')) target.invalidateSession(message.slice(2));
    else if (message.startsWith('u:')) target.invalidateUser(message.slice(2));
    else if (message === everyoneNotice) target.clear();
    // Unknown to this version (a newer instance's notice): the safe reading is "everything may be stale".
    else target.clear();
  });

  return {
    get live() {
      return live;
    },
    close() {
      if (closed) return;
      closed = true;
      live = false;
      subscriber.disconnect();
    },
  };
}
