import { ConfigurationError } from '../errors.js';
import type { SessionStore } from './store.js';

/**
 * Failed-login throttling with growing delays (ASVS 6.3.1 / 6.1.1), counted at three scopes:
 *
 * - account + source: the strict one. Guessing one account from one address slows down fast and can wait up to
 *   15 minutes, but it never touches the real user, who logs in from somewhere else.
 * - account: any source. It catches a distributed guess at one account, and is deliberately capped at one
 *   minute: an attacker can make the victim wait at most that long, never lock them out.
 * - source: any account. It catches password spraying and credential stuffing from one address.
 *
 * A delay is "no attempt before lastFailure + delay"; delays double from `baseDelayMs` once `freeAttempts`
 * failures are counted within `windowMs`, and counters expire `windowMs` after the latest failure.
 */

export type ThrottleScope = 'account_source' | 'account' | 'source';

export interface ThrottlePolicy {
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE_POLICIES: Record<ThrottleScope, ThrottlePolicy> = {
  account_source: { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, windowMs: 15 * 60_000 },
  account: { freeAttempts: 10, baseDelayMs: 1_000, maxDelayMs: 60_000, windowMs: 15 * 60_000 },
  source: { freeAttempts: 30, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, windowMs: 15 * 60_000 },
};

export interface ThrottleVerdict {
  scope: ThrottleScope;
  retryAfterMs: number;
  failures: number;
}

export interface LoginThrottle {
  /** The longest wait any scope imposes now, or undefined when the attempt may proceed. */
  check(account: string | undefined, source: string): Promise<ThrottleVerdict | undefined>;
  /** Records a failure; returns the scopes that have just started delaying (for authn_login_lock events). */
  fail(account: string | undefined, source: string): Promise<ThrottleVerdict[]>;
  /** Clears the account+source counter after a success; returns how many failures it held. */
  succeed(account: string, source: string): Promise<number>;
}

export interface LoginThrottleOptions {
  store: SessionStore;
  policies?: Partial<Record<ThrottleScope, Partial<ThrottlePolicy>>>;
  now?: () => number;
}

export function delayFor(policy: ThrottlePolicy, failures: number): number {
  if (failures <= policy.freeAttempts) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, failures - policy.freeAttempts - 1));
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { store } = options;
  const now = options.now ?? Date.now;
  const policies = {} as Record<ThrottleScope, ThrottlePolicy>;
  for (const scope of Object.keys(DEFAULT_THROTTLE_POLICIES) as ThrottleScope[]) {
    const policy = { ...DEFAULT_THROTTLE_POLICIES[scope], ...options.policies?.[scope] };
    for (const [name, value] of Object.entries(policy)) {
      if (!Number.isFinite(value) || value < 0) throw new ConfigurationError(`The throttle ${scope}.${name} option must be a finite, non-negative number.`);
    }
    if (policy.windowMs < policy.maxDelayMs) throw new ConfigurationError(`The throttle ${scope}.windowMs must be at least its maxDelayMs.`);
    policies[scope] = policy;
  }

  const keysFor = (account: string | undefined, source: string): Array<[ThrottleScope, string]> => {
    const keys: Array<[ThrottleScope, string]> = [['source', `src:${source}`]];
    if (account !== undefined) keys.unshift(['account_source', `acctsrc:${account}\u0000${source}`], ['account', `acct:${account}`]);
    return keys;
  };

  return {
    async check(account, source) {
      const keys = keysFor(account, source);
      const t = now();
      const counts = await store.getFailures(keys.map(([, key]) => key), t);
      let verdict: ThrottleVerdict | undefined;
      keys.forEach(([scope], i) => {
        const entry = counts[i];
        if (!entry) return;
        const wait = entry.lastAt + delayFor(policies[scope], entry.count) - t;
        if (wait > 0 && (!verdict || wait > verdict.retryAfterMs)) verdict = { scope, retryAfterMs: wait, failures: entry.count };
      });
      return verdict;
    },

    async fail(account, source) {
      const keys = keysFor(account, source);
      // One window for all three keys keeps the store call single; it is the longest of the policies.
      const windowMs = Math.max(...keys.map(([scope]) => policies[scope].windowMs));
      const counts = await store.recordFailures(keys.map(([, key]) => key), windowMs, now());
      const locks: ThrottleVerdict[] = [];
      keys.forEach(([scope], i) => {
        const count = counts[i]!.count;
        if (count === policies[scope].freeAttempts + 1) locks.push({ scope, retryAfterMs: delayFor(policies[scope], count), failures: count });
      });
      return locks;
    },

    async succeed(account, source) {
      const [, key] = keysFor(account, source)[0]!;
      const [entry] = await store.getFailures([key], now());
      await store.clearFailures([key]);
      return entry?.count ?? 0;
    },
  };
}
