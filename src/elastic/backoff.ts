import { ConfigurationError } from '../errors.js';

/**
 * Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly random time between 0 and
 * min(maxMs, baseMs · 2^(n-1)). Full jitter spreads the retries of many clients (and of our own concurrent chunks)
 * across the whole window, so they do not hit a recovering Elasticsearch in lockstep; a fixed floor ("equal
 * jitter") would only make every retry later.
 */

export interface BackoffOptions {
  /** The ceiling of the first retry's delay. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
  /** A number in [0, 1). Default Math.random; tests pass a fixed sequence. */
  random?: () => number;
}

/** Returns the delay before retry number `attempt` (1 for the first retry). */
export type Backoff = (attempt: number) => number;

/** 2^30 already exceeds any sane maxMs / baseMs ratio; the cap keeps the power finite. */
const MAX_DOUBLINGS = 30;

export function createBackoff(options: BackoffOptions): Backoff {
  const { baseMs, maxMs, random = Math.random } = options;
  if (!Number.isFinite(baseMs) || baseMs <= 0) throw new ConfigurationError('The baseMs option must be a positive number.');
  if (!Number.isFinite(maxMs) || maxMs < baseMs) throw new ConfigurationError('The maxMs option must be a number no smaller than baseMs.');
  if (typeof random !== 'function') throw new ConfigurationError('The random option must be a function.');
  return (attempt) => {
    const doublings = Math.min(MAX_DOUBLINGS, Math.max(0, Math.floor(attempt) - 1));
    const ceiling = Math.min(maxMs, baseMs * 2 ** doublings);
    return random() * ceiling;
  };
}
