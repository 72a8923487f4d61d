import { ConfigurationError } from '../errors.js';
import type { SessionStore } from './store.js';
import { capCount, delayFor, type ThrottlePolicy } from './throttle-policy.js';

export { delayFor, type ThrottlePolicy } from './throttle-policy.js';

/**
 * Login throttling with growing delays (ASVS 6.3.1 / 6.1.1; docs/security.md, Throttling), counted at four scopes:
 *
 * - device: an attempt that carries a valid device cookie for the account (device-cookies.ts) is judged in that
 *   device's bucket alone (OWASP Authentication Cheat Sheet, device cookies): what strangers do to the account
 *   or to an address never delays a device the user has logged in from. A device that fails repeatedly is itself
 *   delayed, up to 15 minutes.
 * - account + source: the strict one for unknown devices. Guessing one account from one address slows down fast
 *   and can wait up to 15 minutes.
 * - account: any source, unknown devices. It catches a distributed guess at one account, and is capped at one
 *   minute: what a stranger can make a user on a new device wait.
 * - source: any account, unknown devices. It catches password spraying and credential stuffing from one address.
 *
 * Every attempt is judged and counted in one store step before its password is verified (SessionStore
 * takeAttempt), so N parallel attempts count as N, in one process or many sharing a store; a success gives its
 * attempt back to the account and source counters and clears the account+source (or device) counter.
 */

export type ThrottleScope = 'device' | 'account_source' | 'account' | 'source';

