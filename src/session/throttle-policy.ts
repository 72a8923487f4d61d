/**
 * How a count of login attempts turns into a wait: the one rule the throttle, the memory store and the Redis
 * script (redis-scripts.ts, sentinelTakeAttempt, which must stay in step with `delayFor`) all apply.
 *
 * A delay is "no attempt before lastAt + delay"; delays double from `baseDelayMs` once more than `freeAttempts`
 * are counted within `windowMs`, up to `maxDelayMs`, and a counter expires `windowMs` after its latest attempt.
 */

export interface ThrottlePolicy {
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
}

export function delayFor(policy: ThrottlePolicy, count: number): number {
  if (count <= policy.freeAttempts) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, count - policy.freeAttempts - 1));
}

/** The count at which the delay first reaches `maxDelayMs` (authn_login_fail_max), or undefined if it never delays. */
export function capCount(policy: ThrottlePolicy): number | undefined {
  if (policy.maxDelayMs <= 0 || policy.baseDelayMs <= 0) return undefined;
  let count = policy.freeAttempts + 1;
  // At most 31 doublings (delayFor's exponent stops at 30).
  while (delayFor(policy, count) < policy.maxDelayMs && count <= policy.freeAttempts + 31) count += 1;
  return delayFor(policy, count) >= policy.maxDelayMs ? count : undefined;
}
