import type { Context } from 'koa';
import { deviceLabel } from './device-label.js';
import type { SessionStore } from './store.js';

/**
 * "Last used" for the sessions list, kept coarse on purpose: at most one store write per session per `intervalMs`
 * in each instance (default one minute), sent in the background, so the per-request path neither waits for nor
 * fails on a write. A failed write only leaves the time a little older.
 */

export interface SessionActivityOptions {
  store: Pick<SessionStore, 'touchFamily'>;
  /** Least time between two writes for one session. */
  intervalMs: number;
  /** Sessions remembered; the oldest is forgotten first (and may then be written once more). Default 10 000. */
  maxEntries?: number;
  now: () => number;
}

export interface SessionActivity {
  /** Notes a use of the session by this request; `force` writes now (a login: address and device are new). */
  record(ctx: Context, sessionId: string, force?: boolean): void;
}

export function createSessionActivity(options: SessionActivityOptions): SessionActivity {
  const { store, intervalMs, now } = options;
  const maxEntries = options.maxEntries ?? 10_000;
  const written = new Map<string, number>();

  return {
    record(ctx, sessionId, force = false) {
      const at = now();
      const last = written.get(sessionId);
      if (!force && last !== undefined && at - last < intervalMs) return;
      // Re-inserted, so the map's order is the order of writes and the first key is the oldest.
      written.delete(sessionId);
      written.set(sessionId, at);
      if (written.size > maxEntries) written.delete(written.keys().next().value as string);
      store.touchFamily(sessionId, { at, sourceIp: ctx.ip, device: deviceLabel(ctx.get('user-agent')) }).catch(() => {
        // Best effort: the next use after the interval tries again (not sooner: a store that is down gets no more).
      });
    },
  };
}