const MINUTE = 60_000;
export const DEFAULT_THROTTLE_POLICIES: Record<ThrottleScope, ThrottlePolicy> = {
  device: { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
  account_source: { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
  account: { freeAttempts: 10, baseDelayMs: 1_000, maxDelayMs: MINUTE, windowMs: 15 * MINUTE },
  source: { freeAttempts: 30, baseDelayMs: 1_000, maxDelayMs: 15 * MINUTE, windowMs: 15 * MINUTE },
};

export interface ThrottleVerdict {
  scope: ThrottleScope;
  retryAfterMs: number;
  /** Attempts counted in that scope (including attempts under way). */
  failures: number;
}

/** Who an attempt is from: the account named (when the name is valid), the client address, a recognised device. */
export interface AttemptSubject {
  account: string | undefined;
  source: string;
  /** The device id of a valid device cookie for this account. */
  device?: string;
}

export interface ThrottleEscalation {
  /** Scopes this failure has just made start delaying (authn_login_lock). */
  locked: ThrottleVerdict[];
  /** Scopes whose delay this failure has just taken to its maximum (authn_login_fail_max). */
  maxed: ThrottleVerdict[];
}

/** An attempt the throttle let through; it is already counted. One of fail and succeed is called, and end last. */
export interface ThrottleTicket {
  /** The attempt failed: it stays counted. Says which scopes it escalated; no store call. */
  fail(): ThrottleEscalation;
  /**
   * The attempt succeeded: clears the device or account+source counter; returns the failures it held, less the
   * attempts of this process that were still under way when this one was counted (a double-clicked login is not a
   * failure). Attempts under way in other processes sharing the store cannot be told apart and count as failures.
   */
  succeed(): Promise<number>;
  /**
   * Called last whatever happened (in a finally): an attempt that ends in an error, with neither of the above, stays
   * counted as a failure does and is no longer under way. Idempotent; fail and succeed end the attempt too.
   */
  end(): void;
}

export type ThrottleDecision = { allowed: true; ticket: ThrottleTicket } | { allowed: false; verdict: ThrottleVerdict };

export interface LoginThrottle {
  /** Judges and counts one attempt in one store step. */
  attempt(subject: AttemptSubject): Promise<ThrottleDecision>;
}

export interface LoginThrottleOptions {
  store: SessionStore;
  policies?: Partial<Record<ThrottleScope, Partial<ThrottlePolicy>>>;
  now?: () => number;
}

/** The policies with `overrides` applied, each option checked once. */
export function resolvePolicies(overrides: LoginThrottleOptions['policies'] = {}): Record<ThrottleScope, ThrottlePolicy> {
  if (typeof overrides !== 'object' || overrides === null) throw new ConfigurationError('The throttle policies option must be an object.');
  for (const scope of Object.keys(overrides)) {
    if (!Object.hasOwn(DEFAULT_THROTTLE_POLICIES, scope)) throw new ConfigurationError(`The throttle has no scope "${scope}".`);
  }
  const policies = {} as Record<ThrottleScope, ThrottlePolicy>;
  for (const scope of Object.keys(DEFAULT_THROTTLE_POLICIES) as ThrottleScope[]) {
    const policy = { ...DEFAULT_THROTTLE_POLICIES[scope], ...overrides[scope] };
    for (const [name, value] of Object.entries(policy)) {
      if (!Number.isFinite(value) || value < 0) throw new ConfigurationError(`The throttle ${scope}.${name} option must be a finite, non-negative number.`);
    }
    if (policy.windowMs < policy.maxDelayMs) throw new ConfigurationError(`The throttle ${scope}.windowMs must be at least its maxDelayMs.`);
    policies[scope] = policy;
  }
  return policies;
}

/** The counters an attempt is judged against; the first is the one a success clears. */
function countersFor({ account, source, device }: AttemptSubject): Array<[ThrottleScope, string]> {
  if (device !== undefined && account !== undefined) return [['device', `dev:${device}`]];
  if (account === undefined) return [['source', `src:${source}`]];
  return [['account_source', `acctsrc:${account}\u0000${source}`], ['account', `acct:${account}`], ['source', `src:${source}`]];
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { store } = options;
  const now = options.now ?? Date.now;
  const policies = resolvePolicies(options.policies);
  const caps = Object.fromEntries(Object.entries(policies).map(([scope, policy]) => [scope, capCount(policy)])) as Record<ThrottleScope, number | undefined>;
  // The store counts attempts when they start, so its count for a key is failures plus attempts under way. This
  // process's own attempts under way, per first counter, are what succeed() takes off (kept here: the store
  // protocol has no notion of an attempt's end but a success).
  const underWay = new Map<string, number>();
  const leave = (key: string): void => {
    const left = (underWay.get(key) ?? 1) - 1;
    if (left > 0) underWay.set(key, left);
    else underWay.delete(key);
  };

  return {
    async attempt(subject) {
      const counters = countersFor(subject);
      const first = counters[0]![1];
      // Counted before the store call: attempts are sent to the store in this order.
      const alongside = underWay.get(first) ?? 0;
      underWay.set(first, alongside + 1);
      let result;
      try {
        result = await store.takeAttempt(counters.map(([scope, key]) => ({ key, policy: policies[scope] })), now());
      } catch (error) {
        leave(first);
        throw error;
      }
      if (!result.allowed) {
        leave(first);
        return { allowed: false, verdict: { scope: counters[result.index]![0], retryAfterMs: result.retryAfterMs, failures: result.count } };
      }
      const { counts } = result;
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        leave(first);
      };
      return {
        allowed: true,
        ticket: {
          end,
          fail() {
            end();
            const escalation: ThrottleEscalation = { locked: [], maxed: [] };
            counters.forEach(([scope], i) => {
              const count = counts[i]!;
              const verdict = { scope, retryAfterMs: delayFor(policies[scope], count), failures: count };
              if (count === policies[scope].freeAttempts + 1 && verdict.retryAfterMs > 0) escalation.locked.push(verdict);
              if (count === caps[scope]) escalation.maxed.push(verdict);
            });
            return escalation;
          },
          async succeed() {
            end();
            const rest = counters.slice(1).map(([, key]) => key);
            await Promise.all([store.clearFailures([first]), rest.length > 0 ? store.returnAttempt(rest) : undefined]);
            // This attempt was counted too, and so were those of this process under way when it was.
            return Math.max(0, counts[0]! - 1 - alongside);
          },
        },
      };
    },
  };
}
