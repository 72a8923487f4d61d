import { delayFor, type ThrottlePolicy } from './throttle-policy.js';

/**
 * Server-side session state behind one interface (docs/architecture.md): refresh families, revocation, per-user
 * not-before times and failed-login counters. Memory is the default; a shared store (Redis) makes several
 * instances agree. Every method may reject: callers fail closed with `store_unavailable`.
 */

export interface SessionFamily {
  id: string;
  userId: string;
  userName: string;
  roles: string[];
  createdAt: number;
  lastRotatedAt: number;
  /** The jti of the one refresh token that may be used next. */
  currentJti: string;
  /** The jti it replaced, accepted as a harmless race only within the grace window. */
  previousJti: string | null;
  revoked: boolean;
  /** Absolute timeout: no refresh after this time (ms since epoch). */
  absoluteExpiresAt: number;
  /** When the session was last seen in use (ms since epoch); coarse, see SessionStore.touchFamily. */
  lastUsedAt?: number;
  /** The client address of that use. */
  sourceIp?: string;
  /** A short label of the device of that use (browser and OS, from the User-Agent). */
  device?: string;
}

/** One use of a session, as the sessions list shows it (ASVS 7.5.2). */
export interface SessionActivity {
  /** When (ms since epoch). */
  at: number;
  sourceIp?: string;
  device?: string;
}

export interface ListFamiliesOptions {
  now: number;
  /** A family unused (not rotated) this long is over, as rotateFamily judges it. */
  idleTtlMs: number;
}

export type RotateResult =
  | { status: 'rotated'; family: SessionFamily }
  /** A rotated token came back outside the grace window: the family is now revoked (RFC 9700 §4.14.2). */
  | { status: 'reused'; family: SessionFamily }
  /** The token was rotated moments ago by a concurrent request: refuse without revoking. */
  | { status: 'conflict'; family: SessionFamily }
  | { status: 'expired'; reason: 'idle' | 'absolute'; family: SessionFamily }
  | { status: 'revoked'; family: SessionFamily }
  | { status: 'missing' };

export interface RotateOptions {
  now: number;
  graceMs: number;
  idleTtlMs: number;
}

/** One counter a login attempt is judged against: its key and the policy that turns its count into a delay. */
export interface AttemptCounter {
  key: string;
  policy: ThrottlePolicy;
}

export type AttemptResult =
  /** No counter was delaying: each now counts this attempt; `counts` are their values after it, in order. */
  | { allowed: true; counts: number[] }
  /** A counter's delay still runs: nothing was recorded. The longest wait, the counter that imposes it, its count. */
  | { allowed: false; index: number; count: number; retryAfterMs: number };

export interface FailureCount {
  count: number;
  /** When the latest attempt was counted (ms since epoch). */
  lastAt: number;
}

export interface SessionStore {
  createFamily(family: SessionFamily): Promise<void>;
  /** Atomically swaps `presentedJti` for `nextJti` if it is the current one; see RotateResult for the rest. */
  rotateFamily(id: string, presentedJti: string, nextJti: string, options: RotateOptions): Promise<RotateResult>;
  /** Marks one family revoked; returns it, or undefined if unknown. */
  revokeFamily(id: string): Promise<SessionFamily | undefined>;
  /** Revokes every family of a user and sets their not-before time; returns how many were live. */
  revokeUser(userId: string, notBeforeSec: number): Promise<number>;
  /**
   * The global cut-off: every family created up to `cutoffMs` (ms since epoch) is revoked, whoever it belongs to,
   * and with it every token it issued. Sessions started later are untouched. Never moves back.
   */
  revokeAll(cutoffMs: number): Promise<void>;
  /** The user's live families (not revoked, not past their idle or absolute timeout, not cut off), oldest first. */
  listFamilies(userId: string, options: ListFamiliesOptions): Promise<SessionFamily[]>;
  /**
   * Records a use of a live family (last used, address, device); a time older than the recorded one is ignored.
   * Callers keep it coarse (the session kit writes at most once a minute per session and instance), so the
   * per-request path stays free of writes.
   */
  touchFamily(id: string, activity: SessionActivity): Promise<void>;
  /**
   * True when the session exists, is not revoked, and the token was issued after the user's not-before time.
   * On every authenticated request, so a store may answer synchronously: the memory store does, sparing the hot
   * path a promise and a microtask per request.
   */
  isSessionActive(sessionId: string, userId: string, issuedAtSec: number): boolean | Promise<boolean>;
  /**
   * Judges a login attempt and counts it, atomically (one step for every counter, on every instance): when any
   * counter's delay (throttle-policy.ts) still runs at `now`, nothing is recorded and the longest wait comes
   * back; otherwise one attempt is added to each counter, kept for its policy's `windowMs` after this attempt.
   * So N parallel attempts count as N: none is judged before the ones already under way are counted.
   */
  takeAttempt(counters: readonly AttemptCounter[], now: number): Promise<AttemptResult>;
  /** Takes one attempt back from each key (the attempt succeeded); a counter that reaches zero is gone. */
  returnAttempt(keys: readonly string[]): Promise<void>;
  getFailures(keys: readonly string[], now: number): Promise<Array<FailureCount | undefined>>;
  clearFailures(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface MemoryStoreOptions {
  /** How often expired entries are swept. Default 60 s. */
  sweepIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The in-process store: right for one instance; state dies with the process (tokens then fail closed). */
export function createMemoryStore(options: MemoryStoreOptions = {}): SessionStore {
  const now = options.now ?? Date.now;
  const families = new Map<string, SessionFamily>();
  const familiesByUser = new Map<string, Set<string>>();
  const notBefore = new Map<string, number>();
  let cutoffMs = 0;
  const failures = new Map<string, FailureCount & { expiresAt: number }>();
  let maxAbsoluteTtlMs = 0;

  const sweep = (): void => {
    const t = now();
    for (const [id, family] of families) {
      if (family.absoluteExpiresAt < t) {
        families.delete(id);
        familiesByUser.get(family.userId)?.delete(id);
      }
    }
    for (const [userId, ids] of familiesByUser) if (ids.size === 0) familiesByUser.delete(userId);
    // A not-before time only matters while tokens issued before it could still be alive.
    for (const [userId, nbf] of notBefore) if (nbf * 1000 + maxAbsoluteTtlMs < t) notBefore.delete(userId);
    for (const [key, entry] of failures) if (entry.expiresAt < t) failures.delete(key);
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  timer.unref();

  const liveFailure = (key: string, t: number): (FailureCount & { expiresAt: number }) | undefined => {
    const entry = failures.get(key);
    if (entry && entry.expiresAt < t) {
      failures.delete(key);
      return undefined;
    }
    return entry;
  };

  return {
    async createFamily(family) {
      families.set(family.id, { ...family });
      maxAbsoluteTtlMs = Math.max(maxAbsoluteTtlMs, family.absoluteExpiresAt - family.createdAt);
      let ids = familiesByUser.get(family.userId);
      if (!ids) familiesByUser.set(family.userId, (ids = new Set()));
      ids.add(family.id);
    },

    async rotateFamily(id, presentedJti, nextJti, { now: t, graceMs, idleTtlMs }) {
      // Runs without an await between read and write, so it is atomic within this process.
      const family = families.get(id);
      if (!family) return { status: 'missing' };
      if (family.createdAt <= cutoffMs) family.revoked = true;
      if (family.revoked) return { status: 'revoked', family: { ...family } };
      if (presentedJti === family.currentJti) {
        if (t >= family.absoluteExpiresAt) return { status: 'expired', reason: 'absolute', family: { ...family } };
        if (t - family.lastRotatedAt >= idleTtlMs) return { status: 'expired', reason: 'idle', family: { ...family } };
        family.previousJti = family.currentJti;
        family.currentJti = nextJti;
        family.lastRotatedAt = t;
        return { status: 'rotated', family: { ...family } };
      }
      if (presentedJti === family.previousJti && t - family.lastRotatedAt <= graceMs) {
        return { status: 'conflict', family: { ...family } };
      }
      family.revoked = true;
      return { status: 'reused', family: { ...family } };
    },

    async revokeFamily(id) {
      const family = families.get(id);
      if (!family) return undefined;
      family.revoked = true;
      return { ...family };
    },

    async revokeUser(userId, notBeforeSec) {
      notBefore.set(userId, Math.max(notBefore.get(userId) ?? 0, notBeforeSec));
      let live = 0;
      for (const id of familiesByUser.get(userId) ?? []) {
        const family = families.get(id);
        if (family && !family.revoked) {
          family.revoked = true;
          live += 1;
        }
      }
      return live;
    },

    async revokeAll(at) {
      cutoffMs = Math.max(cutoffMs, at);
      for (const family of families.values()) if (family.createdAt <= cutoffMs) family.revoked = true;
    },

    async listFamilies(userId, { now: t, idleTtlMs }) {
      const live: SessionFamily[] = [];
      for (const id of familiesByUser.get(userId) ?? []) {
        const family = families.get(id);
        if (family && isLive(family, t, idleTtlMs, cutoffMs)) live.push({ ...family });
      }
      return live.sort(byCreation);
    },

    async touchFamily(id, { at, sourceIp, device }) {
      const family = families.get(id);
      if (!family || family.revoked || (family.lastUsedAt ?? 0) > at) return;
      family.lastUsedAt = at;
      if (sourceIp !== undefined) family.sourceIp = sourceIp;
      if (device !== undefined) family.device = device;
    },

    isSessionActive(sessionId, userId, issuedAtSec) {
      const family = families.get(sessionId);
      if (!family || family.revoked || family.userId !== userId) return false;
      return issuedAtSec >= (notBefore.get(userId) ?? 0);
    },

    async takeAttempt(counters, t) {
      // No await between the judgement and the counting: atomic within this process, as the Redis script is across.
      const entries = counters.map(({ key }) => liveFailure(key, t));
      let refused: Extract<AttemptResult, { allowed: false }> | undefined;
      for (const [index, { policy }] of counters.entries()) {
        const entry = entries[index];
        const retryAfterMs = entry ? entry.lastAt + delayFor(policy, entry.count) - t : 0;
        if (entry && retryAfterMs > 0 && (!refused || retryAfterMs > refused.retryAfterMs)) refused = { allowed: false, index, count: entry.count, retryAfterMs };
      }
      if (refused) return refused;
      return {
        allowed: true,
        counts: counters.map(({ key, policy }, index) => {
          const entry = entries[index] ?? { count: 0, lastAt: t, expiresAt: 0 };
          entry.count += 1;
          entry.lastAt = t;
          entry.expiresAt = t + policy.windowMs;
          failures.set(key, entry);
          return entry.count;
        }),
      };
    },

    async returnAttempt(keys) {
      for (const key of keys) {
        const entry = failures.get(key);
        if (!entry) continue;
        entry.count -= 1;
        if (entry.count <= 0) failures.delete(key);
      }
    },

    async getFailures(keys, t) {
      return keys.map((key) => {
        const entry = liveFailure(key, t);
        return entry ? { count: entry.count, lastAt: entry.lastAt } : undefined;
      });
    },

    async clearFailures(keys) {
      for (const key of keys) failures.delete(key);
    },

    async close() {
      clearInterval(timer);
    },
  };
}

/** Whether a family still counts as a session at `now`: the same rules as rotateFamily's, plus the global cut-off. */
export function isLive(family: SessionFamily, now: number, idleTtlMs: number, cutoffMs = 0): boolean {
  return !family.revoked && now < family.absoluteExpiresAt && now - family.lastRotatedAt < idleTtlMs && (cutoffMs === 0 || family.createdAt > cutoffMs);
}

/** Oldest first; the id breaks ties, so every store lists in the same order. */
export function byCreation(a: SessionFamily, b: SessionFamily): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
